"""The comparison tables (terminal and HTML) show a non-LLM baseline's cost as what it is."""

from __future__ import annotations

import re

from rich.console import Console

from tuneforge.eval.html_report import _systems_table
from tuneforge.eval.report import comparison_table


def _report() -> dict:
    def system(kind, tokens_in, tokens_out, p50, p95):
        return {"n": 108, "kind": kind, "metrics": {"accuracy": 0.9}, "ci": {}, "mean_tokens_in": tokens_in,
                "mean_tokens_out": tokens_out, "mean_latency_s": p50, "latency_p50_s": p50, "latency_p95_s": p95}

    return {"task": "classification", "systems": {
        "base few-shot": system("few-shot similar", 333, 4, 0.707, 0.912),
        "fine-tuned": system("variant", 12, 0, 0.0101, 0.0134),
        "tf-idf + logistic regression": system("classical", 0, 0, 0.00012, 0.0002)}}


def _rows(table) -> dict[str, str]:
    console = Console(width=200, record=True)
    console.print(table)
    lines = console.export_text().splitlines()
    return {name: next(line for line in lines if name in line) for name in ("few-shot", "fine-tuned", "tf-idf")}


def test_the_terminal_table_shows_sub_millisecond_latency_and_no_tokens_for_a_classical_model():
    rows = _rows(comparison_table(_report()))
    assert "333/4" in rows["few-shot"] and "707/912 ms" in rows["few-shot"]
    assert "12/0" in rows["fine-tuned"] and "10/13 ms" in rows["fine-tuned"]
    # 0.12 ms is not "0 ms", and a model that reads no prompt has no "0/0" tokens (that would read as free).
    assert "0.12/0.20 ms" in rows["tf-idf"] and "0/0" not in rows["tf-idf"]


def test_the_html_table_does_the_same():
    html = _systems_table(_report())
    tfidf = re.search(r"<tr><td>tf-idf \+ logistic regression</td>.*?</tr>", html).group(0)
    cells = re.findall(r'<td class="num">([^<]*)</td>', tfidf)
    assert cells[1:5] == ["-", "-", "0.12", "0.20"]  # accuracy, tokens in, tokens out, p50 ms, p95 ms
    fine = re.search(r"<tr><td>fine-tuned</td>.*?</tr>", html).group(0)
    assert re.findall(r'<td class="num">([^<]*)</td>', fine)[1:5] == ["12", "0", "10", "13"]


def test_the_ui_shows_latency_with_the_digits_that_tell_systems_apart():
    from tuneforge.ui.pages.formatting import ms

    shown = [ms(v) for v in (0.12, 0.2, 1.234, 9.96, 10.1, 707.4)]
    assert shown == ["0.12 ms", "0.20 ms", "1.2 ms", "10.0 ms", "10 ms", "707 ms"]
    assert ms(None) == "–"
