"""A LoRA variant of a tiny test model with deterministic, seed-dependent weights, saved as a run folder.

Tests of the registry, server and export need several variants that answer differently; training each one
would cost seconds of CPU per test run, so these adapters are initialised (not trained) with nonzero weights.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.models.transformers_api import peft_wrapping
from tuneforge.run_record import library_versions, write_run
from tuneforge.sqlite_db import utc_now


def build_tiny_variant(folder: str | Path, base_dir: str | Path, seed: int, system_prompt: str | None = None,
                       data_path: str | None = None, r: int = 8) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from tuneforge.models.load import load_model, load_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    lora = LoraConfig(r=r, lora_alpha=4 * r, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    with peft_wrapping():
        model = get_peft_model(load_model(base_dir), lora)
    model.save_pretrained(folder, safe_serialization=True)
    load_tokenizer(base_dir).save_pretrained(folder)
    write_run(folder, {
        "format": "tuneforge.run/1",
        "created_at": utc_now(),
        "method": "lora",
        "base": {"name": str(base_dir), "path": str(base_dir), "source": "local"},
        "data": {"path": data_path, "hash": f"sha256:tiny-variant-{seed}", "eval_path": None,
                 "system_prompt": system_prompt},
        "config": {"seed": seed, "lora_r": r},
        "versions": library_versions(),
        "metrics": {"steps": 0},
    })
    return folder
