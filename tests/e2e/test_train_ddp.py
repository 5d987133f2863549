"""DDP for real: `tuneforge train --nproc 2` runs two CPU processes (torchrun, gloo) that follow the same loss
curve as one process with the same global batch, and leave the same weights — which only happens if every
step's gradients are synchronised (each process sees half of every batch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from safetensors.torch import load_file

from tuneforge.config import TrainConfig
from tuneforge.train.sft import train


def _settings(data, base, out, batch_size) -> dict:
    # Dropout off: two processes draw different dropout masks than one, which is not what this test is about.
    return dict(data=str(data), base=str(base), out=str(out), variant_type="generative", epochs=2, batch_size=batch_size, lr=5e-3, lora_r=4,
                lora_dropout=0.0, eval_split=0.2, progress=False, precision="fp32", report_to="none")


def _curve(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r], [r["eval_loss"] for r in rows if "epoch_end" in r]


def test_two_processes_match_one_with_the_same_global_batch(label_data, tiny_model_dir, tmp_path, one_torch_thread):
    import torch

    two = tmp_path / "two"
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump(_settings(label_data, tiny_model_dir, two, batch_size=2)), encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "tuneforge", "train", "--config", str(config), "--nproc", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((two / "run.json").read_text())
    assert run["processes"] == 2

    one = train(TrainConfig(**_settings(label_data, tiny_model_dir, tmp_path / "one", batch_size=4)),
                log=lambda *_: None)
    (losses_1, evals_1), (losses_2, evals_2) = _curve(one), _curve(two)
    assert len(losses_1) == 6
    assert losses_2 == pytest.approx(losses_1, rel=1e-4)
    assert evals_2 == pytest.approx(evals_1, rel=1e-4)
    a, b = load_file(one / "adapter_model.safetensors"), load_file(two / "adapter_model.safetensors")
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-3, atol=1e-6), key
