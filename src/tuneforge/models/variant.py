"""Load what a user names with --model: a run folder (base + LoRA adapter) or a base model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.models.load import load_model, load_tokenizer
from tuneforge.models.resolve import resolve_base
from tuneforge.models.transformers_api import peft_wrapping
from tuneforge.run_record import is_run_dir, read_run


@dataclass
class LoadedModel:
    name: str
    model: object
    tokenizer: object
    run: dict | None  # run.json of a fine-tuned variant; None for a plain base model
    base_path: Path

    @property
    def default_system_prompt(self) -> str | None:
        return (self.run or {}).get("data", {}).get("system_prompt")

    @property
    def is_variant(self) -> bool:
        return self.run is not None

    @property
    def has_adapters(self) -> bool:
        """The model is a PEFT model: the base with adapters that can be switched (off for the base)."""
        return self.run is not None and not has_own_weights(self.run)


def has_own_weights(run: dict | None) -> bool:
    """A generative run of full fine-tuning: its folder holds whole weights, not an adapter over the base, so it
    answers from its own copy of the model (it cannot share a base with adapters)."""
    return bool(run) and run.get("method") == "full" and run.get("variant_type") != "classification"


def load_for_inference(name: str) -> LoadedModel:
    if is_run_dir(name):
        run = read_run(name)
        base = resolve_base(run["base"]["name"])
        tokenizer = load_tokenizer(name)
        if has_own_weights(run):  # full fine-tuning leaves whole weights, not an adapter
            model = load_model(name)
        else:
            from peft import PeftModel

            with peft_wrapping():
                model = PeftModel.from_pretrained(load_model(base.path), name)
        model.eval()
        return LoadedModel(str(name), model, tokenizer, run, base.path)
    if Path(name).is_dir() and not (Path(name) / "config.json").exists():
        raise UserError(f"{name}: neither a tuneforge run folder (run.json) nor a model folder (config.json)")
    base = resolve_base(name)
    model = load_model(base.path)
    model.eval()
    return LoadedModel(name, model, load_tokenizer(base.path), None, base.path)
