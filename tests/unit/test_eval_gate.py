"""The regression gate on stored eval.json files: direction of the metric, margin, paired significance."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.eval.gate import run_gate
from tuneforge.eval.tasks import classification


def _report(folder, correct: list[int], latency: float):
    """A run folder with an eval.json whose "fine-tuned" system got `correct` right on the same 20 inputs."""
    labels = ["x", "y"]
    rows = [classification.score_example("x" if ok else "y", "x", labels) for ok in correct]
    head = classification.headline(rows, labels)
    report = {
        "task": "classification", "task_spec": {"type": "classification", "labels": labels},
        "systems": {"fine-tuned": {"kind": "variant", "metrics": head, "latency_p50_s": latency, "n": len(rows)}},
        "examples": [{"input": f"line {i}", "scores": {"fine-tuned": r}} for i, r in enumerate(rows)],
    }
    folder.mkdir()
    (folder / "eval.json").write_text(json.dumps(report))
    return str(folder)


def test_gate_directions_margins_and_significance(tmp_path):
    strong = _report(tmp_path / "strong", [1] * 18 + [0] * 2, latency=0.2)   # 90%
    weak = _report(tmp_path / "weak", [1] * 10 + [0] * 10, latency=0.1)      # 50%
    close = _report(tmp_path / "close", [1] * 11 + [0] * 9, latency=0.1)     # 55%

    r = run_gate(strong, weak, "accuracy", min_delta=0.3)
    assert r.passed and r.improvement == pytest.approx(0.4) and r.p_value < 0.01
    assert not run_gate(strong, weak, "accuracy", min_delta=0.4).passed  # must be better by MORE than the margin
    assert not run_gate(weak, strong, "accuracy").passed
    # Latency: lower is better, so the slower candidate fails.
    lat = run_gate(strong, weak, "latency_p50_s")
    assert not lat.passed and lat.improvement == pytest.approx(-0.1)
    # 55% vs 50% on 20 examples: better, but not significantly.
    assert run_gate(close, weak, "accuracy").passed
    weakly = run_gate(close, weak, "accuracy", alpha=0.05)
    assert not weakly.passed and "not significant" in weakly.message
    # A system name after '#'.
    assert run_gate(f"{strong}/eval.json#fine-tuned", weak, "accuracy").passed


def test_gate_cli_exit_codes_and_errors(tmp_path):
    strong = _report(tmp_path / "strong", [1] * 18 + [0] * 2, latency=0.2)
    weak = _report(tmp_path / "weak", [1] * 10 + [0] * 10, latency=0.1)
    runner = CliRunner()
    args = ["eval", "gate", "--candidate", strong, "--incumbent", weak, "--metric", "accuracy", "--min-delta", "0.05"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0 and ok.output.startswith("PASS")
    bad = runner.invoke(app, ["eval", "gate", "--candidate", weak, "--incumbent", strong, "--metric", "accuracy"])
    assert bad.exit_code == 1 and bad.output.startswith("FAIL")
    missing = runner.invoke(app, ["eval", "gate", "--candidate", str(tmp_path / "nope"), "--incumbent", weak,
                                  "--metric", "accuracy"])
    assert missing.exit_code == 1 and "no eval.json there" in missing.output
    unknown = runner.invoke(app, ["eval", "gate", "--candidate", f"{strong}#base", "--incumbent", weak,
                                  "--metric", "accuracy"])
    assert unknown.exit_code == 1 and "no system 'base'" in unknown.output
