"""The data workbench over HTTP (/v1/datasets), as the web app and any client use it: findings with line, field
and fix for a spreadsheet with planted problems; the fixes remove exactly those; the saved version is immutable,
is a training file the OpenAI jobs API accepts, and holds the fixed rows; owners are isolated (404)."""

from __future__ import annotations

import json

import pytest
from ui_app import PLANTED, invoice_csv, ui_client

from tuneforge.config import TrainConfig
from tuneforge.data.formats import load_from_options
from tuneforge.data.split import split_examples
from tuneforge.data.versions import resolve_data_path

COLUMNS = {"input_column": "description", "output_column": "category"}
FIXES = {"drop_duplicates": True, "redact_pii": True, "relabel": [{"lines": [18], "answer": "hardware"}]}


@pytest.fixture
def api(tiny_model_dir):
    with ui_client([str(tiny_model_dir)]) as (client, keys, service):
        keys_by_name = {name: keys.create(name, admin=name == "admin")[0] for name in ("alice", "bob", "admin")}
        yield client, {name: {"Authorization": f"Bearer {k}"} for name, k in keys_by_name.items()}


def upload(client, headers, data: bytes, name: str = "invoices.csv") -> str:
    response = client.post("/v1/files", headers=headers, files={"file": (name, data, "text/csv")},
                           data={"purpose": "fine-tune"})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def by_step(check: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in check["findings"]:
        out.setdefault(f["step"], []).append(f)
    return out


def test_check_names_each_planted_problem_with_line_field_and_fix(api):
    client, keys = api
    file_id = upload(client, keys["alice"], invoice_csv(PLANTED))
    # Default columns: the header is listed so a person can choose, and the missing column is named.
    first = client.post("/v1/datasets/check", headers=keys["alice"], json={"file_id": file_id}).json()
    assert first["columns"] == ["description", "category"]
    assert any(f["field"] == "input" and "not in header" in f["message"] and f["fix"] is None
               for f in first["findings"])
    assert first["readiness"]["verdict"] == "fix the data first"

    check = client.post("/v1/datasets/check", headers=keys["alice"], json={"file_id": file_id, **COLUMNS}).json()
    assert (check["rows"], check["examples"], check["format"]) == (18, 18, "csv")
    found = by_step(check)
    [dup] = found["exact_duplicates"]
    assert (dup["lines"], dup["field"], dup["fix"]) == ([2, 17], "description", "drop_duplicates")
    [contra] = found["contradictions"]
    assert (contra["lines"], contra["field"], contra["fix"]) == ([12, 18], "category", "relabel")
    assert contra["answers"] == ["hardware", "software"]
    [pii] = found["pii"]
    assert (pii["line"], pii["field"], pii["fix"]) == (19, "description", "redact_pii")
    assert "jane.doe@example.com" not in json.dumps(check)  # the finding masks what it found
    assert check["readiness"]["verdict"] in ("fine-tune", "collect more data", "try prompting first")
    assert check["readiness"]["reasons"]
    assert check["estimate"]["train_tokens"] > 0 and check["estimate"]["duration"]
    # The estimate is of the job the Train page starts by default, whose kind of model is chosen from the data:
    # on these labels, a classification head (the page's "Chosen from the data"), not a text generator.
    assert check["estimate"]["method"].endswith("classification head")


def test_fixes_remove_the_findings_and_the_saved_version_trains(api, tiny_model_dir):
    client, keys = api
    file_id = upload(client, keys["alice"], invoice_csv(PLANTED))
    body = {"file_id": file_id, **COLUMNS, "fixes": FIXES}
    fixed = by_step(client.post("/v1/datasets/check", headers=keys["alice"], json=body).json())
    assert not fixed.get("exact_duplicates") and not fixed.get("contradictions") and not fixed.get("pii")

    response = client.post("/v1/datasets", headers=keys["alice"], json={**body, "name": "invoices"})
    assert response.status_code == 200, response.text
    dataset = response.json()
    assert dataset["id"].startswith("invoices@") and dataset["examples"] == 16 and dataset["fixes"] == {
        **FIXES, "drop_invalid_rows": False}
    # The stored rows: the copy and the contradiction are gone, the address is redacted.
    version = resolve_data_path(dataset["id"])[0]  # the immutable version
    content = version.read_text()
    rows = [json.loads(line) for line in content.splitlines()]
    answers = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in rows}
    assert len(rows) == 16 and answers["dell laptop"] == "hardware" and "jane.doe@example.com" not in content
    # Its seeded held-out split, as `tuneforge train` makes it: the training file is the train part, the
    # validation file the held-out part, disjoint, together the version's rows.
    train = client.get(f"/v1/files/{dataset['training_file']}/content", headers=keys["alice"]).text.splitlines()
    held = client.get(f"/v1/files/{dataset['validation_file']}/content", headers=keys["alice"]).text.splitlines()
    expected_train, expected_held = split_examples(load_from_options(version, TrainConfig(data=str(version))), 0.1, 42)
    assert held == [json.dumps(e.to_json(), ensure_ascii=False) for e in expected_held] and len(held) >= 1
    assert train == [json.dumps(e.to_json(), ensure_ascii=False) for e in expected_train]
    assert sorted(train + held) == sorted(content.splitlines())
    assert (dataset["train_examples"], dataset["held_out_examples"]) == (len(train), len(held))
    # Saving the same data again is the same dataset; the list and the retrieve show it.
    again = client.post("/v1/datasets", headers=keys["alice"], json={**body, "name": "invoices"}).json()
    assert again == dataset
    assert [d["id"] for d in client.get("/v1/datasets", headers=keys["alice"]).json()["data"]] == [dataset["id"]]
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=keys["alice"]).json() == dataset
    # The OpenAI jobs API takes the dataset's training file as it is.
    job = client.post("/v1/fine_tuning/jobs", headers=keys["alice"],
                      json={"model": tiny_model_dir.name, "training_file": dataset["training_file"]})
    assert job.status_code == 200, job.text
    assert job.json()["training_file"] == dataset["training_file"]


