"""`tuneforge monitor --html`: one self-contained page of charts over time, drawn with the eval report's SVG
helpers (eval/svg.py), from the same summary dict the terminal shows."""

from __future__ import annotations

from html import escape

from tuneforge.eval.svg import line_chart, metric_bars


def _series(windows: list[dict], key: str, sub: str | None = None, leaf: str | None = None) -> list:
    """One value per window: w[key], w[key][sub], or w[key][sub][leaf] (None where a window lacks it)."""
    out = []
    for w in windows:
        v = w.get(key)
        for part in (sub, leaf):
            if part is not None:
                v = v.get(part) if isinstance(v, dict) else None
        out.append(v)
    return out


def render_html(summary: dict, alerts: list[str]) -> str:
    from tuneforge.monitor.display import window_rows

    ws = summary["windows"]
    xs = [f"#{w['first_id']}" for w in ws]
    charts = [
        line_chart("Volume: requests per hour (95% Poisson interval)", xs,
                   {"per hour": _series(ws, "volume", "value")}, {"per hour": _series(ws, "volume", "ci")}),
        line_chart("Latency (ms), 95% bootstrap intervals", xs,
                   {"p50": _series(ws, "latency", "p50", "value"), "p95": _series(ws, "latency", "p95", "value")},
                   {"p50": _series(ws, "latency", "p50", "ci"), "p95": _series(ws, "latency", "p95", "ci")}),
        line_chart("Error rate and validity (95% Wilson intervals)", xs,
                   {"error rate": _series(ws, "error", "value"), "valid answers": _series(ws, "valid", "value")},
                   {"error rate": _series(ws, "error", "ci"), "valid answers": _series(ws, "valid", "ci")}, y_max=1.0),
        line_chart("Accuracy: estimated without labels (CBPE) and measured on reviewed traffic", xs,
                   {"estimated": _series(ws, "estimated_accuracy", "value"),
                    "measured (reviewed)": _series(ws, "measured_accuracy", "value"),
                    "mean confidence": _series(ws, "confidence", "value")},
                   {"estimated": _series(ws, "estimated_accuracy", "ci"),
                    "measured (reviewed)": _series(ws, "measured_accuracy", "ci"),
                    "mean confidence": _series(ws, "confidence", "ci")}, y_max=1.0),
        line_chart("Label drift vs the reference answers: Jensen-Shannon distance and chi-square p-value", xs,
                   {"JS distance": _series(ws, "label_drift", "js_distance"),
                    "chi-square p": _series(ws, "label_drift", "p_value")}, y_max=1.0),
        line_chart("Input drift: PSI and its permutation threshold (95%, same-distribution samples of these sizes)",
                   xs, {"length PSI": _series(ws, "length_psi_test", "value"),
                        "length threshold": _series(ws, "length_psi_test", "threshold"),
                        "vocabulary PSI": _series(ws, "vocabulary_psi_test", "value"),
                        "vocabulary threshold": _series(ws, "vocabulary_psi_test", "threshold")}),
        line_chart("Input drift: domain classifier ROC AUC (0.5 = no drift), Hanley-McNeil interval", xs,
                   {"AUC": _series(ws, "domain", "auc")}, {"AUC": _series(ws, "domain", "ci")}, y_max=1.0),
    ]
    latest = summary.get("latest") or {}
    if latest.get("labels"):
        total = sum(latest["labels"].values())
        ref_total = sum(summary.get("reference_labels", {}).values()) or 1
        bars = sorted(latest["labels"].items(), key=lambda kv: -kv[1])
        against = summary.get("label_reference", "training labels")
        charts.append(metric_bars(f"Latest window: answer shares (reference share in the label; reference: {against})",
                                  [(f"{k} ({100 * summary.get('reference_labels', {}).get(k, 0) / ref_total:.0f}%)",
                                    v / total, None) for k, v in bars]))
    alert_html = "".join(f"<li>{escape(a)}</li>" for a in alerts) or "<li>none</li>"
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in window_rows(latest))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tuneforge monitor: "
        f"{escape(summary['variant'])}</title><style>body{{font-family:sans-serif;max-width:720px;margin:2em auto}}"
        ".alerts li{color:#b00}.latest th{text-align:left;padding-right:1em;font-weight:normal;color:#444}"
        ".latest td{font-family:monospace}</style></head><body>"
        f"<h1>Monitor: {escape(summary['variant'])}</h1><p>{summary['requests']} requests in windows of "
        f"{summary['window']}; {summary['corrections']} corrected by reviewers.</p>"
        f"<h2>Alerts (latest window)</h2><ul class='alerts'>{alert_html}</ul>"
        f"<h2>Latest window (95% intervals in brackets; the test behind each drift figure)</h2>"
        f"<table class='latest'>{table}</table>" + "".join(charts) + "</body></html>"
    )
