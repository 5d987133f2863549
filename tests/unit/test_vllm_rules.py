"""Adapters tuneforge writes pass vLLM's LoRA loader rules (vLLM itself cannot be installed on CPU test machines);
adapters vLLM would refuse are named with the reason."""

from __future__ import annotations

import json
import shutil

from tuneforge.export.vllm_rules import required_max_lora_rank, vllm_adapter_problems


def test_tuneforge_adapters_pass_vllm_lora_rules(tiny_variants):
    for run in tiny_variants.values():
        assert vllm_adapter_problems(run) == []
    cfg = json.loads((tiny_variants["alpha"] / "adapter_config.json").read_text())
    assert required_max_lora_rank(cfg["r"]) == 8  # within vLLM's default --max-lora-rank of 16


def test_adapters_vllm_refuses_are_named(tiny_variants, tmp_path):
    run = shutil.copytree(tiny_variants["beta"], tmp_path / "run")
    path = run / "adapter_config.json"
    cfg = json.loads(path.read_text())
    cfg.update(use_dora=True, modules_to_save=["lm_head"], bias="lora_only", r=1024,
               target_modules=[*cfg["target_modules"], "embed_tokens"])
    path.write_text(json.dumps(cfg))
    problems = "\n".join(vllm_adapter_problems(run))
    for needle in ("DoRA", "modules_to_save", "bias", "rank 1024", "embed_tokens"):
        assert needle in problems, needle
    (run / "adapter_model.safetensors").unlink()
    assert any("adapter_model.safetensors: missing" in p for p in vllm_adapter_problems(run))


def test_dora_run_from_the_trainer_is_refused(tiny_model_dir, tmp_path, one_torch_thread):
    """The trainer's own DoRA config, not a hand-edited file."""
    from tuneforge.config import TrainConfig
    from tuneforge.models.load import load_model
    from tuneforge.train.methods import make_trainable

    cfg = TrainConfig(data="x.jsonl", base=str(tiny_model_dir), method="dora", lora_r=4)
    model = make_trainable(load_model(tiny_model_dir), cfg)
    model.save_pretrained(tmp_path / "dora")
    assert any("DoRA" in p for p in vllm_adapter_problems(tmp_path / "dora"))
