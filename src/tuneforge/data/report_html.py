"""The readiness report as one self-contained HTML file: inline CSS and SVG charts, no scripts, no downloads,
so it opens the same offline, in a mail attachment or in a CI artifact.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from tuneforge.data.estimate import human_bytes, p95_length
from tuneforge.data.readiness import Readiness

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}.n{text-align:right;font-variant-numeric:tabular-nums}.verdict{padding:1rem;border-radius:6px;
font-size:1.1rem}.ok{background:#e6f4ea}.warn{background:#fff4e0}.bad{background:#fde8e8}small{color:#666}
code{background:#f4f4f4;padding:0 .2rem}svg text{font:11px system-ui,sans-serif}
"""
_VERDICT_CLASS = {"fine-tune": "ok", "collect more data": "warn", "try prompting first": "warn",
                  "fix the data first": "bad"}


def _e(x) -> str:
    return html.escape(str(x))


def bar_chart(items: list[tuple[str, float]], width: int = 640, unit: str = "") -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return "<p><small>nothing to chart</small></p>"
    top = max(v for _, v in items) or 1
    row, label_w = 20, 170
    h = row * len(items) + 6
    parts = [f'<svg width="{width}" height="{h}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for k, (label, v) in enumerate(items):
        y = k * row + 3
        w = (width - label_w - 60) * v / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)[:28]}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 5}" fill="#4a7bd0"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{v:g}{_e(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: list[int], bins: int = 20, width: int = 640, height: int = 160, unit: str = "") -> str:
    if not values:
        return "<p><small>nothing to chart</small></p>"
    lo, hi = min(values), max(values)
    span = max(hi - lo, 1)
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / span * bins), bins - 1)] += 1
    top = max(counts)
    bw = (width - 40) / bins
    parts = [f'<svg width="{width}" height="{height + 30}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for k, c in enumerate(counts):
        bh = (height - 10) * c / top
        parts.append(f'<rect x="{30 + k * bw:.1f}" y="{height - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                     f'fill="#6aa66a"><title>{c} example(s)</title></rect>')
    parts.append(f'<text x="30" y="{height + 15}">{lo}</text>'
                 f'<text x="{width - 10}" y="{height + 15}" text-anchor="end">{hi} {_e(unit)}</text>'
                 f'<text x="0" y="12">{top}</text></svg>')
    return "".join(parts)


def _stats(values: list[int]) -> str:
    if not values:
        return "-"
    s = sorted(values)
    return (f"min {s[0]}, median {s[len(s) // 2]}, 95th percentile {p95_length(s)}, "
            f"max {s[-1]}")


def render_html(r: Readiness, title: str) -> str:
    c = r.check
    rows = [f"<tr><td>Format</td><td>{_e(c.detected)}</td></tr>",
            f"<tr><td>Valid examples</td><td>{len(c.examples)} of {r.clean.input_rows} rows</td></tr>",
            f"<tr><td>Errors / warnings</td><td>{len(c.errors)} / {len(c.warnings)}</td></tr>"]
    if c.token_counts:
        rows.append(f"<tr><td>Tokens per example</td><td>{_stats(c.token_counts)} (total "
                    f"{sum(c.token_counts):,})</td></tr>")
    rows.append(f"<tr><td>Answer length ({_e(r.answer_unit)})</td><td>{_stats(r.answer_lengths)}</td></tr>")
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{_e(title)}</title><style>{_CSS}</style>",
           f"<h1>Data readiness: {_e(title)}</h1>",
           f'<div class="verdict {_VERDICT_CLASS.get(r.verdict, "warn")}"><b>Verdict: {_e(r.verdict)}</b><ul>'
           + "".join(f"<li>{_e(x)}</li>" for x in r.reasons) + "</ul></div>",
           "<h2>Summary</h2><table>" + "".join(rows) + "</table>"]
    if c.labels:
        out.append(f"<h2>Label balance ({len(c.labels)} labels)</h2>")
        out.append(bar_chart(sorted(c.labels.items(), key=lambda kv: -kv[1])))
    out.append(f"<h2>Answer length distribution ({_e(r.answer_unit)})</h2>" + histogram(r.answer_lengths,
                                                                                      unit=r.answer_unit))
    if c.token_counts:
        out.append("<h2>Example length in tokens (chat template applied)</h2>" + histogram(c.token_counts,
                                                                                         unit="tokens"))
    out.append("<h2>Findings</h2><table><tr><th>Step</th><th class=n>Found</th><th>Action</th><th>Examples</th></tr>")
    for s in r.clean.steps:
        shown = "<br>".join(_e(f.message) for f in s.findings[:5]) or (_e(s.note) if s.action == "skipped" else "")
        out.append(f"<tr><td>{_e(s.title)}</td><td class=n>{s.count}</td><td>{_e(s.action)}</td><td>{shown}</td></tr>")
    out.append("</table>")
    if c.problems:
        out.append("<h2>Check problems</h2><table>" + "".join(
            f"<tr><td>{_e(p.severity)}</td><td>{_e(p.line or '')}</td><td>{_e(p.field or '')}</td>"
            f"<td>{_e(p.message)}{(' <small>' + _e(p.hint) + '</small>') if p.hint else ''}</td></tr>"
            for p in c.problems[:200]) + "</table>")
    if r.plan:
        out.append("<h2>The run <code>tuneforge train</code> would make</h2><ul>"
                   + "".join(f"<li>{_e(line)}</li>" for line in r.plan) + "</ul>")
    if r.estimate:
        e = r.estimate
        out.append(f"<h2>Training estimate ({_e(e.method)})</h2><table>"
                   f"<tr><td>Time</td><td>{_e(e.work())}</td></tr>"
                   f"<tr><td>Memory</td><td>{human_bytes(e.memory_bytes)}</td></tr></table>")
        out.append(bar_chart([(k, round(v / 2**20, 1)) for k, v in e.memory_parts.items()], unit=" MiB"))
        out.append("<p><small>" + "; ".join(_e(a) for a in e.assumptions) + "</small></p>")
    for n in r.notes + c.notes:
        out.append(f"<p><small>{_e(n)}</small></p>")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out.append(f"<p><small>tuneforge data report, {stamp}</small></p></html>")
    return "\n".join(out)
