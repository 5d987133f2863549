"""The fine-tuning control plane's state in SQLite (TUNEFORGE_HOME/jobs.db): files, jobs, events, checkpoints and
the fine-tuned models the jobs produced.

Every state a job passes through is a row update here before anything else happens, so a server killed at any
moment restarts from what this database says (see jobs/worker.py, `recover`). Lists page with OpenAI's cursor
rule: `after` is the id of the last object of the previous page, in the list's own order.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from pathlib import Path

from tuneforge.paths import home
from tuneforge.sqlite_db import open_db, transaction

_ALPHABET = string.ascii_letters + string.digits
TERMINAL = ("succeeded", "failed", "cancelled")

MIGRATIONS = [
    (
        "0001_fine_tuning",
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            blob TEXT NOT NULL,
            purpose TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            model TEXT NOT NULL,
            base TEXT NOT NULL,
            training_file TEXT NOT NULL,
            validation_file TEXT,
            suffix TEXT,
            seed INTEGER NOT NULL,
            metadata_json TEXT,
            request_json TEXT NOT NULL,
            hyperparameters_json TEXT NOT NULL,
            config_json TEXT,
            status TEXT NOT NULL,
            error_json TEXT,
            fine_tuned_model TEXT,
            started_at INTEGER,
            finished_at INTEGER,
            estimated_finish INTEGER,
            trained_tokens INTEGER,
            total_steps INTEGER,
            last_step INTEGER NOT NULL DEFAULT 0,
            result_files_json TEXT NOT NULL DEFAULT '[]',
            run_dir TEXT NOT NULL,
            process_json TEXT,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_status ON jobs (status);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            job_id TEXT NOT NULL REFERENCES jobs(id),
            created_at INTEGER NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            type TEXT NOT NULL,
            data_json TEXT
        );
        CREATE INDEX events_job ON events (job_id, seq);
        CREATE TABLE checkpoints (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs(id),
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            path TEXT NOT NULL,
            metrics_json TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (job_id, step)
        );
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs(id),
            owner TEXT NOT NULL,
            run_path TEXT NOT NULL,
            variant_ref TEXT,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        )
        """,
    ),
]


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(n))


def now() -> int:
    return int(time.time())


_JSON_COLUMNS = {"metadata_json", "request_json", "hyperparameters_json", "config_json", "error_json",
                 "result_files_json", "process_json", "data_json", "metrics_json"}


def _row(row) -> dict | None:
    if row is None:
        return None
    out = {}
    for k, v in dict(row).items():
        if k in _JSON_COLUMNS:
            out[k.removesuffix("_json")] = json.loads(v) if v is not None else None
        else:
            out[k] = v
    return out


def _encode(values: dict) -> dict:
    """{"error": {...}} -> {"error_json": "..."} for the JSON columns; other values as they are."""
    out = {}
    for k, v in values.items():
        if k + "_json" in _JSON_COLUMNS:
            out[k + "_json"] = None if v is None else json.dumps(v)
        else:
            out[k] = v
    return out


