"""The SFT loop on a tiny random Llama: it trains (adapter changes, base frozen, loss falls) and leaves a run."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from tuneforge.config import TrainConfig
from tuneforge.train.sft import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(data, base, out, **kw):
    args = dict(data=str(data), base=str(base), out=str(out), variant_type="generative", epochs=8, batch_size=4, lr=5e-3,
                lora_r=8, eval_split=0.2, progress=False)
    args.update(kw)
    return TrainConfig(**args)


def test_lora_training_moves_the_adapter_and_never_the_base(label_data, tiny_model_dir, tmp_path):
    """On the model in memory, through the same setup and loop `train` runs: only LoRA weights are trainable
    and change; every base weight is bit-for-bit what it was before the loop."""
    import torch

    from tuneforge.train.sft import LoopState, fit, setup

    run = setup(_cfg(label_data, tiny_model_dir, tmp_path / "run", epochs=2), log=lambda *_: None)
    params = dict(run.model.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in params.items()}
    fit(run, LoopState())
    moved = {n for n, p in params.items() if not torch.equal(p, before[n])}
    assert moved and moved <= trainable, sorted(moved - trainable)[:5]


def test_training_trains_adapter_only(label_data, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel

    from tuneforge.models.load import load_model

    out = train(_cfg(label_data, tiny_model_dir, tmp_path / "run"), log=lambda *_: None)
    run = json.loads((out / "run.json").read_text())
    assert run["metrics"]["final_train_loss"] < run["metrics"]["epochs"][0]["train_loss"]
    assert run["metrics"]["first_loss"] > run["metrics"]["final_train_loss"]
    assert run["data"]["train_examples"] + run["data"]["eval_examples"] == 15
    assert run["data"]["hash"].startswith("sha256:")
    assert run["trained_tokens"] > 0

    # The adapter file holds trained LoRA weights: B starts at zero in PEFT, so nonzero B means it moved.
    weights = load_file(out / "adapter_model.safetensors")
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(torch.count_nonzero(v) > 0 for v in lora_b)

    # Reload: the adapter changes the output. (That the base stays frozen is checked on the trained model itself
    # below: the file on disk is never written by training, so comparing it would prove nothing.)
    base = load_model(tiny_model_dir)
    variant = PeftModel.from_pretrained(load_model(tiny_model_dir), out)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert not torch.allclose(base(ids).logits, variant(ids).logits)

    # One checkpoint per epoch (the newest 3 kept, plus the best), and the PEFT files the registry and server use.
    assert (out / "adapter_config.json").is_file()
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["best", "step-18", "step-21", "step-24"]
    assert (out / "checkpoints" / "step-24" / "trainer_state.json").is_file()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert any('"epoch_end"' in line for line in lines)


def test_unknown_lora_target_is_an_error(label_data, tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="no module named \\['qkv_proj'\\]"):
        train(_cfg(label_data, tiny_model_dir, tmp_path / "run", lora_targets="q_proj,qkv_proj"), log=lambda *_: None)


def test_seeded_runs_are_reproducible(label_data, tiny_model_dir, tmp_path):
    a = train(_cfg(label_data, tiny_model_dir, tmp_path / "a", epochs=2), log=lambda *_: None)
    b = train(_cfg(label_data, tiny_model_dir, tmp_path / "b", epochs=2), log=lambda *_: None)
    ra, rb = (json.loads((p / "run.json").read_text())["metrics"] for p in (a, b))
    assert ra["epochs"] == rb["epochs"]
