"""The data workbench over HTTP (`/v1/datasets`, serve/datasets_api.py): an uploaded file read with the columns a
person chose, the fixes they picked applied (data/fixes.py), the workbench's findings with the fix for each, the
readiness verdict and the time estimate of the job the Train page would start; and saving the result.

Saving stores an immutable dataset version (data/versions.py: normalised JSONL + manifest, content-addressed) and
registers its seeded split (the one `tuneforge train` makes) as two `fine-tune` files of the same owner: the
dataset's `training_file` (the train part) and `validation_file` (the held-out part), so a fine-tuning job given
both trains on exactly the stored version's train part through the unchanged OpenAI jobs API and is evaluated on
rows it never saw; the version id works with `tuneforge train` too. Which owner saved which version is kept in TUNEFORGE_HOME/datasets.db: versions
are shared by content on disk, but each owner sees only the ones they saved (admins see all).
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

from tuneforge.config import DatasetCheckBody, DatasetCreateBody, TrainConfig
from tuneforge.data.clean import run_cleaning
from tuneforge.data.estimate import human_bytes, human_seconds
from tuneforge.data.fixes import apply_fixes
from tuneforge.data.formats import LoadResult, options_kwargs, parse_data
from tuneforge.data.readiness import BaseModelInfo, Readiness, assess, decide
from tuneforge.data.tables import table_header
from tuneforge.data.validate import check_loaded
from tuneforge.data.versions import add_version, default_name
from tuneforge.jobs.store import new_id, now
from tuneforge.paths import home
from tuneforge.sqlite_db import open_db

MIGRATIONS = [
    (
        "0001_datasets",
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            source_file TEXT NOT NULL,
            training_file TEXT NOT NULL,
            examples INTEGER NOT NULL,
            fixes_json TEXT NOT NULL,
            verdict TEXT,
            created_at INTEGER NOT NULL,
            UNIQUE (owner, version)
        )
        """,
    ),
    (
        # A saved version also sets aside a seeded held-out split (registered as its own file), so a job trained
        # on it has held-out data to be evaluated on; rows saved before have none (NULL).
        "0002_held_out_split",
        """
        ALTER TABLE datasets ADD COLUMN validation_file TEXT;
        ALTER TABLE datasets ADD COLUMN train_examples INTEGER;
        ALTER TABLE datasets ADD COLUMN held_out_examples INTEGER;
        """,
    ),
]

# The field a step's finding is about (PII findings name their own); tables show their column names instead.
_STEP_FIELD = {"exact_duplicates": "input", "near_duplicates": "input", "contradictions": "answer",
               "leakage": "input", "structure_outliers": "answer", "suspicious_labels": "answer"}
# The one-click fix for each kind of finding (None: a person reads it; there is nothing safe to do automatically).
_STEP_FIX = {"exact_duplicates": "drop_duplicates", "near_duplicates": "drop_duplicates",
             "contradictions": "relabel", "pii": "redact_pii"}


class DatasetRefused(ValueError):
    """The fixed data still cannot be stored (rows the checks refuse): the message names line and field."""


class DatasetStore:
    """Who saved which dataset version; one row per (owner, version)."""

    def __init__(self, path: str | Path | None = None):
        self.conn = open_db(path or home() / "datasets.db", MIGRATIONS)
        self._lock = threading.RLock()  # the API's handlers run in a thread pool and share the connection

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def add(self, **values) -> dict:
        with self._lock:
            existing = self.get_version(values["owner"], values["version"])
            if existing is not None:
                return existing  # the same data saved again by the same owner: the same dataset
            values = {**{k: v for k, v in values.items() if k != "fixes"}, "fixes_json": json.dumps(values["fixes"])}
            self.conn.execute(f"INSERT INTO datasets ({', '.join(values)}) VALUES "
                              f"({', '.join('?' * len(values))})", tuple(values.values()))
            return self.get_version(values["owner"], values["version"])

    def get_version(self, owner: str | None, version: str) -> dict | None:
        """The row for `version` visible to `owner` (None: an admin, any owner's)."""
        sql, args = "SELECT * FROM datasets WHERE version = ?", [version]
        if owner is not None:
            sql, args = sql + " AND owner = ?", args + [owner]
        with self._lock:
            return _row(self.conn.execute(sql + " ORDER BY rowid LIMIT 1", args).fetchone())

    def list(self, owner: str | None, limit: int) -> tuple[list[dict], bool]:
        """Newest first, at most `limit`, and whether more follow."""
        sql, args = "SELECT * FROM datasets", []
        if owner is not None:
            sql, args = sql + " WHERE owner = ?", [owner]
        with self._lock:
            rows = [_row(r) for r in self.conn.execute(sql + " ORDER BY rowid DESC LIMIT ?", [*args, limit + 1])]
        return rows[:limit], len(rows) > limit


