"""Every method trains the real bundled base model (one step each: the loop runs end to end, the loss is
finite, and the run folder holds what inference loads). QLoRA needs CUDA and is tested only there."""

from __future__ import annotations

import json
import math

import pytest

from conftest import write_jsonl
from tuneforge.config import TrainConfig
from tuneforge.paths import examples_dir
from tuneforge.train.sft import train

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


def _rows(n=4):
    lines = (examples_dir() / "invoice-categories" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:n]]


def _pairs(rows):
    out = []
    for r in rows:
        msgs = r["messages"]
        wrong = "travel" if msgs[-1]["content"] != "travel" else "software"
        out.append({"prompt": msgs[:-1], "chosen": msgs[-1]["content"], "rejected": wrong})
    return out


@pytest.mark.parametrize("method,objective", [
    ("lora", "sft"), ("dora", "sft"), ("full", "sft"), ("lora", "dpo"),
    pytest.param("qlora", "sft", marks=pytest.mark.skipif(
        not __import__("torch").cuda.is_available(), reason="QLoRA needs CUDA (its refusal is tested in unit/)")),
])
def test_method_trains_the_bundled_model(method, objective, tmp_path):
    rows = _rows()
    data = write_jsonl(tmp_path / "data.jsonl", _pairs(rows) if objective == "dpo" else rows)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), method=method, objective=objective, variant_type="generative",
                      batch_size=2, max_steps=1, epochs=1, eval_split=0.0, max_seq_len=160, progress=False,
                      report_to="none", lr=1e-5 if method == "full" else 2e-4)
    out = train(cfg, log=lambda *_: None)
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == method and run["objective"] == objective and run["metrics"]["steps"] == 1
    losses = [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses) == 1 and math.isfinite(losses[0]) and losses[0] > 0
    assert (out / ("model.safetensors" if method == "full" else "adapter_model.safetensors")).is_file()
