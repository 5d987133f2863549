"""The comparison tables printed in the terminal."""

from __future__ import annotations

from tuneforge.eval.eval_file import interval_methods, tokens_read
from tuneforge.milliseconds import milliseconds


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
    # The task's headline metrics only: the rest (e.g. field precision/recall) is in eval.json and the HTML.
    metrics = report.get("headline_metrics") or list(first.get("metrics", {}))
    level = int(round(100 * report.get("config", {}).get("confidence", 0.95)))
    table = Table(title=f"{report['task']} on {first['n']} held-out examples (metric [{level}% CI])")
    methods = interval_methods(report)
    if methods:
        table.caption = f"intervals: {methods}"
    table.add_column("system")
    for m in metrics:
        table.add_column(m.replace("_", " "), justify="right")
    table.add_column("tokens in/out", justify="right")
    table.add_column("latency p50/p95", justify="right")
    has_cost = any(s.get("cost_per_1k_requests") is not None for s in systems.values())
    if has_cost:
        table.add_column("cost/1k req", justify="right")
    for name, s in systems.items():
        values = s.get("metrics", {})
        row = [_plain(name)] + [_with_ci(values.get(m), s.get("ci", {}).get(m)) for m in metrics]
        tokens = tokens_read(s)
        row.append("/".join(tokens) if tokens else "-")
        p50, p95 = s.get("latency_p50_s", s["mean_latency_s"]), s.get("latency_p95_s", s["mean_latency_s"])
        row.append(f"{milliseconds(1000 * p50)}/{milliseconds(1000 * p95)} ms")
        if has_cost:
            c = s.get("cost_per_1k_requests")
            row.append("-" if c is None else f"{c:.2f}")
        table.add_row(*row)
    return table


def _per_key_table(report: dict, title: str, key_name: str, values) -> object | None:
    """Rows: a label or field; columns: the systems that have `values(system) -> {key: share}`."""
    from rich.table import Table

    systems = {k: values(v) for k, v in report["systems"].items() if values(v)}
    if not systems:
        return None
    table = Table(title=title)
    table.add_column(key_name)
    for name in systems:
        table.add_column(_plain(name), justify="right")
    keys: list[str] = []
    for per_key in systems.values():
        keys += [k for k in per_key if k not in keys]
    for k in keys:
        table.add_row(_plain(k), *[_pct(per_key.get(k)) for per_key in systems.values()])
    return table


def per_label_table(report: dict):
    return _per_key_table(report, "accuracy per label", "label", _recall_per_label)


def _recall_per_label(s: dict) -> dict:
    """Accuracy on the examples of each label is that label's recall."""
    return {k: v["recall"] for k, v in sorted(s.get("details", {}).get("per_class", {}).items())}


def per_field_table(report: dict):
    def f1(s):
        return {k: v["f1"] for k, v in s.get("details", {}).get("per_field", {}).items()}

    return _per_key_table(report, "F1 per field", "field", f1)


def classical_table(report: dict):
    """The non-LLM baselines: what they were trained on and what they cost (their scores are in the main table)."""
    from rich.table import Table

    rows = {n: s["classical"] for n, s in report["systems"].items() if s.get("kind") == "classical" and "classical" in s}
    if not rows:
        return None
    table = Table(title="non-LLM baselines, trained on the variant's training split")
    for col in ("system", "features", "train rows", "fit", "predict"):
        table.add_column(col, justify="left" if col in ("system", "features") else "right")
    for name, c in rows.items():
        table.add_row(_plain(name), _plain(c.get("features", "-")), str(c.get("train_examples", "-")),
                      f"{c['fit_s']:.1f} s" if "fit_s" in c else "-",
                      f"{c['predict_ms_per_example']:.2f} ms/example" if "predict_ms_per_example" in c else "-")
    return table


def calibration_table(report: dict):
    """The systems that give a probability with each answer: is it honest on these held-out rows?"""
    from rich.table import Table

    rows = {n: s["calibration"] for n, s in report["systems"].items() if s.get("calibration")}
    if not rows:
        return None
    bins = next(iter(rows.values()))["bins"]
    table = Table(title="calibration on these rows: the stated probability of each answer against how often it is "
                        "right")
    table.caption = f"ECE: expected calibration error over {bins} confidence bins (0 is perfectly honest)"
    for col in ("system", "mean confidence", "accuracy", "ECE"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for name, c in rows.items():
        table.add_row(_plain(name), _pct(c["mean_confidence"]), _pct(c["accuracy"]), _pct(c["ece"]))
    return table


def significance_table(report: dict):
    """Paired tests on the first headline metric (all metrics are in eval.json and the HTML report)."""
    from rich.table import Table

    tests = report.get("significance") or []
    if not tests:
        return None
    metric = tests[0]["metric"]
    table = Table(title=f"paired tests on {metric.replace('_', ' ')}: a minus b, in points [interval]")
    for col in ("a", "b"):
        table.add_column(col)
    table.add_column("a − b", justify="right")
    table.add_column("p", justify="right")
    for t in (t for t in tests if t["metric"] == metric):
        p_text = f"{t['p_value']:.3g}"
        if "mcnemar" in t:
            p_text += f" (McNemar {t['mcnemar']['p_value']:.3g})"
        delta = f"{100 * t['delta']:+.1f} [{100 * t['ci'][0]:+.0f}, {100 * t['ci'][1]:+.0f}]"
        table.add_row(_plain(t["a"]), _plain(t["b"]), delta, p_text)
    return table


def print_report(report: dict, console=None) -> None:
    from rich.console import Console

    console = console or Console()
    for make in (comparison_table, classical_table, calibration_table, per_label_table, per_field_table,
                 significance_table):
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
