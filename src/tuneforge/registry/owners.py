"""Who owns a registered name: the API key owner whose fine-tuning job made it (every later version of the name,
a retrain's included, belongs to the same owner). Names registered from the command line have no owner: they are
the operator's, visible to every key and changed only by admin keys (serve/registry_access.py).

A separate table in registry.db with its own named migration (as lineage.py), so the variants table's contract
stays as it is.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.sqlite_db import open_db, utc_now

MIGRATIONS = [
    (
        "0201_name_owners",
        """
        CREATE TABLE name_owners (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """,
    ),
]


def _db(path: str | Path | None):
    from tuneforge.registry.store import registry_path

    return open_db(path or registry_path(), MIGRATIONS)


def claim(name: str, owner: str, path: str | Path | None = None) -> None:
    """Record `owner` for `name`; a name keeps its first owner (a later claim by another owner is ignored)."""
    conn = _db(path)
    try:
        conn.execute("INSERT OR IGNORE INTO name_owners (name, owner, at) VALUES (?,?,?)", (name, owner, utc_now()))
    finally:
        conn.close()


def owner_of(name: str, path: str | Path | None = None) -> str | None:
    conn = _db(path)
    try:
        row = conn.execute("SELECT owner FROM name_owners WHERE name = ?", (name,)).fetchone()
        return row["owner"] if row else None
    finally:
        conn.close()


def all_owners(path: str | Path | None = None) -> dict[str, str]:
    conn = _db(path)
    try:
        return {r["name"]: r["owner"] for r in conn.execute("SELECT name, owner FROM name_owners")}
    finally:
        conn.close()
