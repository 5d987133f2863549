"""`tuneforge monitor --html`: one self-contained page of charts over time, drawn with the eval report's SVG
helpers (eval/svg.py), from the same summary dict the terminal shows."""

from __future__ import annotations

from html import escape

from tuneforge.eval.svg import line_chart, metric_bars


def _series(windows: list[dict], key: str, sub: str | None = None) -> list[float | None]:
    out = []
    for w in windows:
        v = w.get(key)
        out.append(v.get(sub) if isinstance(v, dict) and sub else v)
    return out


def render_html(summary: dict, alerts: list[str]) -> str:
    ws = summary["windows"]
    xs = [f"#{w['first_id']}" for w in ws]
    charts = [
        line_chart("Requests per window", xs, {"requests": _series(ws, "requests")}),
        line_chart("Latency (ms)", xs, {"p50": _series(ws, "latency_p50_ms"), "p95": _series(ws, "latency_p95_ms")}),
        line_chart("Error rate and validity", xs, {"error rate": _series(ws, "error_rate"),
                                                   "valid answers": _series(ws, "validity")}, y_max=1.0),
        line_chart("Accuracy: estimated without labels (CBPE) and measured on reviewed traffic", xs,
                   {"estimated": _series(ws, "estimated_accuracy", "value"),
                    "measured (reviewed)": _series(ws, "measured_accuracy", "value"),
                    "mean confidence": _series(ws, "confidence_mean")},
                   {"estimated": _series(ws, "estimated_accuracy", "ci"),
                    "measured (reviewed)": _series(ws, "measured_accuracy", "ci")}, y_max=1.0),
        line_chart("Label drift vs training data (Jensen-Shannon distance)", xs,
                   {"JS distance": _series(ws, "label_drift", "js_distance")}, y_max=1.0),
        line_chart("Input drift: PSI", xs, {"length PSI": _series(ws, "length_psi"),
                                            "vocabulary PSI": _series(ws, "vocabulary_psi")}),
        line_chart("Input drift: domain classifier ROC AUC (0.5 = no drift)", xs,
                   {"AUC": _series(ws, "domain", "auc")}, {"AUC": _series(ws, "domain", "ci")}, y_max=1.0),
    ]
    latest = summary.get("latest") or {}
    if latest.get("labels"):
        total = sum(latest["labels"].values())
        ref_total = sum(summary.get("reference_labels", {}).values()) or 1
        bars = sorted(latest["labels"].items(), key=lambda kv: -kv[1])
        charts.append(metric_bars("Latest window: answer shares (training share in the label)",
                                  [(f"{k} ({100 * summary.get('reference_labels', {}).get(k, 0) / ref_total:.0f}%)",
                                    v / total, None) for k, v in bars]))
    alert_html = "".join(f"<li>{escape(a)}</li>" for a in alerts) or "<li>none</li>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tuneforge monitor: "
        f"{escape(summary['variant'])}</title><style>body{{font-family:sans-serif;max-width:720px;margin:2em auto}}"
        ".alerts li{color:#b00}</style></head><body>"
        f"<h1>Monitor: {escape(summary['variant'])}</h1><p>{summary['requests']} requests in windows of "
        f"{summary['window']}; {summary['corrections']} corrected by reviewers.</p>"
        f"<h2>Alerts (latest window)</h2><ul class='alerts'>{alert_html}</ul>" + "".join(charts) + "</body></html>"
    )
