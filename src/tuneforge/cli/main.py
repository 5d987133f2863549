"""The `tuneforge` command: a flat table of commands, each imported lazily enough that --help is instant."""

from __future__ import annotations

import typer

from tuneforge.cli import data, evaluate, models, predict, quickstart, train
from tuneforge.cli import keys, serve

app = typer.Typer(
    name="tuneforge",
    help="Fine-tune an open model on examples of one task, prove it beats prompting, and use it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
predict.register(app)
app.command("quickstart")(quickstart.quickstart)
train.register(app)
evaluate.register(app)
serve.register(app)
app.add_typer(keys.app, name="keys")


def main():
    app()


if __name__ == "__main__":
    main()
