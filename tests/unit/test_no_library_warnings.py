"""A plain train, eval and predict print no library warnings and no library progress bars: tuneforge uses the
current API of the transformers range it allows (the KV cache is `cache`, not `past_key_values`), keeps peft's own
deprecated call quiet, and loads local model folders without transformers' per-load "Loading weights" bar."""

from __future__ import annotations

import logging
import warnings

from conftest import chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.cli.main import app


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(record.getMessage())


def test_plain_train_eval_predict_print_no_warnings(tiny_model_dir, tmp_path, one_torch_thread):
    import transformers

    # warning_once remembers what an earlier test already printed; forget it so this test sees every warning.
    transformers.utils.logging.warning_once.cache_clear()
    transformers.utils.logging.enable_progress_bar()  # an earlier test's load may have turned them off
    collect = _Collect()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(collect)
    rows = [chat_row(f"{label} line {k}", label) for label in ("a", "b") for k in range(6)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    held_out = write_jsonl(tmp_path / "e.jsonl", [chat_row(f"held-out {label} item {k}", label)
                                                  for label in ("a", "b") for k in range(3)])
    run = tmp_path / "run"
    runner = CliRunner()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            steps = [
                ["train", str(data), "--base", str(tiny_model_dir), "--out", str(run), "--epochs", "1",
                 "--max-steps", "2", "--no-progress", "--report-to", "none", "--share-prefix"],
                ["eval", "--model", str(run), "--eval-data", str(held_out), "--shots", "2", "--bootstrap", "0",
                 "--html", "none", "--out", str(tmp_path / "eval.json")],
                ["predict", "--model", str(run), "b line 1", "--max-new-tokens", "4"],
            ]
            for args in steps:
                result = runner.invoke(app, args)
                assert result.exit_code == 0, (args, result.output)
                assert "Warning" not in result.output and "deprecated" not in result.output, (args, result.output)
                # transformers' own "Loading weights" bar, once per model load, buried the demo's output
                assert "Loading weights" not in result.output and "it/s]" not in result.output, (args, result.output)
    finally:
        hf_logger.removeHandler(collect)
    library = [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught
               if issubclass(w.category, (FutureWarning, DeprecationWarning, UserWarning))]
    assert library == [] and collect.records == []
