"""`tuneforge quickstart` (the invoice categories demo) on a tiny random base: the demo's table and verdict
include the non-LLM baselines, trained on the demo's 470 training lines."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from tuneforge.cli.main import app


def test_quickstart_table_includes_the_non_llm_baselines(tiny_model_dir, tmp_path):
    out = tmp_path / "qs"
    r = CliRunner().invoke(app, ["quickstart", "--base", str(tiny_model_dir), "--epochs", "1", "--limit", "12",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "eval.json").read_text())
    classical = {n: s for n, s in report["systems"].items() if s["kind"] == "classical"}
    assert set(classical) == {"tf-idf + logistic regression", "embeddings + logistic regression"}
    for s in classical.values():
        # eval_split 0.05 of the 470 demo lines is held out by training, and by the baselines too.
        assert s["classical"]["train_examples"] == json.loads((out / "run.json").read_text())["data"]["train_examples"]
    said = " ".join(r.output.split())  # the terminal wraps long lines
    assert "tf-idf + logistic regression" in said and "non-LLM baseline (scikit-learn)" in said
    # The closing line judges the variant against the best baseline by the paired test, not by the raw score.
    assert re.search(r"The fine-tuned variant (beats|is level with|trails) \(paired bootstrap p = [0-9.e-]+"
                     r"(, not significant)?\) the best non-LLM baseline \(scikit-learn\), "
                     r"(tf-idf|embeddings) \+ logistic regression: ", said), said[-600:]
    assert "Best system overall" in report["recommendation"]
    # Every system that states a probability with its answers gets its calibration measured on the test rows:
    # the table in the terminal, eval.json and the HTML report.
    for s in classical.values():
        assert 0 <= s["calibration"]["ece"] <= 1 and s["calibration"]["n"] == s["n"]
    assert "calibration on these rows" in said
    assert '<table id="calibration">' in (out / "report.html").read_text()
