"""Lineage events: each step that made a version (dataset built, trained, evaluated, gated, promoted or not),
with its details, in registry.db beside the stage history. A separate table with its own named migration, so
it never changes the variants table's contract."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.sqlite_db import open_db, utc_now

MIGRATIONS = [
    (
        "0101_lineage_events",
        """
        CREATE TABLE lineage_events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            name TEXT NOT NULL,
            variant_ref TEXT,
            parent_ref TEXT,
            step TEXT NOT NULL,
            detail_json TEXT NOT NULL
        );
        CREATE INDEX lineage_name ON lineage_events (name, id)
        """,
    ),
]


def _db(path: str | Path | None):
    from tuneforge.registry.store import registry_path

    return open_db(path or registry_path(), MIGRATIONS)


def record(name: str, step: str, detail: dict, variant_ref: str | None = None, parent_ref: str | None = None,
           path: str | Path | None = None) -> None:
    conn = _db(path)
    try:
        conn.execute("INSERT INTO lineage_events (at, name, variant_ref, parent_ref, step, detail_json) "
                     "VALUES (?,?,?,?,?,?)", (utc_now(), name, variant_ref, parent_ref, step,
                                              json.dumps(detail, ensure_ascii=False, default=str)))
    finally:
        conn.close()


def events(name: str, path: str | Path | None = None) -> list[dict]:
    conn = _db(path)
    try:
        rows = conn.execute("SELECT * FROM lineage_events WHERE name = ? ORDER BY id", (name,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail_json"])} for r in rows]
    finally:
        conn.close()
