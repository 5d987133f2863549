"""The `tuneforge` command: a flat table of commands, each imported lazily enough that --help is instant.

Every command module registers itself the same way, `register(app)`, and every user-caused error (a
`tuneforge.errors.UserError`) is caught here, once, and printed as one line; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Optional

import typer
from typer.core import TyperGroup

from tuneforge.cli import data, evaluate, jobs, keys, models, monitor, predict, quickstart, serve, train
from tuneforge.errors import UserError
from tuneforge.threads import set_openmp_wait_policy

COMMAND_MODULES = (data, models, train, evaluate, predict, serve, keys, jobs, quickstart, monitor)


class _Commands(TyperGroup):
    """The root group: invoking it runs every subcommand, so this is the one place user errors are caught."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise typer.Exit(err.exit_code) from None


app = typer.Typer(
    rich_markup_mode=None,  # plain click help: flags read `--x / --no-x`, defaults `[default: ...]`, no type tags
    name="tuneforge",
    cls=_Commands,
    help="Fine-tune an open model on examples of one task, prove it beats prompting, and use it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        typer.echo(f"tuneforge {metadata.version('tuneforge')}")
        raise typer.Exit()


@app.callback()
def _root(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")):
    """Fine-tune an open model on examples of one task, prove it beats prompting, and use it."""


for module in COMMAND_MODULES:
    module.register(app)


def main():
    set_openmp_wait_policy()  # before anything imports torch: idle threads sleep (tuneforge/threads.py says why)
    app()


if __name__ == "__main__":
    main()
