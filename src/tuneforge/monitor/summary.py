"""The monitor's numbers: traffic of one variant cut into windows of N requests, each window measured against
the variant's training data (input drift), its own answers on its evaluation set (label drift) and, where reviewers looked, against the truth (accuracy).

Everything here reads stored rows and returns plain dicts, so the terminal summary, the HTML report, the alert
policy and the benchmark share one computation.
"""

from __future__ import annotations

import json

from tuneforge.data.labels import normalise_answer
from tuneforge.monitor import drift, intervals
from tuneforge.monitor.estimate import estimated_accuracy, measured_accuracy
from tuneforge.monitor.feedback import response_text
from tuneforge.monitor.request_inputs import input_text
from tuneforge.monitor.new_category import adjusted_estimate, reviewed_new_labels
from tuneforge.monitor.reference import Reference


def load_rows(conn, variants: list[str], last: int | None = None) -> list[dict]:
    """Traffic rows of these variants, oldest first, each with its latest feedback (correct_output and the
    source of that correction, rating)."""
    marks = ",".join("?" * len(variants))
    sql = (f"SELECT t.*, (SELECT f.correct_output FROM feedback f WHERE f.request_id = t.request_id AND "
           f"f.correct_output IS NOT NULL ORDER BY f.id DESC LIMIT 1) AS correct_output, "
           f"(SELECT f.source FROM feedback f WHERE f.request_id = t.request_id AND f.correct_output IS NOT NULL "
           f"ORDER BY f.id DESC LIMIT 1) AS correct_source, "
           f"(SELECT f.rating FROM feedback f WHERE f.request_id = t.request_id AND f.rating IS NOT NULL "
           f"ORDER BY f.id DESC LIMIT 1) AS rating FROM traffic t WHERE t.variant IN ({marks}) ORDER BY t.id")
    rows = [dict(r) for r in conn.execute(sql, variants)]
    return rows[-last:] if last else rows


def reviewed_correct(row: dict) -> bool | None:
    """Whether a reviewed answer was right: a correction equal to the answer or a positive rating says yes."""
    if row.get("correct_output") is not None:
        return normalise_answer(row["correct_output"]) == normalise_answer(response_text(row) or "")
    if row.get("rating") is not None:
        return row["rating"] > 0 if row["rating"] in (-1, 1) else row["rating"] >= 4
    return None


def _valid(answer: str | None, ref: Reference) -> bool:
    if answer is None:
        return False
    if ref.is_classification:
        return normalise_answer(answer) in ref.labels
    text = answer.strip()
    if text.startswith(("{", "[")):
        try:
            json.loads(text)
        except ValueError:
            return False
    return True


def _span_s(rows: list[dict]) -> float:
    """Seconds from the first request of the window to the last (the window's time span, for the volume rate)."""
    from datetime import datetime

    try:
        first, last = datetime.fromisoformat(rows[0]["at"]), datetime.fromisoformat(rows[-1]["at"])
    except (TypeError, ValueError, KeyError, IndexError):
        return 0.0
    return max((last - first).total_seconds(), 0.0)


def input_psi(inputs: list[str], ref: Reference) -> dict:
    """Input-length and vocabulary PSI of these inputs against the training inputs, each with its permutation
    test (monitor/drift.py)."""
    length = drift.psi_test([len(t) for t in ref.train_inputs], [len(t) for t in inputs])
    vocabulary = drift.vocabulary_psi_test(ref.train_inputs, inputs)
    return {"length_psi_test": length, "length_psi": length["value"],
            "vocabulary_psi_test": vocabulary, "vocabulary_psi": vocabulary["value"]}


def previous_window_psi(rows: list[dict], ref: Reference, window: int, charted: dict | None = None) -> dict | None:
    """The input PSI of the full window just before the latest one (requests -2N..-N, not overlapping it): the
    PSI rule asks both to exceed (monitor/policy.py). None until two full windows have been served. `charted`:
    that window's `window_stats` when the charts already computed it (the same rows give the same tests)."""
    if len(rows) < 2 * window:
        return None
    earlier = rows[-2 * window : -window]
    psi_keys = ("length_psi_test", "length_psi", "vocabulary_psi_test", "vocabulary_psi")
    out = ({k: charted[k] for k in psi_keys} if charted is not None
           else input_psi([input_text(r) for r in earlier if r["status"] == 200], ref))
    return {"requests": len(earlier), "first_id": earlier[0]["id"], "last_id": earlier[-1]["id"], **out}


