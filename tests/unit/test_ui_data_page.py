"""The Data page at the HTTP level, as a browser drives it: upload a spreadsheet with planted problems, see each
finding with its line and field, apply the one-click fixes, see the verdict and the estimate, save a version, and
find it listed with a link to train on it. Another key sees none of it."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from ui_app import PLANTED, invoice_csv, login, ui_client


@pytest.fixture
def ui(tiny_model_dir):
    with ui_client([str(tiny_model_dir)]) as (client, keys, _):
        yield client, keys


def _upload(client) -> str:
    response = client.post("/ui/data/upload", files={"file": ("invoices.csv", invoice_csv(PLANTED), "text/csv")},
                           follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"]


def _rows(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]


def test_upload_shows_findings_fixes_verdict_and_estimate_then_saves_a_version(ui):
    client, keys = ui
    login(client, keys.create("alice")[0])
    page = client.get(_upload(client))
    assert page.status_code == 200
    rows = _rows(page.text)
    assert any(r.startswith("2, 17 description Exact duplicates") for r in rows), rows
    assert any(r.startswith("12, 18 category Contradictions") for r in rows)
    assert any(r.startswith("19 description Personal data") for r in rows)
    assert "jane.doe@example.com" not in page.text
    assert 'selected>description</option>' in page.text and 'selected>category</option>' in page.text
    for text in ("Drop duplicates</button>", "Redact PII</button>", "Use this answer for lines 12, 18</button>",
                 "Verdict: try prompting first", "Training time", "Peak memory", "Save dataset version</button>"):
        assert text in page.text, text
    file_id = re.search(r'name="file_id" value="([^"]+)"', page.text).group(1)

    # One click: the duplicates go; the next click keeps it and resolves the contradiction with "hardware".
    state = {"file_id": file_id, "input_column": "description", "output_column": "category"}
    page = client.get("/ui/data?" + urlencode({**state, "fix": "drop_duplicates"}))
    assert "Exact duplicates" not in page.text and "Contradictions" in page.text
    assert "<li>Drop duplicates</li>" in page.text and "Drop duplicates</button>" not in page.text
    query = {**state, "drop_duplicates": "1", "resolve": "12-18", "answer-12-18": "hardware"}
    page = client.get("/ui/data?" + urlencode(query))
    assert "Contradictions" not in page.text and "lines 12, 18 → hardware" in page.text
    relabel = re.search(r'name="relabel" value="([^"]+)"', page.text).group(1).replace("&#34;", '"')

    saved = client.post("/ui/data/save", data={**state, "drop_duplicates": "1", "relabel": relabel,
                                                "name": "invoices"}, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    version = re.search(r"Saved (invoices@[0-9a-f]{12})", page.text).group(1)
    [row] = [r for r in _rows(page.text) if r.startswith(version)]
    assert row.split()[1] == "16" and "Train on it" in row  # 18 rows - the copy - line 18 (now a copy of 12)
    assert "/ui/train?training_file=file-" in page.text


def test_another_key_sees_no_file_and_no_dataset(ui):
    client, keys = ui
    login(client, keys.create("alice")[0])
    location = _upload(client)
    client.post("/ui/data/save", data={"file_id": location.split("=")[1], "input_column": "description",
                                       "output_column": "category", "name": "invoices"})
    assert "invoices@" in client.get("/ui/data").text
    client.cookies.clear()
    login(client, keys.create("bob")[0])
    assert "invoices@" not in client.get("/ui/data").text
    page = client.get(location)
    assert page.status_code == 404 and "adobe" not in page.text and "Findings" not in page.text


def test_upload_form_takes_files_as_large_as_the_files_api_does(ui):
    client, keys = ui
    login(client, keys.create("alice")[0])
    big = invoice_csv([(f"office chair model {i:07d}", "hardware") for i in range(40_000)])
    assert 1_000_000 < len(big) < 2_000_000  # over the server's request limit, under its upload limit
    response = client.post("/ui/data/upload", files={"file": ("big.csv", big, "text/csv")}, follow_redirects=False)
    assert response.status_code == 303 and "file_id=file-" in response.headers["location"]


def test_several_input_columns_make_one_input(ui):
    client, keys = ui
    login(client, keys.create("alice")[0])
    data = b"supplier,description,account\n" + b"".join(
        f"acme {i % 3},{t},{c}\n".encode() for i, (t, c) in enumerate(PLANTED * 4))
    location = client.post("/ui/data/upload", files={"file": ("lines.csv", data, "text/csv")},
                           follow_redirects=False).headers["location"]
    file_id = location.split("=")[1]
    query = urlencode([("file_id", file_id), ("input_column", "supplier"), ("input_column", "description"),
                       ("output_column", "account")])
    page = client.get(f"/ui/data?{query}").text
    assert "selected>supplier</option>" in page and "selected>description</option>" in page
    assert "selected>account</option>" in page and "12 valid examples" in page
    assert 'name="input_column" value="supplier,description"' in page  # the save form keeps both