def _row(row) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    out["fixes"] = json.loads(out.pop("fixes_json"))
    return out


def dataset_object(row: dict) -> dict:
    return {"id": row["version"], "object": "dataset", "name": row["name"], "created_at": row["created_at"],
            "examples": row["examples"], "training_file": row["training_file"], "source_file": row["source_file"],
            "fixes": row["fixes"], "verdict": row["verdict"],
            # The seeded split of the version (data/split.py, `tuneforge train`'s eval_split and seed): the training
            # file holds the train part, the validation file the held-out part (None when nothing could be held out).
            "validation_file": row.get("validation_file"), "train_examples": row.get("train_examples"),
            "held_out_examples": row.get("held_out_examples")}


def default_base(catalog) -> str:
    """The base a server's data checks measure with: the first base it serves, else tuneforge's default."""
    from tuneforge.models.resolve import DEFAULT_BASE

    entries = catalog.entries.values() if catalog is not None else ()
    return next((e.base_id for e in entries if e.kind == "base"), DEFAULT_BASE)


# One check measures at a time: a cached tokenizer is shared, and a Rust tokenizer refuses concurrent use.
_CHECKING = threading.Lock()


@functools.lru_cache(maxsize=4)
def _base_info(base: str, max_seq_len: int) -> BaseModelInfo:
    """The tokenizer is loaded once per base: every check of a page measures with it."""
    from tuneforge.models.load import length_tokenizer_or_note

    tok, limit, folder, note = length_tokenizer_or_note(base, max_seq_len)
    return BaseModelInfo(base, tok, limit, folder, note)


def _default_job(base: str, filename: str, chosen_base: bool):
    """(TrainConfig, plan) of the job the Train page starts with no settings changed, planned from the rows as the
    job's worker plans it (jobs/spec.py `resolve`): the kind of model left to the data, and unless
    the check names a model (`chosen_base` False), the base too ("Chosen from the data", the job's `model` "auto",
    falling back to `base`). So label data is estimated as the classification head the job trains."""
    from tuneforge.jobs.spec import AUTO_BASE, CreateJob, resolve, train_values

    model = AUTO_BASE if chosen_base else base
    job = CreateJob(model=model, training_file="file-estimate", tuneforge={"variant_type": "auto"})
    values = train_values(job, model, filename, None, "-", seed=42)
    return TrainConfig(**values), lambda _cfg, rows: resolve(values, rows, 1.0, base, job.tuneforge)


def read_upload(path: Path, filename: str, body: DatasetCheckBody) -> tuple[LoadResult, list[str] | None]:
    """The upload read with the chosen columns, named by the user's file name (never the server's blob path)."""
    name = filename if Path(filename).suffix else filename + ".jsonl"
    raw = path.read_bytes()
    return parse_data(raw, name, **options_kwargs(body)), table_header(raw, name, body.sheet)


def _row_problem(p, table: bool) -> bool:
    """A refused data row, which dropping fixes (not a whole-file or header problem such as a missing column)."""
    return p.severity == "error" and p.line is not None and not (table and p.line == 1)


def findings(r: Readiness, fixed: LoadResult, body: DatasetCheckBody) -> list[dict]:
    """Every finding as (line, field, message, fix): the check's problems first, then each cleaning step's."""
    table = fixed.detected in ("csv", "xlsx")
    out = [{"step": "check", "title": "Checks", "severity": p.severity, "line": p.line,
            "lines": [p.line] if p.line is not None else [], "field": p.field, "message": p.message,
            "hint": p.hint, "fix": "drop_invalid_rows" if _row_problem(p, table) else None}
           for p in r.check.problems]
    by_line = {ex.line: ex for ex in fixed.examples}
    for step in r.clean.steps:
        if step.name == "invalid_rows" or step.action == "skipped":
            continue  # invalid rows are the check's problems above, each with its line and field
        for f in step.findings:
            item = {"step": step.name, "title": step.title, "severity": "warning", "line": f.lines[0] if f.lines
                    else None, "lines": f.lines, "field": _table_field(step.name, f.extra, body, table),
                    "message": f.message, "hint": step.note, "fix": _STEP_FIX.get(step.name)}
            if step.name == "contradictions":  # the answers to choose the right one from, in full
                item["answers"] = sorted({by_line[n].answer for n in f.lines if n in by_line})
            out.append(item)
    return out


