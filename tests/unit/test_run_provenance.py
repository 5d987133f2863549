"""run.json's provenance, written alike by the generative loop and the classification head
(train/run_provenance.py): the data file, how many rows trained and how many were held out, the base and the
config. `tuneforge train` then writes the variant's own card into the run folder (PEFT leaves a blank template
there), and `tuneforge eval` refreshes it with the evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import _LINES, chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.run_record import RUN_FORMAT, read_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cli(*args: str) -> None:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("variant_type", ["generative", "classification"])
def test_run_json_and_the_card_say_what_trained_and_what_was_held_out(variant_type, tiny_model_dir, tmp_path):
    rows = [chat_row(t, label) for label, texts in _LINES.items() for t in texts] * 2  # 30 rows, 3 labels
    data = write_jsonl(tmp_path / "labels.jsonl", rows)
    out = tmp_path / "run"
    _cli("train", str(data), "--base", str(tiny_model_dir), "--out", str(out), "--variant-type", variant_type,
         "--epochs", "1", "--lr", "5e-3", "--eval-split", "0.2", "--no-progress", "--report-to", "none")
    run = read_run(out)
    assert run["format"] == RUN_FORMAT and run["base"]["name"] == str(tiny_model_dir)
    assert run["config"]["variant_type"] == variant_type and run["config"]["eval_split"] == 0.2
    assert Path(run["data"]["path"]) == data.resolve() and run["data"]["hash"].startswith("sha256:")
    # A fifth held out, stratified by label: 2 of each of the 3 labels.
    assert (run["data"]["train_examples"], run["data"]["eval_examples"]) == (24, 6)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "- 24 training examples, 6 held out for " in card and "More Information Needed" not in card
    assert "Not evaluated yet" in card

    _cli("eval", "--model", str(out), "--eval-data", str(data), "--no-baselines", "--no-classical", "--limit", "6")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Not evaluated yet" not in card and "On `labels.jsonl` (held out)" in card
