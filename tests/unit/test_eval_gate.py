"""The regression gate on stored eval.json files: direction of the metric, margin, paired significance."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.eval.gate import decide
from tuneforge.eval.tasks import classification


def _report(folder, correct: list[int], latency: float):
    """A run folder with an eval.json whose "fine-tuned" system got `correct` right on the same 20 inputs, each
    answered in about `latency` seconds."""
    labels = ["x", "y"]
    rows = [classification.score_example("x" if ok else "y", "x", labels) for ok in correct]
    head = classification.headline(rows, labels)
    report = {
        "task": "classification", "task_spec": {"type": "classification", "labels": labels},
        "systems": {"fine-tuned": {"kind": "variant", "metrics": head, "latency_p50_s": latency, "n": len(rows)}},
        "examples": [{"input": f"line {i}", "scores": {"fine-tuned": r},
                      "timing": {"fine-tuned": {"latency_s": latency + i / 1000}}} for i, r in enumerate(rows)],
    }
    folder.mkdir()
    (folder / "eval.json").write_text(json.dumps(report))
    return str(folder)


def test_gate_directions_margins_and_significance(tmp_path):
    strong = _report(tmp_path / "strong", [1] * 18 + [0] * 2, latency=0.2)   # 90%
    weak = _report(tmp_path / "weak", [1] * 10 + [0] * 10, latency=0.1)      # 50%
    close = _report(tmp_path / "close", [1] * 11 + [0] * 9, latency=0.1)     # 55%

    r = decide(strong, weak, "accuracy", min_delta=0.3)
    assert r.passed and r.improvement == pytest.approx(0.4) and r.p_value < 0.01 and r.confidence == 0.95
    assert not decide(strong, weak, "accuracy", min_delta=0.4).passed  # must be better by MORE than the margin
    assert not decide(weak, strong, "accuracy").passed
    # Latency: lower is better, so the slower candidate fails and the faster one passes, significantly.
    lat = decide(strong, weak, "latency_p50_s")
    assert not lat.passed and lat.improvement == pytest.approx(-0.1) and "lower is better" in lat.reason
    fast = decide(weak, strong, "latency_p50_s")
    assert fast.passed and fast.improvement == pytest.approx(0.1) and fast.p_value < 0.01
    # 55% vs 50% on 20 examples: better, but not significantly; refused unless the test is turned off.
    weakly = decide(close, weak, "accuracy")
    assert not weakly.passed and "not significant" in weakly.reason and weakly.p_value > 0.05
    assert decide(close, weak, "accuracy", confidence=0).passed
    assert decide(close, weak, "accuracy", confidence=None).passed
    # A system name after '#'.
    assert decide(f"{strong}/eval.json#fine-tuned", weak, "accuracy").passed


def test_gate_refuses_when_no_paired_test_is_possible(tmp_path):
    strong = _report(tmp_path / "strong", [1] * 18 + [0] * 2, latency=0.2)
    weak = _report(tmp_path / "weak", [1] * 10 + [0] * 10, latency=0.1)
    other = json.loads((tmp_path / "weak" / "eval.json").read_text())
    for ex in other["examples"]:
        ex["input"] += " (another test set)"
    (tmp_path / "weak" / "eval.json").write_text(json.dumps(other))
    r = decide(strong, weak, "accuracy")
    assert not r.passed and r.p_value is None and "not scored on the same examples" in r.reason


def test_gate_cli_exit_codes_and_errors(tmp_path):
    strong = _report(tmp_path / "strong", [1] * 18 + [0] * 2, latency=0.2)
    weak = _report(tmp_path / "weak", [1] * 10 + [0] * 10, latency=0.1)
    runner = CliRunner()
    args = ["eval", "gate", "--candidate", strong, "--incumbent", weak, "--metric", "accuracy", "--min-delta", "0.05"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0 and ok.output.startswith("PASS"), ok.output
    bad = runner.invoke(app, ["eval", "gate", "--candidate", weak, "--incumbent", strong, "--metric", "accuracy"])
    assert bad.exit_code == 1 and bad.output.startswith("FAIL")
    missing = runner.invoke(app, ["eval", "gate", "--candidate", str(tmp_path / "nope"), "--incumbent", weak,
                                  "--metric", "accuracy"])
    assert missing.exit_code == 1 and "no eval.json there" in missing.output and "Traceback" not in missing.output
    unknown = runner.invoke(app, ["eval", "gate", "--candidate", f"{strong}#base", "--incumbent", weak,
                                  "--metric", "accuracy"])
    assert unknown.exit_code == 1 and "no system 'base'" in unknown.output
