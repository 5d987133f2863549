"""The comparison tables printed in the terminal."""

from __future__ import annotations


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _with_ci(value, ci) -> str:
    if ci is None:
        return _pct(value)
    return f"{100 * value:.1f}% [{100 * ci[0]:.0f}–{100 * ci[1]:.0f}]"


def _plain(text: str) -> str:
    """System names and data are shown as written: rich must not read "[...]" in them as markup."""
    from rich.markup import escape

    return escape(str(text))


def comparison_table(report: dict):
    from rich.table import Table

    systems = report["systems"]
    first = next(iter(systems.values()))
    metrics = list(first.get("metrics", {"exact_match": None}))
    level = int(round(100 * report.get("config", {}).get("confidence", 0.95)))
    table = Table(title=f"{report['task']} on {first['n']} held-out examples (metric [{level}% CI])")
    table.add_column("system")
    for m in metrics:
        table.add_column(m.replace("_", " "), justify="right")
    table.add_column("tokens in/out", justify="right")
    table.add_column("latency p50/p95", justify="right")
    has_cost = any(s.get("cost_per_1k_requests") is not None for s in systems.values())
    if has_cost:
        table.add_column("cost/1k req", justify="right")
    for name, s in systems.items():
        values = s.get("metrics", {"exact_match": s["exact_match"]})
        row = [_plain(name)] + [_with_ci(values[m], s.get("ci", {}).get(m)) for m in metrics]
        row.append(f"{s['mean_tokens_in']:.0f}/{s['mean_tokens_out']:.0f}")
        p50, p95 = s.get("latency_p50_s", s["mean_latency_s"]), s.get("latency_p95_s", s["mean_latency_s"])
        row.append(f"{1000 * p50:.0f}/{1000 * p95:.0f} ms")
        if has_cost:
            c = s.get("cost_per_1k_requests")
            row.append("-" if c is None else f"{c:.2f}")
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
        table.add_column(_plain(name), justify="right")
    labels = sorted({lab for s in systems.values() for lab in s["per_label_accuracy"]})
    for lab in labels:
        table.add_row(lab, *[_pct(s["per_label_accuracy"].get(lab)) for s in systems.values()])
    return table


def per_field_table(report: dict):
    from rich.table import Table

    systems = {k: v for k, v in report["systems"].items() if "per_field" in v.get("details", {})}
    if not systems:
        return None
    table = Table(title="F1 per field")
    table.add_column("field")
    for name in systems:
        table.add_column(_plain(name), justify="right")
    fields: list[str] = []
    for s in systems.values():
        fields += [f for f in s["details"]["per_field"] if f not in fields]
    for f in fields:
        table.add_row(f, *[_pct(s["details"]["per_field"].get(f, {}).get("f1")) for s in systems.values()])
    return table


def significance_table(report: dict):
    from rich.table import Table

    tests = report.get("significance") or []
    if not tests:
        return None
    table = Table(title=f"paired tests: {_plain(tests[0]['a'])} minus each system")
    table.add_column("vs")
    table.add_column("metric")
    table.add_column("delta [CI]", justify="right")
    table.add_column("p", justify="right")
    for t in tests:
        p = t["p_value"]
        if "mcnemar" in t:
            p_text = f"{p:.3g} (McNemar {t['mcnemar']['p_value']:.3g})"
        else:
            p_text = f"{p:.3g}"
        table.add_row(_plain(t["b"]), t["metric"], f"{100 * t['delta']:+.1f} [{100 * t['ci'][0]:+.0f}, {100 * t['ci'][1]:+.0f}]", p_text)
    return table


def print_report(report: dict, console=None) -> None:
    from rich.console import Console

    console = console or Console()
    for make in (comparison_table, per_label_table, per_field_table, significance_table):
        table = make(report)
        if table is not None:
            console.print(table)
    for name, leak in (report.get("leakage") or {}).items():
        if leak.get("overlap"):
            console.print(f"[bold red]leakage:[/] {leak['overlap']} held-out inputs occur in {_plain(name)}'s training data")
    judge = report.get("judge")
    if judge:
        for name, r in judge["results"].items():
            rate = "-" if r["win_rate"] is None else f"{100 * r['win_rate']:.0f}%"
            console.print(f"judge {_plain(judge['model'])}: {_plain(name)} vs {_plain(judge['against'])}: {r['wins']} wins, "
                          f"{r['losses']} losses, {r['ties']} ties (win rate {rate})")
    if report.get("recommendation"):
        console.print(f"\n[bold]Recommendation.[/] {_plain(report['recommendation'])}\n")
    console.print(f"per-example predictions: {report.get('path', '-')}")
    if report.get("html_path"):
        console.print(f"HTML report: {report['html_path']}")
