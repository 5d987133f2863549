"""Alert rules over the latest monitoring window, and whether they call for a retrain (config: MonitorPolicy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.config import MonitorPolicy, load_policy
from tuneforge.paths import home

PSI_SIGNIFICANCE = 0.05  # a PSI alert also needs its permutation test (monitor/drift.py) at this level
# ... and it must hold in the latest full window and in the full window before it (non-overlapping): the check runs
# every few requests on a sliding window, so a single-window test at 5% fires now and then on unchanged traffic
# (1 retrain in 6 unchanged streams of 3,500 requests, benchmarks/RESULTS.md); a real shift stays, a chance
# excursion of one window does not (an alerting rule's "for" duration).


@dataclass
class Verdict:
    alerts: list[str] = field(default_factory=list)
    corrections: int = 0
    retrain: bool = False
    fresh_inputs: int | None = None  # distinct held-out reviewed inputs no earlier gate read (None: not counted)
    reason: str = ""


def policy_path(name: str) -> Path:
    return home() / "monitor" / name / "policy.yaml"


def policy_for(name: str, path: str | None = None) -> MonitorPolicy:
    """--policy FILE, else TUNEFORGE_HOME/monitor/<name>/policy.yaml, else the defaults."""
    return load_policy(path or policy_path(name.split(":")[0].split("@")[0]))


def _reference_word(ld: dict) -> str:
    """How an alert names the label-drift reference (monitor/reference.py): the variant's eval answers or the
    training labels (the fallback, and what older summaries without the key were compared with)."""
    return "reference answers" if ld.get("reference_kind") == "eval answers" else "training"


def update_policy(name: str, changes: dict) -> MonitorPolicy:
    """Set `changes` in the name's policy file, keeping every other key it holds (defaults stay defaults, not
    frozen into the file); validated as a whole before the file is replaced (a temporary file renamed into place,
    so a reader never sees half of it). Returns the policy now in force."""
    import yaml

    from tuneforge.atomic import write_text_atomic
    from tuneforge.config import build_config, load_yaml_values

    path = policy_path(name)
    values = {**(load_yaml_values(path) if path.is_file() else {}), **changes}
    policy = build_config(MonitorPolicy, values, source=str(path))
    write_text_atomic(path, yaml.safe_dump(values, sort_keys=False))
    return policy


def new_category_alerts(window: dict | None, policy: MonitorPolicy) -> list[str]:
    """Reviewers corrected `min_new_label_reviews` distinct inputs to one label the variant cannot answer
    (monitor/new_category.py). Not a sampling statistic, so a partial window counts too."""
    if not window or not policy.min_new_label_reviews:
        return []
    return [f"new category named by reviewers: {label!r} ({n} distinct inputs corrected to a label outside the "
            f"label set; rule: {policy.min_new_label_reviews})"
            for label, n in (window.get("new_labels_reviewed") or {}).items() if n >= policy.min_new_label_reviews]


def _psi_exceeds(window: dict | None, key: str, policy: MonitorPolicy) -> bool:
    """PSI over the limit, and over what same-distribution samples of this size reach (the permutation test)."""
    if not window or window.get(key) is None or window[key] <= policy.max_input_psi:
        return False
    p = (window.get(f"{key}_test") or {}).get("p_value")
    return p is None or p < PSI_SIGNIFICANCE


def alerts(window: dict | None, policy: MonitorPolicy, previous: dict | None = None) -> list[str]:
    """Alerts on the latest window; `previous` is the input PSI of the full window before it
    (monitor/summary.py), which a PSI alert needs too (PSI_SIGNIFICANCE above); without it no PSI alert."""
    found = new_category_alerts(window, policy)
    if not window or window["requests"] < policy.window:
        # A partial window is too small for the tests' false-alarm rates to hold (PSI over 25 requests swings past
        # 1.0 on unchanged data): wait until a full window has been served.
        return found
    out = found
    est = window.get("estimated_accuracy") or {}
    if est.get("ci") and est["ci"][1] < policy.min_estimated_accuracy:
        out.append(f"estimated accuracy {est['value']:.3f} (95% CI {est['ci'][0]:.3f}-{est['ci'][1]:.3f}) is below "
                   f"{policy.min_estimated_accuracy}")
    ld = window.get("label_drift")
    if ld and ld.get("p_value") is not None and ld["p_value"] < policy.drift_p_value \
            and ld["js_distance"] > policy.max_label_drift:
        new = f"; new: {', '.join(ld['new_categories'])}" if ld["new_categories"] else ""
        out.append(f"label distribution drift: Jensen-Shannon distance {ld['js_distance']:.3f} > "
                   f"{policy.max_label_drift}, chi-square p = {ld['p_value']:.2g} (n = {ld['n_reference']} "
                   f"{_reference_word(ld)} vs {ld['n_current']} answers){new}")
    for key, name in (("length_psi", "input length"), ("vocabulary_psi", "vocabulary")):
        if not (_psi_exceeds(window, key, policy) and _psi_exceeds(previous, key, policy)):
            continue
        test = window.get(f"{key}_test") or {}
        detail = (f" (permutation p = {test['p_value']:.2g}; same-distribution 95% threshold {test['threshold']:.3f} "
                  f"at n = {test['n_reference']} vs {test['n_current']})" if test.get("p_value") is not None else "")
        before = (previous.get(f"{key}_test") or {}).get("p_value")
        out.append(f"{name} PSI {window[key]:.3f} > {policy.max_input_psi}{detail}, and {previous[key]:.3f}"
                   + (f" (p = {before:.2g})" if before is not None else "") + " in the window before it")
    domain = window.get("domain") or {}
    auc = domain.get("auc")
    if auc is not None and auc > policy.max_domain_auc:
        ci = f" (95% CI {domain['ci'][0]:.3f}-{domain['ci'][1]:.3f})" if domain.get("ci") else ""
        out.append(f"input drift: a domain classifier tells traffic from training inputs with ROC AUC {auc:.3f}{ci} > "
                   f"{policy.max_domain_auc}")
    return out


def decide(summary: dict, policy: MonitorPolicy, new_corrections: int, fresh_inputs: int | None = None) -> Verdict:
    """Retrain when an alert fires on the latest window, enough corrections wait to be learnt, and (when counted)
    enough distinct fresh inputs wait for the gate to test the new version on (monitor/fresh_evidence.py)."""
    v = Verdict(alerts(summary.get("latest"), policy, summary.get("previous")), new_corrections,
                fresh_inputs=fresh_inputs)
    if not v.alerts:
        v.reason = "no alert"
    elif new_corrections < policy.min_corrections:
        v.reason = f"alert, but only {new_corrections} of {policy.min_corrections} corrections collected"
    elif fresh_inputs is not None and fresh_inputs < policy.min_fresh_inputs:
        v.reason = (f"alert and {new_corrections} corrections, but only {fresh_inputs} of {policy.min_fresh_inputs} "
                    f"distinct fresh inputs held out for the gate (min_fresh_inputs)")
    else:
        fresh = f", {fresh_inputs} distinct fresh inputs" if fresh_inputs is not None else ""
        v.retrain, v.reason = True, f"alert and {new_corrections} corrections{fresh}"
    return v
