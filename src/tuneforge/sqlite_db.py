"""SQLite with append-only named migrations, shared by the registry, API keys and the traffic log.

Each store lists its migrations as (name, SQL) in order. A `migrations` table records the names applied, so a
database made by an older tuneforge is brought up to date on open and an applied migration is never run twice.
Never edit a migration once released: append a new one.

Every database is opened the same way: WAL (readers never block the server's writes), a 30 s busy timeout
(concurrent CLI commands wait for each other instead of failing), owner-only permissions (0600: the traffic log
holds users' prompts, keys.db the key hashes). A new database is built under a temporary name and linked into
place, so a file at the path is always a whole tuneforge database: an empty (0-byte) or unreadable file there
is reported as damaged, naming it, and left alone, never silently replaced by a new empty one.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.errors import UserError

Migration = tuple[str, str]
BUSY_TIMEOUT_S = 30
PRIVATE = stat.S_IRUSR | stat.S_IWUSR  # 0600


class DatabaseDamaged(UserError):
    """A database file that is empty, not SQLite, or damaged; the message names the file."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _connect(path: Path) -> sqlite3.Connection:
    # The server writes from worker threads; each connection is still used by one thread at a time.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection):
    """The statements inside are written together or not at all (the connections are in autocommit mode, so each
    statement alone would commit at once). A process killed inside leaves the database as it was before."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _migrate(conn: sqlite3.Connection, migrations: list[Migration]) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {r["name"] for r in conn.execute("SELECT name FROM migrations")}
    for name, sql in migrations:
        if name in applied:
            continue
        # One transaction per migration: a failure leaves the database as it was before that migration.
        with transaction(conn):
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is None:
                for statement in [s for s in sql.split(";") if s.strip()]:
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))


def _create(path: Path, migrations: list[Migration]) -> None:
    """Build a new database beside `path` and link it in; a database another process made first wins."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE))  # SQLite's -wal/-shm copy these bits
    try:
        conn = _connect(tmp)
        try:
            _migrate(conn, migrations)
        finally:
            conn.close()  # checkpoints the WAL into the file, so the file alone is the whole database
        try:
            os.link(tmp, path)  # unlike rename, never replaces a file that appeared meanwhile
        except FileExistsError:
            pass
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _private(path: Path) -> None:
    """Tighten a database made by an older tuneforge (0644) to owner-only."""
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if f.stat().st_mode & 0o077:
                f.chmod(PRIVATE)
        except FileNotFoundError:
            pass
        except PermissionError:  # not ours to change; reading it is still allowed
            pass


def open_db(path: str | Path, migrations: list[Migration]) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, migrations)
    if path.is_dir():
        raise DatabaseDamaged(f"{path}: is a folder, expected a SQLite database")
    if path.stat().st_size == 0:
        raise DatabaseDamaged(f"{path}: is empty (0 bytes), not a tuneforge database: it was truncated or replaced. "
                              "It was left as it is; restore it from a backup, or move it away to start a new one")
    _private(path)
    conn = None
    try:
        conn = _connect(path)
        _migrate(conn, migrations)
    except sqlite3.DatabaseError as err:
        if conn is not None:
            conn.close()
        if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
            raise
        raise DatabaseDamaged(f"{path}: not a readable SQLite database ({err}). It was left as it is; restore it "
                              "from a backup, or move it away to start a new one") from None
    return conn
