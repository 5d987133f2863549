"""`tuneforge models ...`: base models, and registered variants with their lineage, stage and exports."""

from __future__ import annotations

from typing import Optional

import typer

from tuneforge.cli.registry_commands import register_commands

app = typer.Typer(help="Base models and variants.", no_args_is_help=True)


@app.command("list", epilog="Example:  tuneforge models list")
def list_models(
    variant: Optional[str] = typer.Option(None, "--name", help="Only versions of this variant name."),
    archived: bool = typer.Option(False, "--archived/--no-archived", help="Include archived versions."),
):
    """List bundled base models and registered variants (name:version, stage, base, data, score)."""
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
    from tuneforge.cli.registry_view import variants_table

    Console().print(variants_table(variant, archived))


register_commands(app)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
