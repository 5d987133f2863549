"""`tuneforge eval`: the variants against the prompted base model, on the same held-out examples; `eval report`
renders an eval.json again (terminal + HTML); `eval gate` fails when a candidate is not better."""

from __future__ import annotations

from typing import Optional

import typer

from tuneforge.cli.errors import user_errors
from tuneforge.cli.options import config_group
from tuneforge.config import EvalConfig

EPILOG = """\b
Examples:
  tuneforge eval --model runs/invoice --data examples/invoice-categories/test.jsonl
  tuneforge eval --model runs/a --variants b=runs/b --data test.jsonl --endpoint-url http://host/v1 \\
      --endpoint-model gpt-x --price-in 0.15 --price-out 0.6
  tuneforge eval report runs/invoice/eval.json --html report.html
  tuneforge eval gate --candidate runs/new --incumbent runs/old --metric accuracy --min-delta 0.01
"""


@user_errors
def _run(cfg: EvalConfig):
    from tuneforge.eval.compare import run_eval
    from tuneforge.eval.report import print_report

    report = run_eval(cfg)
    print_report(report)
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
    user_errors(_report)(eval_file, html)


def _report(eval_file, html):
    from pathlib import Path

    from tuneforge.eval.gate import load_report
    from tuneforge.eval.html_report import render_html
    from tuneforge.eval.report import print_report

    report = load_report(eval_file)
    src = Path(eval_file) / "eval.json" if Path(eval_file).is_dir() else Path(eval_file)
    out = Path(html) if html else src.with_name("report.html")
    out.write_text(render_html(report), encoding="utf-8")
    report["path"], report["html_path"] = str(src), str(out)
    print_report(report)


def gate_command(
    candidate: str = typer.Option(..., "--candidate", help="eval.json or run folder (optionally #system), or a system name with --report."),
    incumbent: str = typer.Option(..., "--incumbent", help="The same, for the model in use today."),
    metric: str = typer.Option(..., "--metric", help="Metric to compare, e.g. accuracy, macro_f1, field_f1, latency_p50_s."),
    min_delta: float = typer.Option(0.0, "--min-delta", help="The candidate must be better by more than this (metric units)."),
    report: Optional[str] = typer.Option(None, "--report", help="One eval.json holding both systems."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Also require a paired bootstrap p-value below this."),
):
    """Exit 0 when the candidate beats the incumbent on the metric by more than --min-delta, else 1.

    \b
    Examples:
      tuneforge eval gate --candidate runs/new --incumbent runs/old --metric accuracy --min-delta 0.01
      tuneforge eval gate --report runs/new/eval.json --candidate fine-tuned \\
          --incumbent "base few-shot similar (k=8)" --metric accuracy --alpha 0.05
    """
    result = user_errors(_gate)(candidate, incumbent, metric, min_delta, report, alpha)
    raise typer.Exit(0 if result.passed else 1)


def _gate(candidate, incumbent, metric, min_delta, report, alpha):
    from tuneforge.eval.gate import run_gate

    result = run_gate(candidate, incumbent, metric, min_delta, report, alpha)
    print(result.message)
    return result


def register(app):
    group = config_group(
        EvalConfig, "eval", _run,
        help="Evaluate fine-tuned runs against the base model prompted zero-shot and few-shot.",
        epilog=EPILOG,
    )
    group.command("report")(report_command)
    group.command("gate")(gate_command)
    app.add_typer(group, name="eval")
