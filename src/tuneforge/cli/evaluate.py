"""`tuneforge eval`: the variants against the prompted base model, on the same held-out examples; `eval report`
renders an eval.json again (terminal + HTML); `eval gate` fails when a candidate is not better."""

from __future__ import annotations

from typing import Optional

import typer

from tuneforge.cli.options import config_group
from tuneforge.config import EvalConfig

EPILOG = """\b
Examples:
  tuneforge eval --model runs/invoice --eval-data examples/invoice-categories/test.jsonl
  tuneforge eval --model runs/a --variants b=runs/b --eval-data test.jsonl --endpoint-url http://host/v1 \\
      --endpoint-model gpt-x --price-in 0.15 --price-out 0.6
  tuneforge eval report runs/invoice/eval.json --html report.html
  tuneforge eval gate --candidate runs/new --incumbent runs/old --metric accuracy --min-delta 0.01
"""


def _run(cfg: EvalConfig):
    from tuneforge.eval.compare import run_eval
    from tuneforge.eval.report import print_report
    from tuneforge.export.model_card import write_model_card
    from tuneforge.run_record import is_run_dir

    report = run_eval(cfg)
    print_report(report)
    if is_run_dir(cfg.model):  # its card shows the evaluation it now holds (eval.json beside run.json)
        write_model_card(cfg.model)
    return report


def report_command(
    eval_file: str = typer.Argument(..., help="An eval.json, or a run folder holding one."),
    html: Optional[str] = typer.Option(None, "--html", help="Where to write the HTML report (default: report.html beside it)."),
):
    """Show an evaluation again: terminal tables and a self-contained HTML report with charts.

    \b
    Example:
      tuneforge eval report runs/invoice/eval.json
    """
    _report(eval_file, html)


def _report(eval_file, html):
    from pathlib import Path

    from tuneforge.eval.eval_file import REPORT_FILE, read_eval
    from tuneforge.eval.html_report import render_html
    from tuneforge.eval.report import print_report

    loaded = read_eval(eval_file)
    report, src = loaded.raw, loaded.path
    out = Path(html) if html else src.with_name(REPORT_FILE)
    out.write_text(render_html(report), encoding="utf-8")
    report["path"], report["html_path"] = str(src), str(out)
    print_report(report)


def gate_command(
    candidate: str = typer.Option(..., "--candidate", help="eval.json or run folder (optionally #system), or a system name with --report."),
    incumbent: str = typer.Option(..., "--incumbent", help="The same, for the model in use today."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Metric to compare, e.g. accuracy, macro_f1, field_f1, "
                                         "latency_p50_s (default: the task's first headline metric)."),
    min_delta: float = typer.Option(0.0, "--min-delta", help="The candidate must be better by more than this (metric units)."),
    report: Optional[str] = typer.Option(None, "--report", help="One eval.json holding both systems."),
    confidence: float = typer.Option(0.95, "--confidence", help="Required confidence of the paired test that the "
                                     "candidate is better (0 turns the test off)."),
):
    """Exit 0 when the candidate beats the incumbent on the metric by more than --min-delta, significantly; else 1.

    \b
    Examples:
      tuneforge eval gate --candidate runs/new --incumbent runs/old --metric accuracy --min-delta 0.01
      tuneforge eval gate --report runs/new/eval.json --candidate fine-tuned \\
          --incumbent "base few-shot similar (k=8)" --metric accuracy --confidence 0.99
    """
    from tuneforge.eval.eval_file import read_eval
    from tuneforge.eval.gate import decide, default_metric, side

    if report:
        shared = read_eval(report)
        cand, inc = side(shared, candidate), side(shared, incumbent)
    else:
        cand, inc = side(candidate), side(incumbent)
    decision = decide(cand, inc, metric or default_metric(cand.report), min_delta, confidence)
    typer.echo(decision.summary())
    raise typer.Exit(0 if decision.passed else 1)


def register(app):
    group = config_group(
        EvalConfig, "eval", _run,
        help="Evaluate fine-tuned runs against the base model prompted zero-shot and few-shot.",
        epilog=EPILOG,
    )
    group.command("report")(report_command)
    group.command("gate")(gate_command)
    app.add_typer(group, name="eval")
