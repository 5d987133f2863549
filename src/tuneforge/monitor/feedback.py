"""Feedback on served answers: a correct output, or a rating with a comment, tied to the request by its id.

The OpenAI `id` of every response (`chatcmpl-...`, `cmpl-...`) is stored with the traffic row, so feedback names
the request it is about; it is stored with the variant version that answered and the API key that sent it (the
key's id and prefix, never the key). Corrections become training data in `tuneforge retrain`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tuneforge.monitor.traffic_log import MIGRATIONS, traffic_path
from tuneforge.sqlite_db import open_db, utc_now


class UnknownRequest(LookupError):
    """Feedback names a request id the traffic log does not hold."""


@dataclass
class Feedback:
    id: int
    at: str
    request_id: str
    variant: str | None
    correct_output: str | None
    rating: int | None
    comment: str | None
    api_key: str | None
    source: str


class FeedbackStore:
    """Feedback rows live in traffic.db beside the requests they are about (one database, one migration list)."""

    def __init__(self, path: str | Path | None = None):
        self.conn = open_db(path or traffic_path(), MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    def request(self, request_id: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM traffic WHERE request_id = ? ORDER BY id LIMIT 1", (request_id,)).fetchone()
        return dict(row) if row else None

    def add(self, request_id: str, correct_output: str | None = None, rating: int | None = None,
            comment: str | None = None, api_key: str | None = None, source: str = "api") -> Feedback:
        if correct_output is None and rating is None:
            raise ValueError("feedback needs correct_output or rating")
        row = self.request(request_id)
        if row is None:
            raise UnknownRequest(f"no logged request has the id {request_id!r}")
        cur = self.conn.execute(
            "INSERT INTO feedback (at, request_id, variant, correct_output, rating, comment, api_key, source)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (utc_now(), request_id, row["variant"], correct_output, rating, comment, api_key, source),
        )
        return self.get(cur.lastrowid)

    def get(self, feedback_id: int) -> Feedback:
        return Feedback(**dict(self.conn.execute("SELECT * FROM feedback WHERE id = ?", (feedback_id,)).fetchone()))

    def list(self, variant: str | None = None, variants: list[str] | None = None) -> list[Feedback]:
        sql, args = "SELECT * FROM feedback", []
        names = list(variants or []) + ([variant] if variant else [])
        if names:
            sql += f" WHERE variant IN ({','.join('?' * len(names))})"
            args = names
        return [Feedback(**dict(r)) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def corrections(self, variants: list[str]) -> list[dict]:
        """The latest correct output per request of these variants, with the logged request: [{traffic row...,
        "correct_output", "feedback_at"}]. A later correction of the same request replaces an earlier one."""
        marks = ",".join("?" * len(variants))
        rows = self.conn.execute(
            f"SELECT t.*, f.correct_output AS correct_output, f.at AS feedback_at, f.id AS feedback_id "
            f"FROM feedback f JOIN traffic t ON t.request_id = f.request_id "
            f"WHERE f.correct_output IS NOT NULL AND f.variant IN ({marks}) "
            f"AND f.id = (SELECT MAX(g.id) FROM feedback g WHERE g.request_id = f.request_id "
            f"AND g.correct_output IS NOT NULL) ORDER BY f.id", variants,
        ).fetchall()
        seen, out = set(), []
        for r in rows:
            if r["request_id"] not in seen:
                seen.add(r["request_id"])
                out.append(dict(r))
        return out


def request_messages(row: dict) -> list[dict]:
    """The chat messages of a logged request (a completions prompt becomes one user message)."""
    body = json.loads(row["request_json"] or "{}")
    if "messages" in body:
        # Content is a string, a list of parts, or absent (an assistant turn that only calls tools).
        return [{"role": m["role"], "content": m.get("content") if isinstance(m.get("content"), str)
                 else "".join(p.get("text", "") for p in m.get("content") or [] if isinstance(p, dict))}
                for m in body["messages"]]
    prompt = body.get("prompt")
    return [{"role": "user", "content": prompt if isinstance(prompt, str) else (prompt or [""])[0]}]


def response_text(row: dict) -> str | None:
    """The first answer of a logged response (a full OpenAI body, or the list of streamed choice texts)."""
    if not row.get("response_json"):
        return None
    body = json.loads(row["response_json"])
    if isinstance(body, list):
        return body[0] if body else None
    choice = (body.get("choices") or [{}])[0]
    return choice.get("message", {}).get("content") if "message" in choice else choice.get("text")
