"""Tables of registered variants for the terminal."""

from __future__ import annotations


def _score(v) -> str:
    """The fine-tuned system's accuracy, the registry's headline number (version-1 eval.json: exact match)."""
    tuned = ((v.metrics.get("eval") or {}).get("systems") or {}).get("fine-tuned", {})
    score = tuned.get("metrics", {}).get("accuracy", tuned.get("exact_match"))
    return "-" if score is None else f"{100 * score:.1f}%"


def variants_table(name=None, include_archived=False):
    from rich.table import Table

    from tuneforge.registry.store import Registry

    table = Table(title="registered variants")
    for col in ("variant", "stage", "base", "data hash", "accuracy", "registered", "run folder"):
        table.add_column(col)
    for v in Registry().list(name, include_archived=include_archived):
        table.add_row(v.ref, v.stage, v.base, (v.dataset_hash or "-")[:19], _score(v), v.registered_at, v.run_path)
    if not table.rows:
        table.caption = "none yet: tuneforge models register RUN_FOLDER --name NAME"
    return table
