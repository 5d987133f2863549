"""`tuneforge data ...`: check a data file before training on it."""

from __future__ import annotations

import typer

app = typer.Typer(help="Check training data.", no_args_is_help=True)


@app.command(
    "check",
    epilog="Example:  tuneforge data check examples/invoice-categories/train.jsonl",
)
def check(
    path: str = typer.Argument(..., help="JSONL (chat or prompt/completion) or CSV file."),
    data_format: str = typer.Option("auto", help="auto, chat, prompt_completion or csv."),
    input_column: str = typer.Option("input", help="CSV column with the input."),
    output_column: str = typer.Option("output", help="CSV column with the answer."),
):
    """Validate a data file: every problem with file, line and field. Exits 1 if the file would be refused."""
    from collections import Counter

    from rich.console import Console

    from tuneforge.data.formats import load_examples
    from tuneforge.data.labels import label_set
    from tuneforge.data.problems import DataError

    console = Console()
    try:
        examples, fmt = load_examples(path, data_format, input_column, output_column)
    except DataError as err:
        for p in err.problems:
            console.print(str(p), markup=False, highlight=False)
        console.print(f"[red]refused[/]: {sum(p.severity == 'error' for p in err.problems)} error(s) in {path}")
        raise typer.Exit(1)
    labels = label_set([e.answer for e in examples])
    console.print(f"[green]ok[/]: {len(examples)} examples in {path} (format: {fmt})")
    if labels:
        counts = Counter(e.answer.strip().lower() for e in examples)
        console.print(f"labels ({len(labels)}): " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
