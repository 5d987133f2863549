"""Small inline-SVG charts for the HTML report: no JavaScript, no external files, so the report is one file
that opens anywhere (and in a headless browser in the tests)."""

from __future__ import annotations

from html import escape

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"]


def _svg(kind: str, width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{kind}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x, y, s, anchor="start", size=12, weight="normal", fill="#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" font-family="sans-serif">{escape(str(s))}</text>')


def metric_bars(title: str, bars: list[tuple[str, float, list[float] | None]], width: int = 640) -> str:
    """Horizontal bars on a 0..100% scale with interval whiskers; one bar per system."""
    label_w, row_h, top = 240, 26, 28
    plot_w = width - label_w - 60
    height = top + row_h * len(bars) + 24
    body = [_text(8, 18, title, size=14, weight="bold")]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}" stroke="#ddd"/>')
        body.append(_text(x, height - 6, f"{int(tick * 100)}%", anchor="middle", size=10, fill="#666"))
    for i, (name, value, ci) in enumerate(bars):
        y = top + i * row_h
        body.append(_text(label_w - 8, y + 15, name, anchor="end", size=11))
        body.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{max(value, 0) * plot_w:.1f}" height="{row_h - 10}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(name)}: {100 * value:.1f}%</title></rect>')
        if ci:
            x0, x1, ym = label_w + ci[0] * plot_w, label_w + ci[1] * plot_w, y + row_h / 2 - 1
            body.append(f'<g class="interval" stroke="#111" stroke-width="1.5"><line x1="{x0:.1f}" y1="{ym:.1f}" '
                        f'x2="{x1:.1f}" y2="{ym:.1f}"/><line x1="{x0:.1f}" y1="{ym - 5:.1f}" x2="{x0:.1f}" '
                        f'y2="{ym + 5:.1f}"/><line x1="{x1:.1f}" y1="{ym - 5:.1f}" x2="{x1:.1f}" y2="{ym + 5:.1f}"/></g>')
        body.append(_text(label_w + max(value, 0) * plot_w + 6 if not ci else label_w + ci[1] * plot_w + 6,
                          y + 15, f"{100 * value:.1f}%", size=10, fill="#444"))
    return _svg("metric-bars", width, height, body, title)


def confusion_heatmap(title: str, labels: list[str], columns: list[str], counts: list[list[int]]) -> str:
    """Rows: reference label; columns: predicted label (plus answers outside the label set)."""
    cell, left, top = 30, 170, 140
    width, height = max(left + cell * len(columns) + 20, 8 * len(title) + 20), top + cell * len(labels) + 20
    peak = max((c for row in counts for c in row), default=0) or 1
    body = [_text(8, 18, title, size=14, weight="bold"), _text(left, 36, "predicted →", size=10, fill="#666")]
    for j, col in enumerate(columns):
        x = left + j * cell + cell / 2
        body.append(f'<text x="{x:.1f}" y="{top - 6}" font-size="10" font-family="sans-serif" '
                    f'transform="rotate(-55 {x:.1f} {top - 6})">{escape(col)}</text>')
    for i, lab in enumerate(labels):
        y = top + i * cell
        body.append(_text(left - 6, y + cell / 2 + 4, lab, anchor="end", size=10))
        for j, c in enumerate(counts[i]):
            shade = int(255 - 200 * c / peak)
            fill = f"rgb({shade},{shade},255)" if i == j or columns[j] == lab else f"rgb(255,{shade},{shade})"
            body.append(f'<rect class="cell" x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                        f'fill="{fill if c else "#f7f7f7"}"><title>{escape(lab)} → {escape(columns[j])}: {c}</title></rect>')
            if c:
                body.append(_text(left + j * cell + cell / 2, y + cell / 2 + 4, c, anchor="middle", size=10))
    return _svg("confusion-matrix", width, height, body, title)


def grouped_bars(title: str, groups: list[str], series: dict[str, list[float]], width: int = 680) -> str:
    """Vertical bars, one group per field, one bar per system (0..100%)."""
    top, bottom, left = 40, 60, 40
    plot_h = 180
    height = top + plot_h + bottom + 18 * ((len(series) + 2) // 3)
    group_w = (width - left - 10) / max(len(groups), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 2)
    body = [_text(8, 18, title, size=14, weight="bold")]
    for tick in (0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 4, y + 4, f"{int(tick * 100)}%", anchor="end", size=10, fill="#666"))
    for g, group in enumerate(groups):
        gx = left + g * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series.items()):
            v = values[g]
            h = max(v, 0) * plot_h
            body.append(f'<rect class="bar" x="{gx + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                        f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(name)} · '
                        f'{escape(group)}: {100 * v:.1f}%</title></rect>')
        body.append(_text(left + g * group_w + group_w / 2, top + plot_h + 16, group, anchor="middle", size=10))
    for s, name in enumerate(series):
        x, y = left + (s % 3) * 210, top + plot_h + 36 + 18 * (s // 3)
        body.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        body.append(_text(x + 14, y, name, size=10))
    return _svg("per-field-f1", width, height, body, title)


def latency_strip(title: str, series: dict[str, list[float]], width: int = 640) -> str:
    """Per system: every example's latency as a dot on a log-free ms axis, with p50 and p95 marked."""
    from tuneforge.eval.stats import percentile

    label_w, row_h, top = 240, 30, 30
    plot_w = width - label_w - 30
    height = top + row_h * len(series) + 26
    peak = max((v for vals in series.values() for v in vals), default=0) or 1e-3
    body = [_text(8, 18, title, size=14, weight="bold")]
    for tick in (0, 0.5, 1.0):
        x = label_w + tick * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}" stroke="#ddd"/>')
        body.append(_text(x, height - 6, f"{1000 * tick * peak:.0f} ms", anchor="middle", size=10, fill="#666"))
    for i, (name, vals) in enumerate(series.items()):
        y = top + i * row_h + row_h / 2
        body.append(_text(label_w - 8, y + 4, name, anchor="end", size=11))
        for v in vals:
            body.append(f'<circle class="dot" cx="{label_w + v / peak * plot_w:.1f}" cy="{y:.1f}" r="2.5" '
                        f'fill="{PALETTE[i % len(PALETTE)]}" fill-opacity="0.5"/>')
        ordered = sorted(vals)
        for q, dash in ((0.5, ""), (0.95, ' stroke-dasharray="3,2"')):
            x = label_w + percentile(ordered, q) / peak * plot_w
            body.append(f'<line class="p{int(q * 100)}" x1="{x:.1f}" y1="{y - 10:.1f}" x2="{x:.1f}" y2="{y + 10:.1f}" '
                        f'stroke="#111" stroke-width="2"{dash}><title>p{int(q * 100)}</title></line>')
    return _svg("latency", width, height, body, title)