def window_stats(rows: list[dict], ref: Reference, p_value: float = 0.01, domain: bool = True) -> dict:
    ok = [r for r in rows if r["status"] == 200]
    answers = [response_text(r) for r in ok]
    inputs = [input_text(r) for r in ok]
    latencies = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    # Every number comes with its interval or test (monitor/intervals.py); the plain scalar keys stay beside
    # them for readers that want the point value only.
    latency = {"n": len(latencies), "p50": intervals.percentile(latencies, 50),
               "p95": intervals.percentile(latencies, 95)}
    errors = intervals.wilson(len(rows) - len(ok), len(rows))
    valid = intervals.wilson(sum(_valid(a, ref) for a in answers), len(answers))
    out = {
        "from": rows[0]["at"] if rows else None, "to": rows[-1]["at"] if rows else None,
        "first_id": rows[0]["id"] if rows else None, "last_id": rows[-1]["id"] if rows else None,
        "requests": len(rows), "volume": intervals.poisson_rate(len(rows), _span_s(rows)),
        "error_rate": errors["value"], "error": errors,
        "latency_p50_ms": latency["p50"]["value"], "latency_p95_ms": latency["p95"]["value"], "latency": latency,
        "validity": valid["value"], "valid": valid,
    }
    if ref.is_classification and answers:
        counts: dict[str, int] = {}
        for a in answers:
            key = normalise_answer(a or "")
            counts[key] = counts.get(key, 0) + 1
        out["labels"] = counts
        out["label_drift"] = drift.label_drift(ref.label_reference, counts, known=ref.labels)
        ld = out["label_drift"]
        ld["reference"] = ref.label_reference_name
        ld["reference_kind"] = "eval answers" if ref.eval_answers else "training labels"
        significant = ld["p_value"] is not None and ld["p_value"] < p_value
        out["label_drift"]["drifted"] = significant if ld["test"] == "chi-square" else ld["js_distance"] > 0.1
    out.update(input_psi(inputs, ref))
    out["length_test"] = drift.numeric_drift([len(t) for t in ref.train_inputs], [len(t) for t in inputs])
    out["domain"] = drift.domain_classifier_auc(ref.train_inputs, inputs) if domain and inputs and ref.train_inputs \
        else {"auc": None, "ci": None}
    confidences = [r["confidence"] for r in ok if r.get("confidence") is not None]
    out["confidence"] = intervals.mean(confidences)
    out["confidence_mean"] = out["confidence"]["value"]
    out["scored"] = len(confidences)
    out["estimated_accuracy"] = estimated_accuracy(confidences)
    reviewed = [c for c in (reviewed_correct(r) for r in ok) if c is not None]
    out["measured_accuracy"] = measured_accuracy(reviewed)
    if ref.is_classification:
        # Labels outside the label set that reviewers corrected answers to, and CBPE with that new category taken
        # out (monitor/new_category.py).
        out["new_labels_reviewed"] = reviewed_new_labels(ok, ref.labels, input_text)
        out["estimated_accuracy_adjusted"] = adjusted_estimate(ok, ref.labels, out["estimated_accuracy"])
    return out


def windows(rows: list[dict], size: int) -> list[list[dict]]:
    """Consecutive windows of `size` requests; the last, partial one is kept when it has at least half."""
    out = [rows[i : i + size] for i in range(0, len(rows), size)]
    if len(out) > 1 and len(out[-1]) < size // 2:
        out[-2].extend(out.pop())
    return out


def summarise(rows: list[dict], ref: Reference, window: int, p_value: float = 0.01, history: bool = True) -> dict:
    """Every window (for charts) and the latest `window` requests (for alerts); `history=False` skips the
    former when only the alert check is needed."""
    groups = windows(rows, window) if rows and history else []
    per_window = [window_stats(w, ref, p_value) for w in groups]
    corrections = sum(r.get("correct_output") is not None for r in rows)

    def charted(chunk: list[dict]) -> dict | None:
        # When the requests fill whole windows, the latest and the previous window are charted ones: their
        # permutation tests and domain classifier are computed once, not again for the alerts.
        return next((stats for g, stats in zip(groups, per_window)
                     if chunk and len(g) == len(chunk) and g[0]["id"] == chunk[0]["id"]), None)

    latest_rows = rows[-window:]
    latest = (charted(latest_rows) or window_stats(latest_rows, ref, p_value)) if rows else None
    return {"variant": ref.ref, "requests": len(rows), "window": window, "windows": per_window,
            "latest": latest,
            "previous": previous_window_psi(rows, ref, window, charted(rows[-2 * window : -window])),
            "corrections": corrections, "labels": ref.labels}
