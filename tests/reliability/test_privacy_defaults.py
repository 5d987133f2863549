"""Issue 12 defect 8: traffic is stored redacted unless the operator opts out, and national phone formats such
as (415) 555-0132 are recognised (libphonenumber's plans, not another hand-written pattern)."""

from __future__ import annotations

import json

import pytest

from tuneforge.config import ServeConfig
from tuneforge.data import pii
from tuneforge.monitor.redact import redact
from tuneforge.monitor.traffic_log import TrafficLog, read_traffic

REQUEST = {"messages": [{"role": "user", "content": "call me at (415) 555-0132 or mail ann@example.com"}]}


def test_traffic_is_redacted_by_default(tmp_path):
    log = TrafficLog(tmp_path / "t.db")
    log.record(endpoint="/v1/chat/completions", status=200, request=REQUEST, response={"text": "ok"})
    log.close()
    (row,) = read_traffic(tmp_path / "t.db")
    stored = json.loads(row["request_json"])["messages"][0]["content"]
    assert stored == "call me at [PHONE] or mail [EMAIL]" and row["redacted"] == 1


def test_opting_out_is_explicit_and_recorded(tmp_path):
    assert ServeConfig().redact_pii is True
    log = TrafficLog(tmp_path / "t.db", redact_pii=False)
    log.record(endpoint="/v1/chat/completions", status=200, request=REQUEST)
    log.close()
    (row,) = read_traffic(tmp_path / "t.db")
    assert "(415) 555-0132" in row["request_json"] and row["redacted"] == 0


def test_the_serve_command_offers_the_opt_out_flag():
    from typer.testing import CliRunner

    from tuneforge.cli.main import app

    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--no-redact-pii" in out


@pytest.mark.parametrize("text,expected", [
    ("call (415) 555-0132 today", "call [PHONE] today"),
    ("UK office 020 7946 0958", "UK office [PHONE]"),
    ("mobiel 06-48213377", "mobiel [PHONE]"),
    ("reach us on +1 415 555 0132", "reach us on [PHONE]"),
    ("phone: 415-555-0132", "phone: [PHONE]"),
])
def test_national_phone_formats_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "Google Ads customer 512-778-2041, EUR 1,240.17",  # an account id in the shape of a US number
    "period 01/05-31/05",
    "ticket 074-2381190455",
])
def test_account_numbers_and_dates_are_not_phones(text):
    assert [m for m in pii.find_pii(text) if m.kind == "phone"] == []
