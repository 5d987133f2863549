"""Tables of registered variants for the terminal."""

from __future__ import annotations


def _tuned(v) -> dict:
    """The fine-tuned system of the variant's registered evaluation."""
    from tuneforge.eval.eval_file import PRIMARY

    return ((v.metrics.get("eval") or {}).get("systems") or {}).get(PRIMARY, {})


def _score(v) -> str:
    """The fine-tuned system's accuracy, the registry's headline number (version-1 eval.json: exact match)."""
    tuned = _tuned(v)
    score = tuned.get("metrics", {}).get("accuracy", tuned.get("exact_match"))
    return "-" if score is None else f"{100 * score:.1f}%"


def _calibration_error(v) -> str:
    """Expected calibration error of the variant's stated probabilities on the evaluated rows (eval.json
    `calibration`, classification variants): whether its confidences can be used as thresholds."""
    ece = (_tuned(v).get("calibration") or {}).get("ece")
    return "-" if ece is None else f"{100 * ece:.1f}%"


def variants_table(name=None, include_archived=False):
    from rich.table import Table

    from tuneforge.registry.store import Registry

    table = Table(title="registered variants")
    for col in ("variant", "stage", "base", "data hash", "accuracy", "calibration error", "registered", "run folder"):
        table.add_column(col)
    for v in Registry().list(name, include_archived=include_archived):
        table.add_row(v.ref, v.stage, v.base, (v.dataset_hash or "-")[:19], _score(v), _calibration_error(v),
                      v.registered_at, v.run_path)
    if not table.rows:
        table.caption = "none yet: tuneforge models register RUN_FOLDER --name NAME"
    return table
