"""The data workbench with the real bundled model's tokenizer and chat template (no weights are trained)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.paths import examples_dir

pytestmark = pytest.mark.integration


def test_check_and_report_measure_tokens_with_smollm2(tmp_path):
    data = examples_dir() / "invoice-categories" / "train.jsonl"
    check = CliRunner().invoke(app, ["data", "check", str(data)])
    assert check.exit_code == 0, check.output
    assert "token lengths measured with smollm2-135m's tokenizer and chat template; limit 1024" in check.output
    longest = int(re.search(r"tokens: longest example (\d+)", check.output).group(1))
    assert 60 < longest < 200  # a system prompt, one invoice line and a label, in ChatML

    # With no settings the report describes the run `train` makes of the demo: an encoder's head over its labels.
    report = CliRunner().invoke(app, ["data", "report", str(data), "--html", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    said = " ".join(report.output.split())
    assert "would choose: variant_type=classification (12 labels" in said and "base=multilingual-e5-small" in said
    # Estimated as the head trains: e5's own tokens of the user text only, no system prompt or chat template.
    assert re.search(r"estimate \(full, classification head\): ~[\d.]+ (s|min) \(~[\d.]+ s of it fixed\) "
                     r"for [\d,]+ tokens at [\d,.]+ tokens/s", said)
    assert "verdict: fine-tune" in report.output

    report = CliRunner().invoke(app, ["data", "report", str(data), "--variant-type", "generative",
                                      "--html", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    said = " ".join(report.output.split())
    assert "method=full (135M parameters" in said  # the rule train applies to the 135M base
    # The demo's rows share their system prompt, which a batch runs once: the estimate counts it so. Its optimizer
    # steps over every weight are counted too.
    assert re.search(r"estimate \(full\): ~[\d.]+ (s|min|h) \(~[\d.]+ (s|min) of it in optimizer steps\) for [\d,]+ "
                     r"tokens \([\d,]+ computed: each batch runs the "
                     r"\d+-token prompt start the rows share once\) at [\d,.]+ tokens/s, memory ~[\d.]+ (MiB|GiB)", said)
    assert "verdict: fine-tune" in report.output
