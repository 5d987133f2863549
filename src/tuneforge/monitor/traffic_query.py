"""Read, export and expire the traffic log: `tuneforge traffic list | export | prune`.

Export writes JSONL in the training format (`{"messages": [...]}`), with a reviewer's correction in place of the
model's answer where there is one, so reviewed traffic can go straight into `tuneforge data add`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tuneforge.data.messages import with_system
from tuneforge.monitor.feedback import request_messages, response_text
from tuneforge.monitor.traffic_log import MIGRATIONS, traffic_path
from tuneforge.sqlite_db import open_db


def query(variant: str | None = None, since: str | None = None, status: int | None = None,
          corrected_only: bool = False, limit: int | None = 100, path: str | Path | None = None) -> list[dict]:
    """Newest first. `variant` matches a version (`invoice:2`) or every version of a name (`invoice`)."""
    where, args = [], []
    if variant:
        where.append("(t.variant = ? OR t.variant LIKE ?)")
        args += [variant, f"{variant}:%"]
    if since:
        where.append("t.at >= ?")
        args.append(since)
    if status is not None:
        where.append("t.status = ?")
        args.append(status)
    if corrected_only:
        where.append("EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = t.request_id AND f.correct_output IS NOT NULL)")
    sql = ("SELECT t.*, (SELECT f.correct_output FROM feedback f WHERE f.request_id = t.request_id AND "
           "f.correct_output IS NOT NULL ORDER BY f.id DESC LIMIT 1) AS correct_output FROM traffic t")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY t.id DESC" + (f" LIMIT {int(limit)}" if limit else "")
    conn = open_db(path or traffic_path(), MIGRATIONS)
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def training_row(row: dict, system_prompt: str | None = None) -> dict | None:
    """The logged exchange as a training example (the correction wins over the model's answer); None if there is
    no answer to learn."""
    answer = row.get("correct_output") if row.get("correct_output") is not None else response_text(row)
    if answer is None or not row.get("request_json"):
        return None
    messages = request_messages(row)
    return {"messages": with_system(messages, system_prompt) + [{"role": "assistant", "content": answer}]}


def export_jsonl(rows: list[dict], out: str | Path, system_prompt: str | None = None) -> int:
    n = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for r in reversed(rows):  # oldest first, as the traffic arrived
            ex = training_row(r, system_prompt)
            if ex is not None and r["status"] == 200:
                f.write(json.dumps(ex, ensure_ascii=False) + "\n")
                n += 1
    return n


def prune(days: int, path: str | Path | None = None) -> int:
    """Delete traffic (and the feedback on it) older than `days`; return the number of requests deleted."""
    cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    conn = open_db(path or traffic_path(), MIGRATIONS)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM feedback WHERE request_id IN (SELECT request_id FROM traffic WHERE at < ?)",
                         (cutoff,))
            n = conn.execute("DELETE FROM traffic WHERE at < ?", (cutoff,)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return n
    finally:
        conn.close()
