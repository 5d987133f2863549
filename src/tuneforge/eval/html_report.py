"""A self-contained HTML report of an eval.json: charts as inline SVG, styles inline, no scripts."""

from __future__ import annotations

from html import escape

from tuneforge.eval import svg
from tuneforge.eval.eval_file import EvalReport, interval_methods, tokens_read
from tuneforge.eval.recommend import recommendation
from tuneforge.milliseconds import milliseconds

STYLE = """
body{font-family:sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:4px 8px;
vertical-align:top;text-align:left}th{background:#f4f4f4}td.num{text-align:right}
.recommendation{background:#f2f7ff;border-left:4px solid #4c78a8;padding:.8rem 1rem}
.warn{background:#fff4e5;border-left:4px solid #f58518;padding:.5rem 1rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}pre{white-space:pre-wrap;margin:0;font-size:.8rem;max-width:330px}.wrong{background:#fdecea}.right{background:#eaf6ec}
"""


def _example_score(task: str, row: dict) -> float:
    """One number per example, higher is better, used to find the worst errors."""
    if task == "classification":
        return row["correct"]
    if task == "extraction":
        f = row["fields"].values()
        tp, fp, fn = (sum(x[k] for x in f) for k in ("tp", "fp", "fn"))
        return tp / (tp + fp + fn) if tp + fp + fn else 1.0
    if task == "structured":
        return 0.5 * row["format_ok"] + 0.5 * row["rouge_l"]
    return row["rouge_l"]


def _focus_system(report: dict) -> str:
    return EvalReport(report).default_system()


def _metric_charts(report: dict) -> str:
    systems = report["systems"]
    metrics = report.get("headline_metrics") or list(next(iter(systems.values()))["metrics"])
    charts = []
    for m in metrics:
        if m == "out_of_label_share":
            continue
        bars = [(name, s["metrics"][m], s.get("ci", {}).get(m)) for name, s in systems.items()]
        charts.append(svg.metric_bars(f"{m.replace('_', ' ')} (with {_level(report)}% interval)", bars, width=540))
    return f'<div class="charts">{"".join(charts)}</div>'


def _level(report: dict) -> int:
    return int(round(100 * report.get("config", {}).get("confidence", 0.95)))