def line_chart(title: str, x_labels: list[str], series: dict[str, list[float | None]],
               bands: dict[str, list[list[float] | None]] | None = None, width: int = 640,
               y_max: float | None = None) -> str:
    """Values over time (one point per window), optional shaded intervals per series; gaps where a value is None."""
    left, top, plot_h, bottom = 50, 30, 160, 34
    plot_w = width - left - 20
    height = top + plot_h + bottom + 16 * len(series)
    values = [v for vals in series.values() for v in vals if v is not None]
    values += [b for bs in (bands or {}).values() for iv in bs if iv for b in iv]
    peak = y_max if y_max is not None else (max(values, default=1.0) or 1.0)
    n = max(len(x_labels), 1)
    x_at = lambda i: left + (i + 0.5) * plot_w / n  # noqa: E731
    y_at = lambda v: top + plot_h - min(max(v / peak, 0), 1) * plot_h  # noqa: E731
    body = [_text(8, 18, title, size=14, weight="bold")]
    for tick in (0, 0.5, 1.0):
        y = top + plot_h - tick * plot_h
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(_text(left - 4, y + 4, f"{tick * peak:.3g}", anchor="end", size=10, fill="#666"))
    step = max(1, n // 8)
    for i in range(0, len(x_labels), step):
        body.append(_text(x_at(i), top + plot_h + 14, x_labels[i], anchor="middle", size=9, fill="#666"))
    for k, (name, vals) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        for i, iv in enumerate((bands or {}).get(name) or []):
            if iv:
                body.append(f'<rect class="band" x="{x_at(i) - plot_w / n / 2:.1f}" y="{y_at(iv[1]):.1f}" '
                            f'width="{plot_w / n:.1f}" height="{max(y_at(iv[0]) - y_at(iv[1]), 0.5):.1f}" '
                            f'fill="{color}" fill-opacity="0.15"/>')
        points = [(x_at(i), y_at(v)) for i, v in enumerate(vals) if v is not None]
        if len(points) > 1:
            body.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        for (x, y), v in zip(points, [v for v in vals if v is not None]):
            body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                        f'<title>{escape(name)}: {v:.4g}</title></circle>')
        body.append(f'<rect x="{left}" y="{top + plot_h + 24 + 16 * k}" width="10" height="10" fill="{color}"/>')
        body.append(_text(left + 16, top + plot_h + 33 + 16 * k, name, size=11))
    return _svg("line", width, height, body, title)
