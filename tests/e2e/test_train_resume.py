"""A run killed with SIGKILL after a checkpoint and resumed with --resume ends exactly where an uninterrupted
run ends: same loss curve, same eval losses, same final weights (LoRA dropout on, so the RNG state matters)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from tuneforge.cli.main import app

from tuneforge.config import TrainConfig
from tuneforge.errors import UserError
from tuneforge.train.sft import train


def _settings(data, base, out) -> dict:
    return dict(data=str(data), base=str(base), out=str(out), variant_type="generative", epochs=20, batch_size=2, lr=5e-3, lora_r=4,
                lora_dropout=0.1, eval_split=0.2, progress=False, precision="fp32", report_to="none",
                save_every=4, keep_checkpoints=2)


def _losses(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def test_killed_run_resumes_to_the_same_result(label_data, tiny_model_dir, tmp_path, one_torch_thread):
    import torch

    killed = tmp_path / "killed"
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(_settings(label_data, tiny_model_dir, killed)), encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "tuneforge", "train", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not list((killed / "checkpoints").glob("step-*")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint within 120 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "run.json").exists(), "the run finished before it was killed; the test proves nothing"

    # Resume as a user does: the same command plus --resume.
    resumed = CliRunner().invoke(app, ["train", "--config", str(config), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resume: step-" in resumed.output
    whole = train(TrainConfig(**_settings(label_data, tiny_model_dir, tmp_path / "whole")), log=lambda *_: None)

    resumed_run = json.loads((killed / "run.json").read_text())["metrics"]
    whole_run = json.loads((whole / "run.json").read_text())["metrics"]
    assert resumed_run["steps"] == whole_run["steps"] == 120
    assert resumed_run["epochs"] == whole_run["epochs"]  # train and eval loss of every epoch
    assert _losses(killed) == _losses(whole)  # metrics.jsonl holds each step once, as if never interrupted
    a = load_file(killed / "adapter_model.safetensors")
    b = load_file(whole / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_without_a_checkpoint_is_a_clear_error(label_data, tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="no complete checkpoint to resume from"):
        train(TrainConfig(**_settings(label_data, tiny_model_dir, tmp_path / "empty"), resume=True))
