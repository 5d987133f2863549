"""`--help` is the manual: every option of train, eval, serve and data shows its default, flags read as
`--x / --no-x` with no type tag, and names agree across commands."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.config import (DataAddConfig, DataCheckConfig, DataCleanConfig, DataReportConfig, EvalConfig,
                              ServeConfig, TrainConfig)

COMMANDS = [
    (["train"], TrainConfig), (["eval"], EvalConfig), (["serve"], ServeConfig), (["data", "check"], DataCheckConfig),
    (["data", "clean"], DataCleanConfig), (["data", "report"], DataReportConfig), (["data", "add"], DataAddConfig),
]


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # wrapped lines joined: "[default:" may wrap before its value


@pytest.mark.parametrize("args,model", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_every_default_is_shown(args, model):
    text = _help(args)
    from_data = {name for name, f in model.model_fields.items()
                 if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("from_data")}
    missing = [name for name, f in model.model_fields.items()
               if not f.is_required() and f.default is not None and name not in from_data
               and f"[default: {f.default}]" not in text]
    assert missing == []
    # Settings `train` chooses from the data say so instead of showing a fallback value as the default.
    assert text.count("[default: chosen from the data]") == len(from_data)
    assert "<bool>" not in text


def test_no_type_tag_on_flags_anywhere():
    for args in (["--help"], ["models", "promote", "--help"], ["eval", "gate", "--help"], ["predict", "--help"]):
        out = CliRunner().invoke(app, args).output
        assert "<bool>" not in out, args


def test_names_agree_across_commands():
    assert "--system-prompt" in _help(["predict"]) and "--system-prompt" in _help(["train"])
    assert "--eval-data" in _help(["eval"]) and "--eval-data" in _help(["train"]) and "--eval-data" in _help(["data", "report"])
    for args in (["eval"], ["eval", "report"], ["data", "report"]):
        assert re.search(r"--html <?\w*>? ?\S*", _help(args)) and "--no-html" not in _help(args), args
    assert "accuracy" in _help(["models", "promote"]) and "exact_match" not in _help(["models", "promote"])
