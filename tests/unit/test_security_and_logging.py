"""API keys (hashed), the local-only rule, the PII redactor and the traffic log."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from tuneforge.config import ServeConfig
from tuneforge.monitor.redact import redact
from tuneforge.monitor.traffic_log import TrafficLog, read_traffic
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.run import key_store_for


def test_keys_are_stored_hashed_and_revocable(tmp_path):
    store = KeyStore(tmp_path / "keys.db")
    key, record = store.create("billing")
    assert key.startswith("tf-") and store.verify(key) and not store.verify(key + "x")
    raw = sqlite3.connect(tmp_path / "keys.db").execute("SELECT * FROM api_keys").fetchall()
    assert key not in repr(raw) and hashlib.sha256(key.encode()).hexdigest() in repr(raw)
    store.revoke("billing")
    assert not store.verify(key) and store.active_count() == 0
    with pytest.raises(LookupError, match="no active API key"):
        store.revoke("billing")
    # A name two active keys share is ambiguous: nothing is revoked until the caller names one by id.
    first, a = store.create("ops")
    second, b = store.create("ops")
    with pytest.raises(LookupError, match="matches 2 active keys"):
        store.revoke("ops")
    assert store.verify(first) and store.verify(second)
    store.revoke(str(a.id))
    assert not store.verify(first) and store.verify(second)


def test_a_chunked_body_is_measured_in_full_against_the_limit():
    """Without Content-Length the body arrives in chunks: their sum, not each chunk, is held to the limit."""
    import asyncio

    from tuneforge.serve.security import BodySizeLimit

    async def echo_app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def status(chunks: int) -> int:
        sent, pending = [], [{"type": "http.request", "body": b"x" * 400, "more_body": k < chunks - 1}
                             for k in range(chunks)]

        async def receive():
            return pending.pop(0)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": "/v1/chat/completions", "headers": []}
        asyncio.run(BodySizeLimit(echo_app, 1000)(scope, receive, send))
        return sent[0]["status"]

    assert status(2) == 200 and status(3) == 413


def test_local_only_needs_loopback_and_keys_are_otherwise_required():
    assert key_store_for(ServeConfig(local_only=True, host="127.0.0.1")) is None
    with pytest.raises(ValueError, match="loopback"):
        key_store_for(ServeConfig(local_only=True, host="0.0.0.0"))
    with pytest.raises(ValueError, match="no API keys exist"):
        key_store_for(ServeConfig(host="127.0.0.1"))
    KeyStore().create("app")
    assert key_store_for(ServeConfig(host="0.0.0.0")) is not None


@pytest.mark.parametrize("text,expected", [
    ("write to anna.schmidt@example.de today", "write to [EMAIL] today"),
    ("call +49 30 1234567 or 030 12345678.", "call [PHONE] or [PHONE]."),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
    ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
])
def test_redactor_replaces_personal_data(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["Invoice INV-2024-0042 total 119.00 EUR on 12.03.2024",
                                  "4111 1111 1111 1112", "qty 12, order 2024-118"])
def test_redactor_leaves_business_data_alone(text):
    assert redact(text) == text


def test_iban_needs_a_valid_checksum():
    assert "[IBAN]" not in redact("DE89 3704 0044 0532 0130 01")


def test_traffic_log_records_and_redacts(tmp_path):
    log = TrafficLog(tmp_path / "t.db", redact_pii=True)
    log.record(endpoint="chat.completion", model="m", variant="m:1", status=200, latency_ms=12.5, prompt_tokens=3,
               completion_tokens=4, request={"messages": [{"content": "bob@example.org"}]}, response=["ok"])
    log.close()
    (row,) = read_traffic(tmp_path / "t.db")
    assert row["variant"] == "m:1" and row["completion_tokens"] == 4 and row["redacted"] == 1
    assert "[EMAIL]" in row["request_json"] and "bob@" not in row["request_json"]
    with pytest.raises(TypeError, match="unknown fields"):
        TrafficLog(tmp_path / "u.db").record(endpoint="x", status=200, bogus=1)
