"""One error type, one handler: a user's mistake is one line on stderr and exit 1 (a bad flag value: 2); a bug
keeps its traceback. The handler sits on the root command group, so every command gets it."""

from __future__ import annotations

from importlib import metadata

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.errors import UserError


def test_user_error_names_file_line_field_and_hint():
    err = UserError("must be a string", file="data.jsonl", line=7, field="messages[1].content", hint="quote it")
    assert str(err) == "data.jsonl:7: messages[1].content: must be a string (hint: quote it)"


def test_user_errors_print_one_line_and_bugs_keep_their_traceback(tmp_path, monkeypatch):
    runner = CliRunner()
    missing = runner.invoke(app, ["eval", "report", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and isinstance(missing.exception, SystemExit)
    assert missing.output.count("\n") == 1 and missing.output.startswith("error: ") and "no eval.json" in missing.output

    def bug(*args, **kwargs):
        raise RuntimeError("a planted bug")

    monkeypatch.setattr("tuneforge.eval.eval_file.read_eval", bug)
    crashed = runner.invoke(app, ["eval", "report", str(tmp_path / "nope.json")])
    assert isinstance(crashed.exception, RuntimeError)  # not swallowed into "error: ..."


@pytest.mark.parametrize("args", [["--version"]])
def test_version(args):
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and r.output.strip() == f"tuneforge {metadata.version('tuneforge')}"
