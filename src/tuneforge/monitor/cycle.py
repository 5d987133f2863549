"""One pass of the maintenance cycle for a variant: score new traffic, measure, check the policy, and retrain
when it says so. `tuneforge monitor` runs it; the benchmark runs it after every batch of simulated traffic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneforge.config import MonitorPolicy
from tuneforge.monitor.policy import Verdict, decide


@dataclass
class CycleResult:
    summary: dict
    verdict: Verdict
    retrain: object = None  # monitor.retrain.RetrainResult when one ran
    html_path: Path | None = None


def production_corrections(conn, version: str, after_feedback_id: int = 0) -> int:
    """Corrections of answers given by `version` that no retrain has used yet (feedback ids above
    `after_feedback_id`): what it has not learnt from."""
    return conn.execute("SELECT COUNT(DISTINCT f.request_id) FROM feedback f WHERE f.variant = ? AND "
                        "f.correct_output IS NOT NULL AND f.id > ?", (version, after_feedback_id)).fetchone()[0]


def last_retrain_feedback_id(name: str, version: str) -> int:
    """The newest feedback id the last retrain from `version` learnt from or tested on (0: none ran). A retrain
    the gate refused must not fire again on the same corrections at the next check: it waits for new ones. Only
    retrains that reached the gate count: one stopped half-way (killed, out of memory) decided nothing."""
    from tuneforge.registry import lineage

    used = [e["detail"].get("feedback_upto") or 0 for e in lineage.events(name)
            if e["step"] == "gate" and e["parent_ref"] == version]
    return max(used, default=0)


def run_cycle(spec: str, policy: MonitorPolicy, score: bool = True, html: str | Path | None = None,
              allow_retrain: bool | None = None, log=print, scorers: dict | None = None,
              path: str | Path | None = None, history: bool = True) -> CycleResult:
    from tuneforge.monitor.confidence import fill_missing
    from tuneforge.monitor.fresh_evidence import fresh_inputs_waiting
    from tuneforge.monitor.reference import load_reference, variant_names
    from tuneforge.monitor.summary import load_rows, summarise
    from tuneforge.monitor.traffic_log import MIGRATIONS, traffic_path
    from tuneforge.monitor.traffic_query import prune
    from tuneforge.registry.store import Registry
    from tuneforge.sqlite_db import open_db

    registry = Registry()
    try:
        ref = load_reference(spec, registry)
        names = variant_names(registry, spec)
        current = registry.get(spec).ref
    finally:
        registry.close()
    if policy.retention_days:
        gone = prune(policy.retention_days, path)
        if gone:
            log(f"retention: deleted {gone} requests older than {policy.retention_days} days")
    conn = open_db(path or traffic_path(), MIGRATIONS)
    try:
        if score and ref.is_classification:
            for version in names:
                scorer = (scorers or {}).get(version)
                n = fill_missing(conn, ref if version == ref.ref else load_reference(version), [version],
                                 scorer=scorer)
                if n:
                    log(f"scored {n} answers of {version} against the label set")
        rows = load_rows(conn, names)
        summary = summarise(rows, ref, policy.window, policy.drift_p_value, history)
        summary["reference_labels"] = ref.label_reference  # what label drift compares with (monitor/reference.py)
        summary["label_reference"] = ref.label_reference_name
        # Retrains learn from the default traffic log, so only its feedback ids are comparable.
        own_log = path is None or Path(path).resolve() == Path(traffic_path()).resolve()
        used = last_retrain_feedback_id(ref.name, current) if own_log else 0
        waiting = production_corrections(conn, current, used)
        # The retrain reads every version's corrections; its gate needs held-out inputs no earlier gate has read.
        fresh = fresh_inputs_waiting(conn, names, policy.fresh_share, used)
    finally:
        conn.close()
    verdict = decide(summary, policy, waiting, fresh)
    result = CycleResult(summary, verdict)
    if html:
        from tuneforge.monitor.report_html import render_html

        result.html_path = Path(html)
        result.html_path.write_text(render_html(summary, verdict.alerts), encoding="utf-8")
    auto = policy.auto_retrain if allow_retrain is None else allow_retrain
    if verdict.retrain and auto:
        from tuneforge.monitor.retrain import retrain

        result.retrain = retrain(ref.name, policy, log=log, reason="; ".join(verdict.alerts))
    return result
