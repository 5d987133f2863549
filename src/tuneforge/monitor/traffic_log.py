"""The traffic log: every API request and response, with variant, latency and token counts, in SQLite.

Writes go through a queue to one writer thread, so a slow disk never delays an answer. Request and response
texts pass through monitor/redact.py before they are stored unless the caller opts out (`redact_pii=False`,
`tuneforge serve --no-redact-pii`): users' prompts hold personal data the operator did not ask for. The file is
owner-only (0600, see sqlite_db.py).
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

from tuneforge.monitor.redact import redact_value
from tuneforge.paths import home
from tuneforge.sqlite_db import open_db, utc_now

MIGRATIONS = [
    (
        "0001_traffic",
        """
        CREATE TABLE traffic (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            request_id TEXT,
            endpoint TEXT NOT NULL,
            model TEXT,
            variant TEXT,
            status INTEGER NOT NULL,
            latency_ms REAL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            request_json TEXT,
            response_json TEXT,
            error TEXT,
            redacted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX traffic_variant_at ON traffic (variant, at)
        """,
    ),
    (
        # Per-request label probabilities (JSON {label: p}) and the answer's confidence, when the engine or the
        # monitor's label scoring provides them; feedback on a request (monitor/feedback.py) by its OpenAI id.
        "0002_label_probs_and_feedback",
        """
        ALTER TABLE traffic ADD COLUMN label_probs_json TEXT;
        ALTER TABLE traffic ADD COLUMN confidence REAL;
        CREATE INDEX traffic_request_id ON traffic (request_id);
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            request_id TEXT NOT NULL,
            variant TEXT,
            correct_output TEXT,
            rating INTEGER,
            comment TEXT,
            api_key TEXT,
            source TEXT NOT NULL
        );
        CREATE INDEX feedback_request ON feedback (request_id);
        CREATE INDEX feedback_variant ON feedback (variant, at)
        """,
    ),
]
_COLUMNS = ("request_id", "endpoint", "model", "variant", "status", "latency_ms", "prompt_tokens",
            "completion_tokens", "request", "response", "error", "label_probs", "confidence")


def traffic_path() -> Path:
    return home() / "traffic.db"


class TrafficLog:
    def __init__(self, path: str | Path | None = None, redact_pii: bool = True):
        self.path = Path(path or traffic_path())
        self.redact_pii = redact_pii
        self.conn = open_db(self.path, MIGRATIONS)
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="tuneforge-traffic", daemon=True)
        self._writer.start()

    def record(self, **entry) -> None:
        unknown = set(entry) - set(_COLUMNS)
        if unknown:
            raise TypeError(f"traffic log: unknown fields {sorted(unknown)}")
        self._queue.put(entry)

    def _write_loop(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            try:
                self._write(entry)
            except Exception as err:  # logging must never take the server down
                print(f"traffic log: could not store a record: {err}")
            finally:
                self._queue.task_done()

    def _write(self, e: dict) -> None:
        request, response, error = e.get("request"), e.get("response"), e.get("error")
        if self.redact_pii:
            request, response, error = redact_value(request), redact_value(response), redact_value(error)
        self.conn.execute(
            "INSERT INTO traffic (at, request_id, endpoint, model, variant, status, latency_ms, prompt_tokens,"
            " completion_tokens, request_json, response_json, error, redacted, label_probs_json, confidence)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (utc_now(), e.get("request_id"), e["endpoint"], e.get("model"), e.get("variant"), e["status"],
             e.get("latency_ms"), e.get("prompt_tokens"), e.get("completion_tokens"),
             None if request is None else json.dumps(request, ensure_ascii=False),
             None if response is None else json.dumps(response, ensure_ascii=False),
             error, int(self.redact_pii),
             None if e.get("label_probs") is None else json.dumps(e["label_probs"]), e.get("confidence")),
        )

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._writer.join(timeout=10)
        self.conn.close()


def read_traffic(path: str | Path | None = None, limit: int = 100) -> list[dict]:
    conn = open_db(path or traffic_path(), MIGRATIONS)
    try:
        rows = conn.execute("SELECT * FROM traffic ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]
    finally:
        conn.close()
