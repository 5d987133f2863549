"""Typer commands whose flags are the fields of a pydantic config (config.py is the single source).

`--config FILE.yaml` supplies values; flags given on the command line override them; then pydantic validates
the merged values and every bad or unknown key is reported by name. Flags default to None on the command line
so "not given" is visible; the real default lives in the config model and is shown in the help.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Callable, Optional

import typer
from pydantic import BaseModel

from tuneforge.config import build_config, load_yaml_values


def _unwrap_optional(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _parameters(model_cls: type[BaseModel]) -> list[inspect.Parameter]:
    params = [
        inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
            default=typer.Option(None, "--config", help="YAML file of options; flags given here override it."),
        )
    ]
    for name, field in model_cls.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        tp = Optional[_unwrap_optional(field.annotation)]
        help_text = field.description or ""
        if extra.get("from_data"):
            help_text += "  [default: chosen from the data]"
        elif not field.is_required() and field.default is not None:
            help_text += f"  [default: {field.default}]"
        if extra.get("cli_argument"):
            # Positional, but optional on the command line so that it can come from --config instead.
            default = typer.Argument(None, help=help_text, show_default=False)
        else:
            flag = "--" + name.replace("_", "-")
            is_bool = _unwrap_optional(field.annotation) is bool
            decls = [f"{flag}/--no-{flag[2:]}"] if is_bool else [flag, *extra.get("cli_aliases", [])]
            default = typer.Option(None, *decls, help=help_text, show_default=False)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=tp, default=default))
    return params


def _config_function(model_cls: type[BaseModel], run: Callable) -> Callable:
    """A function whose keyword parameters are the config's flags; it validates them and calls `run(config)`."""

    def command(**kwargs):
        config = kwargs.pop("config")
        values = load_yaml_values(config) if config else {}
        values.update({k: v for k, v in kwargs.items() if v is not None})
        return run(build_config(model_cls, values, source=config or "options"))  # ConfigError: exit 2

    return command


def add_config_command(
    app: typer.Typer, model_cls: type[BaseModel], name: str, run: Callable, help: str, epilog: str = ""
) -> None:
    """Register `name` on `app`; `run(config)` receives the validated `model_cls` instance."""
    command = _config_function(model_cls, run)
    command.__signature__ = inspect.Signature(_parameters(model_cls))  # type: ignore[attr-defined]
    command.__name__ = name
    command.__doc__ = help
    app.command(name, help=help, epilog=epilog)(command)


def config_group(model_cls: type[BaseModel], name: str, run: Callable, help: str, epilog: str = "") -> typer.Typer:
    """A command group that runs `run(config)` when called without a subcommand (`tuneforge eval --model ...`)
    and hosts subcommands beside it (`tuneforge eval report ...`), all flags still generated from the config."""
    params = _parameters(model_cls)
    if any(isinstance(p.default, typer.models.ArgumentInfo) for p in params):
        raise TypeError(f"{model_cls.__name__}: a command group cannot take positional arguments")
    command = _config_function(model_cls, run)

    def callback(ctx: typer.Context, **kwargs):
        if ctx.invoked_subcommand is not None:
            return None
        return command(**kwargs)

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    callback.__signature__ = inspect.Signature([ctx_param] + params)  # type: ignore[attr-defined]
    callback.__name__ = name
    callback.__doc__ = help
    group = typer.Typer(name=name, help=help, epilog=epilog, no_args_is_help=True, add_completion=False)
    group.callback(invoke_without_command=True, help=help, epilog=epilog)(callback)
    return group