class JobStore:
    """Thread-safe: the API handlers and the worker thread share one connection behind a lock."""

    def __init__(self, path: str | Path | None = None):
        self.conn = open_db(path or home() / "jobs.db", MIGRATIONS)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def _exec(self, sql: str, args=()):
        with self._lock:
            return self.conn.execute(sql, args)

    def _all(self, sql: str, args=()) -> list[dict]:
        with self._lock:
            return [_row(r) for r in self.conn.execute(sql, args).fetchall()]

    def _one(self, sql: str, args=()) -> dict | None:
        with self._lock:
            return _row(self.conn.execute(sql, args).fetchone())

    def _insert(self, table: str, values: dict) -> None:
        cols = _encode(values)
        self._exec(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                   tuple(cols.values()))

    def _page(self, table: str, where: list[str], args: list, after: str | None, limit: int, desc: bool,
              order_col: str = "rowid") -> tuple[list[dict], bool]:
        """One page after the object `after` (in this order), and whether more follow."""
        if after:
            anchor = self._one(f"SELECT {order_col} AS k FROM {table} WHERE id = ?", (after,))
            if anchor is not None:
                where = where + [f"{order_col} {'<' if desc else '>'} ?"]
                args = args + [anchor["k"]]
        sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY {order_col} {'DESC' if desc else 'ASC'} LIMIT ?"
        rows = self._all(sql, args + [limit + 1])
        return rows[:limit], len(rows) > limit

    # -- files ---------------------------------------------------------------------------------------------------
    def add_file(self, **values) -> dict:
        self._insert("files", values)
        return self.get_file(values["id"])

    def get_file(self, file_id: str) -> dict | None:
        return self._one("SELECT * FROM files WHERE id = ? AND deleted_at IS NULL", (file_id,))

    def list_files(self, owner: str | None, purpose: str | None, after: str | None, limit: int,
                   desc: bool) -> tuple[list[dict], bool]:
        where, args = ["deleted_at IS NULL"], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if purpose:
            where.append("purpose = ?")
            args.append(purpose)
        return self._page("files", where, args, after, limit, desc)

    def delete_file(self, file_id: str) -> None:
        self._exec("UPDATE files SET deleted_at = ? WHERE id = ?", (now(), file_id))

    def blob_in_use(self, blob: str) -> bool:
        """A stored blob is kept while a live file row or an unfinished job still needs it."""
        with self._lock:
            if self.conn.execute("SELECT 1 FROM files WHERE blob = ? AND deleted_at IS NULL", (blob,)).fetchone():
                return True
            return self.conn.execute(
                "SELECT 1 FROM jobs j JOIN files f ON f.id IN (j.training_file, j.validation_file) "
                f"WHERE f.blob = ? AND j.status NOT IN {TERMINAL}", (blob,)).fetchone() is not None

    def any_file(self, file_id: str) -> dict | None:
        """A file row even after deletion (a job's training data stays readable until the job ends)."""
        return self._one("SELECT * FROM files WHERE id = ?", (file_id,))

    # -- jobs ----------------------------------------------------------------------------------------------------
    def add_job(self, **values) -> dict:
        self._insert("jobs", values)
        return self.get_job(values["id"])

    def get_job(self, job_id: str) -> dict | None:
        return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def update_job(self, job_id: str, **values) -> dict:
        cols = _encode(values)
        self._exec(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ?", (*cols.values(), job_id))
        return self.get_job(job_id)

    def transition(self, job_id: str, expected: tuple[str, ...], event: tuple[str, str] | None = None,
                   **values) -> dict | None:
        """Update the job only if its status is one of `expected` (compare-and-set); None when it was not.

        `event` (message, level) is added under the same lock when the update happens: a reader that sees the new
        status also sees its event (`jobs create --follow` stops at the terminal status and must have printed
        "The job has successfully completed" by then).
        """
        cols = _encode(values)
        with self._lock:
            cur = self.conn.execute(
                f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ? "
                f"AND status IN ({', '.join('?' * len(expected))})", (*cols.values(), job_id, *expected))
            if not cur.rowcount:
                return None
            if event is not None:
                self.add_event(job_id, event[0], level=event[1])
            return self.get_job(job_id)

    def jobs_in(self, *statuses: str) -> list[dict]:
        marks = ", ".join("?" * len(statuses))
        return self._all(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY rowid", statuses)

    def list_jobs(self, owner: str | None, after: str | None, limit: int,
                  metadata: dict[str, str] | None) -> tuple[list[dict], bool]:
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        for key, value in (metadata or {}).items():
            where.append("json_extract(metadata_json, ?) = ?")
            args += ["$." + json.dumps(key), value]
        return self._page("jobs", where, args, after, limit, desc=True)

    # -- events and checkpoints ----------------------------------------------------------------------------------
    def add_event(self, job_id: str, message: str, level: str = "info", type: str = "message",
                  data: dict | None = None) -> None:
        self._insert("events", {"id": new_id("ftevent-"), "job_id": job_id, "created_at": now(), "level": level,
                                "message": message, "type": type, "data": data})

    def add_step_event(self, job_id: str, step: int, message: str, data: dict) -> None:
        """A training step's metrics event and the job's last reported step, written together: a server killed
        between the two would report the step a second time after its restart."""
        with self._lock, transaction(self.conn):
            self.add_event(job_id, message, type="metrics", data=data)
            self.conn.execute("UPDATE jobs SET last_step = ? WHERE id = ?", (step, job_id))

    def list_events(self, job_id: str, after: str | None, limit: int) -> tuple[list[dict], bool]:
        return self._page("events", ["job_id = ?"], [job_id], after, limit, desc=True, order_col="seq")

    def add_checkpoint(self, job_id: str, step: int, epoch: int, path: str, metrics: dict) -> bool:
        """Record an epoch checkpoint once (a resumed job reaches the same steps again)."""
        with self._lock:
            if self.conn.execute("SELECT 1 FROM checkpoints WHERE job_id = ? AND step = ?", (job_id, step)).fetchone():
                return False
            self._insert("checkpoints", {"id": new_id("ftckpt-"), "job_id": job_id, "step": step, "epoch": epoch,
                                         "path": path, "metrics": metrics, "created_at": now()})
            return True

    def list_checkpoints(self, job_id: str, after: str | None, limit: int) -> tuple[list[dict], bool]:
        return self._page("checkpoints", ["job_id = ?"], [job_id], after, limit, desc=True, order_col="step")

    # -- fine-tuned models ---------------------------------------------------------------------------------------
    def add_model(self, **values) -> None:
        self._insert("models", values)

    def live_models(self) -> list[dict]:
        return self._all("SELECT * FROM models WHERE deleted_at IS NULL ORDER BY rowid")

    def get_model(self, model_id: str) -> dict | None:
        return self._one("SELECT * FROM models WHERE id = ? AND deleted_at IS NULL", (model_id,))

    def delete_model(self, model_id: str) -> None:
        self._exec("UPDATE models SET deleted_at = ? WHERE id = ?", (now(), model_id))
