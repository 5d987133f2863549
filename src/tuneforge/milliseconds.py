"""A latency as every report shows it: the terminal table, the HTML report, the recommendation and the web app.
It lives below both eval/ and ui/ because the web app talks to the API only and imports no eval code."""

from __future__ import annotations


def milliseconds(ms: float) -> str:
    """Whole milliseconds from 10 up, else the digits that tell systems apart: a TF-IDF model answers in about
    0.1 ms, which a whole number shows as 0."""
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"
