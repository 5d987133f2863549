"""`tuneforge eval`: the variant against the prompted base model, on the same held-out examples."""

from __future__ import annotations

from tuneforge.cli.errors import user_errors
from tuneforge.cli.options import add_config_command
from tuneforge.config import EvalConfig

EPILOG = """\b
Examples:
  tuneforge eval --model runs/invoice --data examples/invoice-categories/test.jsonl
  tuneforge eval --model smollm2-135m --data test.jsonl --train-data train.jsonl --shots 8
"""


def print_report(report: dict) -> None:
    from rich.console import Console

    from tuneforge.eval.report import comparison_table, per_label_table

    console = Console()
    console.print(comparison_table(report))
    per_label = per_label_table(report)
    if per_label is not None:
        console.print(per_label)
    console.print(f"per-example predictions: {report['path']}")


@user_errors
def _run(cfg: EvalConfig):
    from tuneforge.eval.compare import run_eval

    report = run_eval(cfg)
    print_report(report)
    return report


def register(app):
    add_config_command(
        app, EvalConfig, "eval", _run,
        help="Evaluate a fine-tuned run against the base model prompted zero-shot and few-shot.",
        epilog=EPILOG,
    )