def test_another_owner_gets_404_and_sees_no_dataset(api):
    client, keys = api
    file_id = upload(client, keys["alice"], invoice_csv(PLANTED))
    body = {"file_id": file_id, **COLUMNS}
    dataset = client.post("/v1/datasets", headers=keys["alice"], json=body).json()
    for method, url, json_body in [("POST", "/v1/datasets/check", body), ("POST", "/v1/datasets", body),
                                   ("GET", f"/v1/datasets/{dataset['id']}", None)]:
        response = client.request(method, url, headers=keys["bob"], json=json_body)
        assert response.status_code == 404, (url, response.text)
        assert "adobe" not in response.text and "training_file" not in response.text  # nothing of hers
    assert client.get("/v1/datasets", headers=keys["bob"]).json()["data"] == []
    assert [d["id"] for d in client.get("/v1/datasets", headers=keys["admin"]).json()["data"]] == [dataset["id"]]
    assert client.get("/v1/datasets").status_code == 401
    assert client.post("/v1/datasets/check", json=body).status_code == 401


def test_refused_rows_block_saving_until_dropped_and_bad_fixes_are_400(api):
    client, keys = api
    file_id = upload(client, keys["alice"], invoice_csv([("canon printer", "")]))  # line 17: no category
    body = {"file_id": file_id, **COLUMNS}
    check = client.post("/v1/datasets/check", headers=keys["alice"], json=body).json()
    [empty] = [f for f in check["findings"] if f["step"] == "check" and f["severity"] == "error"]
    assert (empty["line"], empty["field"], empty["fix"]) == (17, "category", "drop_invalid_rows")
    refused = client.post("/v1/datasets", headers=keys["alice"], json=body)
    assert refused.status_code == 400 and "line 17" in refused.text and "category" in refused.text
    saved = client.post("/v1/datasets", headers=keys["alice"], json={**body, "fixes": {"drop_invalid_rows": True}})
    assert saved.status_code == 200 and saved.json()["examples"] == 15
    bad = client.post("/v1/datasets/check", headers=keys["alice"],
                      json={**body, "fixes": {"relabel": [{"lines": [99], "answer": "travel"}]}})
    assert bad.status_code == 400 and "99" in bad.json()["error"]["message"]


def test_excel_and_jsonl_uploads_are_read_like_the_cli_reads_them(api, tmp_path):
    from openpyxl import Workbook
    from conftest import _LINES, chat_row

    client, keys = api
    wb = Workbook()
    wb.active.append(["supplier text", "account"])
    for label, texts in _LINES.items():
        for text in texts:
            wb.active.append([text, label])
    wb.active.append(["usb keyboard", "hardware"])  # line 17: a copy of line 14
    wb.save(tmp_path / "lines.xlsx")
    file_id = upload(client, keys["alice"], (tmp_path / "lines.xlsx").read_bytes(), "lines.xlsx")
    check = client.post("/v1/datasets/check", headers=keys["alice"], json={"file_id": file_id}).json()
    assert check["format"] == "xlsx" and check["columns"] == ["supplier text", "account"]
    check = client.post("/v1/datasets/check", headers=keys["alice"],
                        json={"file_id": file_id, "input_column": "supplier text", "output_column": "account"}).json()
    [dup] = by_step(check)["exact_duplicates"]
    assert (dup["lines"], dup["field"]) == ([14, 17], "supplier text")

    rows = [chat_row(t, label) for label, texts in _LINES.items() for t in texts]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows + rows[:1]).encode()
    file_id = upload(client, keys["alice"], jsonl, "lines.jsonl")
    check = client.post("/v1/datasets/check", headers=keys["alice"], json={"file_id": file_id}).json()
    assert check["format"] == "chat" and check["columns"] is None
    [dup] = by_step(check)["exact_duplicates"]
    assert dup["lines"] == [1, 16] and dup["field"] == "input"
