"""The *Data* page (/ui/data): bring a spreadsheet or JSONL file, fix what the workbench finds, save a version.

User flow (labels and button texts are stable; the browser tests select by them):
1. Drag a file onto the drop zone, or choose it with the file input labelled "Data file (CSV, Excel or JSONL)",
   then press "Upload". The page reloads with the workbench for that file (the URL holds the file and choices).
2. For a spreadsheet, choose the columns in the selects labelled "Input column" (a multiple select: several
   columns make one input, "column: value" per line) and "Output column" and press "Check". (The first check
   guesses: a column named input/output if there is one, else the first and last.)
3. The table "Findings" lists each finding with its "Line", "Field", "Finding" and "Fix". One-click fixes sit above
   it, shown only when they apply: "Drop duplicates", "Redact PII", "Drop invalid rows". A contradiction row has a
   select labelled "Right answer for lines A, B" and a button "Use this answer for lines A, B" (its lines named).
   Applied fixes are listed under "Applied fixes"; the link "Undo fixes" removes them.
4. The section "Readiness" shows "Verdict: ..." with its reasons, and the estimate ("Training time",
   "Peak memory", "Training tokens").
5. "Dataset name" and the button "Save dataset version" store the fixed rows as an immutable version; the page then
   says "Saved <id>" and lists it under "Saved dataset versions", each with a link "Train on it (<id>)" (visible
   text "Train on it") that opens the Train page with that dataset's training file chosen. Saving also sets aside a
   seeded held-out split (the one `tuneforge train` makes); the column "Trained on / held out" shows its sizes, and
   a job started from the version is evaluated on the held-out part by default.
Every call goes through the public API: POST /v1/files, POST /v1/datasets/check, POST /v1/datasets, GET /v1/datasets.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ok
from tuneforge.ui.render import page

router = APIRouter(include_in_schema=False)

ONE_CLICK = {"drop_duplicates": "Drop duplicates", "redact_pii": "Redact PII", "drop_invalid_rows": "Drop invalid rows"}


def _lines_label(lines: list[int]) -> str:
    return ", ".join(str(n) for n in lines)


def _state_from(params) -> dict:
    """The workbench's state, carried in the URL/form: file, columns and the fixes chosen so far."""
    fixes = {name: params.get(name) == "1" for name in ONE_CLICK}
    relabel = []
    for raw in params.getlist("relabel"):
        try:
            item = json.loads(raw)
            relabel.append({"lines": [int(n) for n in item["lines"]], "answer": str(item["answer"])})
        except (ValueError, KeyError, TypeError):
            continue  # a hand-edited URL: ignore the broken entry rather than fail the page
    # This request's click: one more fix on top of the ones already applied.
    clicked = params.get("fix")
    if clicked in ONE_CLICK:
        fixes[clicked] = True
    resolve = params.get("resolve")
    if resolve:
        lines = [int(n) for n in resolve.split("-") if n.strip().isdigit()]
        answer = params.get(f"answer-{resolve}")
        if lines and answer:
            relabel = [r for r in relabel if r["lines"] != lines] + [{"lines": lines, "answer": answer}]
    inputs = ",".join(c for c in params.getlist("input_column") if c)  # several columns: "supplier,description"
    return {"file_id": params.get("file_id"), "input_column": inputs or None,
            "output_column": params.get("output_column"), "fixes": {**fixes, "relabel": relabel}}


def _query(state: dict, **extra) -> str:
    pairs = [("file_id", state["file_id"]), ("input_column", state["input_column"] or ""),
             ("output_column", state["output_column"] or "")]
    pairs += [(name, "1") for name in ONE_CLICK if state["fixes"][name]]
    pairs += [("relabel", json.dumps(r)) for r in state["fixes"]["relabel"]]
    pairs += list(extra.items())
    return urlencode(pairs)


def _guess(columns: list[str], wanted: str, fallback: str) -> str:
    return wanted if wanted in columns else fallback


async def _check(api: httpx.AsyncClient, state: dict) -> dict:
    body = {"file_id": state["file_id"], "fixes": state["fixes"]}
    if state["input_column"]:
        body["input_column"] = state["input_column"]
    if state["output_column"]:
        body["output_column"] = state["output_column"]
    result = ok(await api.post("/v1/datasets/check", json=body))
    columns = result.get("columns")
    if columns and not (state["input_column"] and state["output_column"]):
        # A first look at a spreadsheet: guess the columns, then check with them (the person can change them).
        state["input_column"] = state["input_column"] or _guess(columns, "input", columns[0])
        state["output_column"] = state["output_column"] or _guess(columns, "output", columns[-1])
        body.update(input_column=state["input_column"], output_column=state["output_column"])
        result = ok(await api.post("/v1/datasets/check", json=body))
    return result


@router.get("/ui/data")
async def data_page(request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    params = request.query_params
    state = _state_from(params)
    check = await _check(api, state) if state["file_id"] else None
    datasets = ok(await api.get("/v1/datasets"))["data"]
    offered = []
    if check:
        wanted = {f["fix"] for f in check["findings"]}
        offered = [(name, text) for name, text in ONE_CLICK.items() if name in wanted and not state["fixes"][name]]
    applied = [text for name, text in ONE_CLICK.items() if state["fixes"][name]]
    applied += [f"lines {_lines_label(r['lines'])} → {r['answer']}" for r in state["fixes"]["relabel"]]
    undo = None
    if state["file_id"]:
        undo = "/ui/data?" + urlencode({"file_id": state["file_id"], "input_column": state["input_column"] or "",
                                        "output_column": state["output_column"] or ""})
    chosen_inputs = (state["input_column"] or "").split(",")
    return page(request, "data.html", "Data", check=check, state=state, chosen_inputs=chosen_inputs, datasets=datasets, offered=offered,
                applied=applied, undo=undo, lines_label=_lines_label, saved=params.get("saved"),
                fixes_json=[json.dumps(r) for r in state["fixes"]["relabel"]])


@router.post("/ui/data/upload")
async def upload(request: Request, file: UploadFile = File(...),
                 api: httpx.AsyncClient = Depends(api_client.client)):
    content = await file.read()
    uploaded = ok(await api.post("/v1/files", data={"purpose": "fine-tune"},
                                 files={"file": (file.filename or "upload.jsonl", content,
                                                 file.content_type or "application/octet-stream")}))
    return RedirectResponse(f"/ui/data?{urlencode({'file_id': uploaded['id']})}", status_code=303)


@router.post("/ui/data/save")
async def save(request: Request, api: httpx.AsyncClient = Depends(api_client.client), name: str = Form("")):
    state = _state_from(await request.form())
    body = {"file_id": state["file_id"], "fixes": state["fixes"], "input_column": state["input_column"] or "input",
            "output_column": state["output_column"] or "output"}
    if name.strip():
        body["name"] = name.strip()
    dataset = ok(await api.post("/v1/datasets", json=body))
    return RedirectResponse(f"/ui/data?{_query(state, saved=dataset['id'])}", status_code=303)
