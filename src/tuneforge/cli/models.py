"""`tuneforge models ...`: the base models tuneforge knows."""

from __future__ import annotations

import typer

app = typer.Typer(help="Base models and variants.", no_args_is_help=True)


@app.command("list", epilog="Example:  tuneforge models list")
def list_models():
    """List bundled base models and whether each is installed and converted."""
    from rich.console import Console
    from rich.table import Table

    from tuneforge.models.resolve import BUNDLED, DEFAULT_BASE, bundled_gguf_path
    from tuneforge.paths import cache_dir

    table = Table(title="base models")
    for col in ("name", "installed", "converted", "description"):
        table.add_column(col)
    for name, bm in BUNDLED.items():
        installed = "yes" if bundled_gguf_path(bm) else "no"
        converted = "yes" if (cache_dir() / "models" / name / ".complete").exists() else "on first use"
        label = f"{name} (default)" if name == DEFAULT_BASE else name
        table.add_row(label, installed, converted, bm.description)
    Console().print(table)
    Console().print("Any local transformers folder, .gguf file or hub id (org/name) also works as --base.")
