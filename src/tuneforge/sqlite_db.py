"""SQLite with append-only named migrations, shared by the registry, API keys and the traffic log.

Each store lists its migrations as (name, SQL) in order. A `migrations` table records the names applied, so a
database made by an older tuneforge is brought up to date on open and an applied migration is never run twice.
Never edit a migration once released: append a new one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

Migration = tuple[str, str]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(path: str | Path, migrations: list[Migration]) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The server writes from worker threads; each connection is still used by one thread at a time.
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")  # readers (CLI) never block the server's writes
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {r["name"] for r in conn.execute("SELECT name FROM migrations")}
    for name, sql in migrations:
        if name in applied:
            continue
        # One transaction per migration: a failure leaves the database as it was before that migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is None:
                for statement in [s for s in sql.split(";") if s.strip()]:
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return conn
