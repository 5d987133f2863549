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


def test_missing_fields_other_peft_types_and_stray_tensors_are_named(tiny_variants, tmp_path):
    from safetensors.torch import load_file, save_file

    run = shutil.copytree(tiny_variants["beta"], tmp_path / "run")
    path = run / "adapter_config.json"
    cfg = json.loads(path.read_text())
    for key in ("r", "lora_alpha"):
        cfg.pop(key)
    cfg.update(peft_type="IA3", rank_pattern={})
    path.write_text(json.dumps(cfg))
    weights = load_file(run / "adapter_model.safetensors")
    weights["base_model.model.lm_head.weight"] = next(iter(weights.values())).clone()
    save_file(weights, run / "adapter_model.safetensors")
    problems = "\n".join(vllm_adapter_problems(run))
    for needle in ("field 'r' is missing", "field 'lora_alpha' is missing", "peft_type 'IA3'", "lm_head.weight"):
        assert needle in problems, needle


def test_rank_pattern_sets_the_max_lora_rank(tiny_variants, tmp_path):
    run = shutil.copytree(tiny_variants["beta"], tmp_path / "run")
    path = run / "adapter_config.json"
    cfg = json.loads(path.read_text())
    cfg["rank_pattern"] = {"q_proj": 600}  # above vLLM's largest --max-lora-rank (512)
    path.write_text(json.dumps(cfg))
    assert any("rank 600" in p for p in vllm_adapter_problems(run))
    assert required_max_lora_rank(17) == 32 and required_max_lora_rank(513) is None


def test_the_adapter_card_says_how_vllm_serves_it(tiny_variants, tmp_path):
    from tuneforge.export.model_card import write_model_card

    card = write_model_card(tiny_variants["beta"]).read_text()
    assert "vllm serve" in card and "--enable-lora" in card and "--max-lora-rank" not in card  # r=8 fits 16
    run = shutil.copytree(tiny_variants["beta"], tmp_path / "run")
    cfg = json.loads((run / "adapter_config.json").read_text())
    cfg["r"] = 64
    (run / "adapter_config.json").write_text(json.dumps(cfg))
    assert "--max-lora-rank 64" in write_model_card(run).read_text()
    cfg["use_dora"] = True
    (run / "adapter_config.json").write_text(json.dumps(cfg))
    card = write_model_card(run).read_text()
    assert "vLLM would refuse this adapter" in card and "DoRA" in card and "vllm serve" not in card
