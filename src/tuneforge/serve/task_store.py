"""The last status of each background task (serve/background.py) in SQLite, so a restarted server still shows it.

An evaluation's and a retrain's results stay on disk (eval.json, the retrain report), but whether the last one
failed, and why, once lived only in the server's memory and was lost on a restart. The tasks are keyed by a
registry version or name (`eval:NAME:N`, `retrain:NAME`), so their table lives in registry.db beside the other
per-name state, with its own named migration (as registry/owners.py and registry/lineage.py do).

A task that was still running when its server stopped has no thread left to finish it: the next server marks it
failed on start, saying so, as the jobs worker recovers the jobs it finds running (jobs/worker.py).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tuneforge.sqlite_db import open_db

MIGRATIONS = [
    (
        "0301_server_tasks",
        """
        CREATE TABLE server_tasks (
            key TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            error TEXT,
            result_json TEXT,
            log_json TEXT NOT NULL
        )
        """,
    ),
]
LOG_LINES_KEPT = 200
INTERRUPTED = "The server stopped before this finished; start it again."


class TaskStore:
    """One row per task key: the latest task of that key replaces the one before."""

    def __init__(self, path: str | Path | None = None):
        from tuneforge.registry.store import registry_path

        self.conn = open_db(path or registry_path(), MIGRATIONS)
        self._lock = threading.Lock()  # request handlers and task threads share the connection

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def save(self, task) -> None:
        """Write `task` (a background.Task) as it is now."""
        row = (task.key, task.status, task.started_at, task.finished_at, task.error,
               None if task.result is None else json.dumps(task.result, default=str),
               json.dumps(task.log[-LOG_LINES_KEPT:]))
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO server_tasks (key, status, started_at, finished_at, error, "
                              "result_json, log_json) VALUES (?,?,?,?,?,?,?)", row)

    def load(self, key: str) -> dict | None:
        """The stored fields of the last task of `key`, as background.Task takes them; None if there was none."""
        with self._lock:
            row = self.conn.execute("SELECT * FROM server_tasks WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"key": row["key"], "status": row["status"], "started_at": row["started_at"],
                "finished_at": row["finished_at"], "error": row["error"],
                "result": None if row["result_json"] is None else json.loads(row["result_json"]),
                "log": json.loads(row["log_json"])}

    def fail_unfinished(self) -> None:
        """On a server's start: the tasks a previous server left running ended with it."""
        with self._lock:
            self.conn.execute("UPDATE server_tasks SET status = 'failed', error = ?, finished_at = ? "
                              "WHERE status = 'running'", (INTERRUPTED, int(time.time())))
