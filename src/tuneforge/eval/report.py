"""The comparison table printed in the terminal."""

from __future__ import annotations


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def comparison_table(report: dict):
    from rich.table import Table

    systems = report["systems"]
    table = Table(title=f"{report['task']} on {report['systems'][next(iter(systems))]['n']} held-out examples")
    table.add_column("system")
    table.add_column("exact match", justify="right")
    has_labels = any("valid_label_rate" in s for s in systems.values())
    has_json = any("valid_json_rate" in s for s in systems.values())
    if has_labels:
        table.add_column("valid label", justify="right")
    if has_json:
        table.add_column("valid JSON", justify="right")
    table.add_column("tokens in", justify="right")
    table.add_column("latency/example", justify="right")
    for name, s in systems.items():
        row = [name, _pct(s["exact_match"])]
        if has_labels:
            row.append(_pct(s.get("valid_label_rate")))
        if has_json:
            row.append(_pct(s.get("valid_json_rate")))
        row += [f"{s['mean_tokens_in']:.0f}", f"{1000 * s['mean_latency_s']:.0f} ms"]
        table.add_row(*row)
    return table


def per_label_table(report: dict):
    from rich.table import Table

    systems = {k: v for k, v in report["systems"].items() if "per_label_accuracy" in v}
    if not systems:
        return None
    table = Table(title="accuracy per label")
    table.add_column("label")
    for name in systems:
        table.add_column(name, justify="right")
    labels = sorted({lab for s in systems.values() for lab in s["per_label_accuracy"]})
    for lab in labels:
        table.add_row(lab, *[_pct(s["per_label_accuracy"].get(lab)) for s in systems.values()])
    return table
