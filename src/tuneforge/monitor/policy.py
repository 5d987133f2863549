"""Alert rules over the latest monitoring window, and whether they call for a retrain (config: MonitorPolicy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.config import MonitorPolicy, load_policy
from tuneforge.paths import home


@dataclass
class Verdict:
    alerts: list[str] = field(default_factory=list)
    corrections: int = 0
    retrain: bool = False
    reason: str = ""


def policy_path(name: str) -> Path:
    return home() / "monitor" / name / "policy.yaml"


def policy_for(name: str, path: str | None = None) -> MonitorPolicy:
    """--policy FILE, else TUNEFORGE_HOME/monitor/<name>/policy.yaml, else the defaults."""
    return load_policy(path or policy_path(name.split(":")[0].split("@")[0]))


def alerts(window: dict | None, policy: MonitorPolicy) -> list[str]:
    if not window or window["requests"] < policy.window:
        # A partial window is too small for the tests' false-alarm rates to hold (PSI over 25 requests swings past
        # 1.0 on unchanged data): wait until a full window has been served.
        return []
    out = []
    est = window.get("estimated_accuracy") or {}
    if est.get("ci") and est["ci"][1] < policy.min_estimated_accuracy:
        out.append(f"estimated accuracy {est['value']:.3f} (95% CI {est['ci'][0]:.3f}-{est['ci'][1]:.3f}) is below "
                   f"{policy.min_estimated_accuracy}")
    ld = window.get("label_drift")
    if ld and ld.get("p_value") is not None and ld["p_value"] < policy.drift_p_value \
            and ld["js_distance"] > policy.max_label_drift:
        new = f"; new: {', '.join(ld['new_categories'])}" if ld["new_categories"] else ""
        out.append(f"label distribution drift: Jensen-Shannon distance {ld['js_distance']:.3f} > "
                   f"{policy.max_label_drift}, {ld['test']} p = {ld['p_value']:.2g}{new}")
    for key, name in (("length_psi", "input length"), ("vocabulary_psi", "vocabulary")):
        if window.get(key) is not None and window[key] > policy.max_input_psi:
            out.append(f"{name} PSI {window[key]:.3f} > {policy.max_input_psi}")
    auc = (window.get("domain") or {}).get("auc")
    if auc is not None and auc > policy.max_domain_auc:
        out.append(f"input drift: a domain classifier tells traffic from training inputs with ROC AUC {auc:.3f} > "
                   f"{policy.max_domain_auc}")
    return out


def decide(summary: dict, policy: MonitorPolicy, new_corrections: int) -> Verdict:
    """Retrain when an alert fires on the latest window and enough corrections wait to be learnt."""
    v = Verdict(alerts(summary.get("latest"), policy), new_corrections)
    if not v.alerts:
        v.reason = "no alert"
    elif new_corrections < policy.min_corrections:
        v.reason = f"alert, but only {new_corrections} of {policy.min_corrections} corrections collected"
    else:
        v.retrain, v.reason = True, f"alert and {new_corrections} corrections"
    return v
