"""API keys: shown once at creation, stored only as a SHA-256 hash with a short prefix to recognise them by."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from tuneforge.paths import home
from tuneforge.sqlite_db import open_db, utc_now

KEY_PREFIX = "tf-"
MIGRATIONS = [
    (
        "0001_api_keys",
        """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
        """,
    ),
    # Admin keys see every owner's files, jobs and fine-tuned models (the jobs API's isolation otherwise).
    ("0002_api_key_admin", "ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0"),
]


@dataclass
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    admin: bool = False


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, path: str | Path | None = None):
        self.conn = open_db(path or home() / "keys.db", MIGRATIONS)

    def create(self, name: str, admin: bool = False) -> tuple[str, ApiKey]:
        """A new key for `name`, its owner: keys with the same name share the owner's files, jobs and models."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:10]
        cur = self.conn.execute(
            "INSERT INTO api_keys (name, prefix, sha256, created_at, admin) VALUES (?,?,?,?,?)",
            (name, prefix, _digest(key), utc_now(), int(admin)),
        )
        return key, self._get(cur.lastrowid)

    def _get(self, key_id: int) -> ApiKey:
        row = self.conn.execute("SELECT id, name, prefix, created_at, revoked_at, admin FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return _key(row)

    def list(self) -> list[ApiKey]:
        rows = self.conn.execute("SELECT id, name, prefix, created_at, revoked_at, admin FROM api_keys ORDER BY id")
        return [_key(r) for r in rows]

    def active_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]

    def revoke(self, ref: str) -> ApiKey:
        """Revoke by id, name or prefix; refuses a reference that matches more than one active key."""
        rows = self.conn.execute(
            "SELECT id FROM api_keys WHERE revoked_at IS NULL AND (CAST(id AS TEXT) = ? OR name = ? OR prefix = ?)",
            (ref, ref, ref),
        ).fetchall()
        if not rows:
            raise LookupError(f"{ref!r}: no active API key with that id, name or prefix (see `tuneforge keys list`)")
        if len(rows) > 1:
            raise LookupError(f"{ref!r}: matches {len(rows)} active keys; revoke by id")
        self.conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (utc_now(), rows[0]["id"]))
        return self._get(rows[0]["id"])

    def verify(self, key: str) -> bool:
        return self.identify(key) is not None

    def identify(self, key: str) -> ApiKey | None:
        """The active key record for a presented secret (its owner and admin flag), or None."""
        digest = _digest(key)
        row = self.conn.execute("SELECT id, sha256 FROM api_keys WHERE sha256 = ? AND revoked_at IS NULL",
                                (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row["sha256"], digest):
            return None
        return self._get(row["id"])


def _key(row) -> ApiKey:
    d = dict(row)
    d["admin"] = bool(d["admin"])
    return ApiKey(**d)