def _table_field(step: str, extra: dict, body: DatasetCheckBody, table: bool) -> str | None:
    """The field a finding is about; for a spreadsheet, the column the person chose for it."""
    field = extra.get("field") or _STEP_FIELD.get(step)
    if not table or field is None:
        return field
    if field == "input":
        return body.input_column
    if field == "answer":
        return body.output_column
    # PII in a table row: messages are [system?, user, assistant]; the user turn is the input column.
    return body.output_column if field.endswith(f"[{_last_index(body)}].content") else body.input_column


def _last_index(body: DatasetCheckBody) -> int:
    return 2 if body.system_prompt else 1


def check(path: Path, record: dict, body: DatasetCheckBody, base: str) -> dict:
    """`POST /v1/datasets/check`: findings, readiness verdict and estimate for the upload with the fixes applied."""
    from tuneforge.models.classifier import head_token_counts

    load, columns = read_upload(path, record["filename"], body)
    fixed = apply_fixes(load, body.fixes)
    n = len(fixed.examples)
    with _CHECKING:
        info = _base_info(base, 1024)
        cfg, plan = _default_job(base, record["filename"], body.model is None) if n else (None, None)
        r = assess(fixed, record["filename"], None, info, cfg, plan=plan, head_tokens=head_token_counts)
    estimate = None
    if r.estimate:
        estimate = {**r.estimate.to_dict(), "duration": human_seconds(r.estimate.seconds),
                    "peak_memory": human_bytes(r.estimate.memory_bytes), "summary": r.estimate.describe()}
    return {
        "object": "dataset.check", "file_id": record["id"], "filename": record["filename"], "format": fixed.detected,
        "columns": columns, "input_column": body.input_column, "output_column": body.output_column,
        "rows": r.clean.input_rows, "examples": n, "labels": r.check.labels, "base": base,
        "fixes": body.fixes.model_dump(),
        "findings": findings(r, fixed, body),
        "steps": [{"step": s.name, "title": s.title, "found": s.count, "action": s.action} for s in r.clean.steps],
        "readiness": {"verdict": r.verdict, "reasons": r.reasons, "notes": [n for n in r.notes if n]},
        "estimate": estimate,
    }


def save(files, datasets: DatasetStore, owner: str, record: dict, body: DatasetCreateBody) -> dict:
    """`POST /v1/datasets`: store the fixed examples as a version and register it as the owner's training file."""
    path = files.path_of(record)
    load, _ = read_upload(path, record["filename"], body)
    fixed = apply_fixes(load, body.fixes)
    report = check_loaded(fixed, record["filename"])
    if report.errors:
        first = report.errors[0]
        where = (f"line {first.line}" if first.line is not None else record["filename"]) + (
            f", field {first.field!r}" if first.field else "")
        more = f" ({len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        raise DatasetRefused(f"{record['filename']}: {where}: {first.message}{more}; fix the file, or apply the "
                             "fix 'drop_invalid_rows'")
    scan = run_cleaning(fixed)
    checks = {"check": {k: v for k, v in report.to_dict().items() if k != "file"},
              "clean_scan": {s.name: {"found": s.count, "action_if_cleaned": s.action, "note": s.note}
                             for s in scan.steps},
              "fixes": body.fixes.model_dump()}
    name = body.name or default_name(record["filename"])
    vid, _, _ = add_version(report.examples, path, fixed.detected, name, checks)
    existing = datasets.get_version(owner, vid)
    if existing is not None:
        return existing
    train, held = held_out_split(report.examples)
    training = files.save_bytes(owner, f"{vid}.jsonl", _jsonl(train), "fine-tune")
    validation = files.save_bytes(owner, f"{vid}-held-out.jsonl", _jsonl(held), "fine-tune") if held else None
    verdict = decide(Readiness(report, scan, [], "characters", None))[0]
    return datasets.add(id=new_id("ds-"), owner=owner, version=vid, name=name, source_file=record["id"],
                        training_file=training["id"], examples=len(report.examples), fixes=body.fixes.model_dump(),
                        verdict=verdict, created_at=now(), validation_file=validation and validation["id"],
                        train_examples=len(train), held_out_examples=len(held))


def held_out_split(examples) -> tuple[list, list]:
    """(train, held out): the seeded split `tuneforge train` makes (data/split.py with TrainConfig's default
    eval_split and seed, which the version's manifest records too), so the held-out rows are never trained on."""
    from tuneforge.data.split import split_examples

    fields = TrainConfig.model_fields
    return split_examples(examples, fields["eval_split"].default, fields["seed"].default)


def _jsonl(examples) -> bytes:
    return "".join(e.jsonl_line() for e in examples).encode("utf-8")