def _table(table_id: str, headers: list[str], rows) -> str:
    """A table with one header row (`headers`, as text) over `rows` (each a whole <tr>...</tr>)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table id="{table_id}"><tr>{head}</tr>{"".join(rows)}</table>'


def _systems_table(report: dict) -> str:
    systems = report["systems"]
    metrics = list(next(iter(systems.values()))["metrics"])
    rows = []
    for name, s in systems.items():
        cells = []
        for m in metrics:
            ci = s.get("ci", {}).get(m)
            extra = f" <small>[{100 * ci[0]:.1f}–{100 * ci[1]:.1f}]</small>" if ci else ""
            cells.append(f'<td class="num">{100 * s["metrics"][m]:.1f}%{extra}</td>')
        cost = s.get("cost_per_1k_requests")
        tokens_in, tokens_out = tokens_read(s) or ("-", "-")
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{escape(s.get('decoding', 'free'))}</td>{''.join(cells)}"
            f'<td class="num">{tokens_in}</td><td class="num">{tokens_out}</td>'
            f'<td class="num">{milliseconds(1000 * s.get("latency_p50_s", 0))}</td>'
            f'<td class="num">{milliseconds(1000 * s.get("latency_p95_s", 0))}</td>'
            f'<td class="num">{"-" if cost is None else f"{cost:.2f}"}</td></tr>'
        )
    return _table("systems", ["system", "decoding", *metrics, "tokens in", "tokens out", "p50 ms",
                              "p95 ms", "cost / 1k requests"], rows)


def _classical(report: dict) -> str:
    rows = []
    for name, s in report["systems"].items():
        c = s.get("classical") if s.get("kind") == "classical" else None
        if c:
            rows.append(f"<tr><td>{escape(name)}</td><td>{escape(str(c.get('features', '')))}</td>"
                        f'<td class="num">{c.get("train_examples", "")}</td><td class="num">{c.get("fit_s", 0):.2f}</td>'
                        f'<td class="num">{c.get("predict_ms_per_example", 0):.3f}</td></tr>')
    if not rows:
        return ""
    return ("<h2>Non-LLM baselines</h2><p>Trained on the variant's own training split (never its held-out rows); "
            "scored above like every other system.</p>"
            + _table("classical", ["system", "features", "training rows", "fit s", "predict ms / example"], rows))


def _significance_row(t: dict) -> str:
    mcnemar = f'{t["mcnemar"]["p_value"]:.3g}' if "mcnemar" in t else "-"
    return (
        f"<tr><td>{escape(t['a'])}</td><td>{escape(t['b'])}</td><td>{escape(t['metric'])}</td>"
        f'<td class="num">{100 * t["delta"]:+.1f}</td>'
        f'<td class="num">[{100 * t["ci"][0]:+.1f}, {100 * t["ci"][1]:+.1f}]</td>'
        f'<td class="num">{t["p_value"]:.3g}</td><td class="num">{mcnemar}</td></tr>'
    )


def _significance(report: dict) -> str:
    tests = report.get("significance") or []
    if not tests:
        return ""
    return "<h2>Paired significance</h2>" + _table(
        "significance", ["a", "b", "metric", "a − b (points)", "interval", "p (paired bootstrap)", "p (McNemar)"],
        (_significance_row(t) for t in tests))


def _task_charts(report: dict) -> str:
    systems = report["systems"]
    out = []
    if report["task"] == "classification":
        focus = _focus_system(report)
        prompted = [n for n, s in systems.items() if s.get("kind") not in ("variant", "classical")]
        metric = next(iter(systems[focus]["metrics"]))
        best_prompted = max(prompted, key=lambda n: systems[n]["metrics"][metric]) if prompted else None
        for name in dict.fromkeys([focus, best_prompted]):
            if name and "confusion" in systems[name].get("details", {}):
                cm = systems[name]["details"]["confusion"]
                out.append(svg.confusion_heatmap(f"confusion matrix: {name}", cm["labels"], cm["columns"], cm["counts"]))
    if report["task"] == "extraction":
        with_fields = {n: s["details"]["per_field"] for n, s in systems.items() if "per_field" in s.get("details", {})}
        fields: list[str] = []
        for pf in with_fields.values():
            fields += [f for f in pf if f not in fields]
        series = {n: [pf.get(f, {}).get("f1", 0.0) for f in fields] for n, pf in with_fields.items()}
        out.append(svg.grouped_bars("F1 per field", fields, series))
    return "<h2>Task details</h2>" + "".join(out) if out else ""


def _latency(report: dict) -> str:
    series = {n: [ex["timing"][n]["latency_s"] for ex in report["examples"] if n in ex.get("timing", {})]
              for n in report["systems"]}
    series = {n: v for n, v in series.items() if v}
    if not series:
        return ""
    return ("<h2>Latency per example</h2><p>Local systems generate in batches; an example's latency is its batch's "
            "wall time divided by the batch size.</p>" + svg.latency_strip("latency distribution (p50 solid, p95 dashed)", series))


def worst_examples(report: dict, limit: int = 12) -> tuple[str, list[str], list[dict]]:
    """(the focus system, the systems to show beside it, its worst-scored examples that are not fully right):
    what this report's table and the web app's Compare page show."""
    focus = _focus_system(report)
    scored = [ex for ex in report.get("examples", []) if focus in ex.get("scores", {})]
    worst = sorted(scored, key=lambda ex: _example_score(report["task"], ex["scores"][focus]))[:limit]
    worst = [ex for ex in worst if _example_score(report["task"], ex["scores"][focus]) < 1.0]
    shown = [n for n, s in report["systems"].items() if s.get("decoding", "free") != "constrained" or n == focus]
    return focus, shown, worst


def example_right(report: dict, example: dict, system: str) -> bool:
    """Whether `system` got `example` fully right."""
    row = example.get("scores", {}).get(system)
    return row is not None and _example_score(report["task"], row) >= 1.0


def _worst_errors(report: dict, limit: int = 12) -> str:
    focus, shown, worst = worst_examples(report, limit)
    if not worst:
        return f"<h2>Worst errors</h2><p>{escape(focus)} made no errors.</p>"
    rows = []
    for ex in worst:
        cells = []
        for n in shown:
            good = example_right(report, ex, n)
            cells.append(f'<td class="{"right" if good else "wrong"}"><pre>{escape(ex["predictions"].get(n, ""))}</pre></td>')
        rows.append(f"<tr><td>{ex.get('line') or ''}</td><td><pre>{escape(ex['input'])}</pre></td>"
                    f"<td><pre>{escape(ex['reference'])}</pre></td>{''.join(cells)}</tr>")
    return (f"<h2>Worst errors of {escape(focus)}, side by side</h2>"
            + _table("worst-errors", ["line", "input", "reference", *shown], rows))


def _warnings(report: dict) -> str:
    out = []
    for name, leak in (report.get("leakage") or {}).items():
        if leak.get("overlap"):
            out.append(f'<p class="warn">Leakage: {leak["overlap"]} held-out inputs (lines {leak["lines"][:10]}) also '
                       f"occur in the training data of {escape(name)} ({escape(str(leak['train_data']))}).</p>")
        elif leak.get("checked"):
            out.append(f"<p>Leakage check: no held-out input occurs in the training data of {escape(name)}.</p>")
    return "".join(out)


def _rate(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _judge(report: dict) -> str:
    judge = report.get("judge")
    if not judge:
        return ""
    rows = (
        f"<tr><td>{escape(n)}</td><td class=\"num\">{r['wins']}</td><td class=\"num\">{r['losses']}</td>"
        f"<td class=\"num\">{r['ties']}</td><td class=\"num\">{_rate(r['win_rate'])}</td></tr>"
        for n, r in judge["results"].items()
    )
    return (f"<h2>LLM judge ({escape(judge['model'])}, against {escape(judge['against'])}, randomised order)</h2>"
            + _table("judge", ["system", "wins", "losses", "ties", "win rate"], rows))


def _interval_note(report: dict) -> str:
    methods = interval_methods(report)
    return f'<p class="note">Intervals ({_level(report)}%): {escape(methods)}.</p>' if methods else ""


def _calibration(report: dict) -> str:
    rows = [f"<tr><td>{escape(name)}</td><td class=\"num\">{100 * c['mean_confidence']:.1f}%</td>"
            f"<td class=\"num\">{100 * c['accuracy']:.1f}%</td><td class=\"num\">{100 * c['ece']:.1f}%</td></tr>"
            for name, s in report["systems"].items() if (c := s.get("calibration"))]
    if not rows:
        return ""
    return ("<h2>Calibration</h2><p>The systems that state a probability with each answer, on these held-out rows: "
            "the mean stated probability against the share answered right, and the expected calibration error over "
            "confidence bins (0 is perfectly honest).</p>"
            + _table("calibration", ["system", "mean confidence", "accuracy", "ECE"], rows))


def render_html(report: dict) -> str:
    n = next(iter(report["systems"].values()))["n"]
    text = report.get("recommendation") or recommendation(report)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>tuneforge eval: {escape(report['task'])}</title><style>{STYLE}</style></head><body>"
        f"<h1>Evaluation: {escape(report['task'])} on {n} held-out examples</h1>"
        f"<p>Data: <code>{escape(report['data'])}</code> · model: <code>{escape(report['model'])}</code> · "
        f"base: <code>{escape(str(report.get('base')))}</code> · {escape(report.get('created_at', ''))}</p>"
        f'<div class="recommendation" id="recommendation"><strong>Recommendation.</strong> {escape(text)}</div>'
        f"{_warnings(report)}<h2>Systems</h2>{_systems_table(report)}{_interval_note(report)}{_metric_charts(report)}"
        f"{_classical(report)}{_calibration(report)}"
        f"{_significance(report)}{_task_charts(report)}{_latency(report)}{_judge(report)}{_worst_errors(report)}"
        "</body></html>"
    )
