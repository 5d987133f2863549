"""The systems an evaluation compares, and how each one answers a list of prompts.

All local systems share one copy of the base weights: the variants are PEFT adapters loaded side by side,
and the prompted baselines run with every adapter disabled.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.config import EvalConfig
from tuneforge.errors import UserError
from tuneforge.eval.eval_file import PRIMARY
from tuneforge.models.classifier import is_classifier, prompted_base
from tuneforge.models.variant import LoadedModel, load_for_inference
from tuneforge.run_record import is_run_dir, read_run



@dataclass
class System:
    name: str
    kind: str  # "zero-shot" | "few-shot random" | "few-shot similar" | "variant" | "endpoint"
    decoding: str  # "free" | "constrained" | "classify" (a classification variant: argmax over its labels)
    prompts: list[list[dict]]
    adapter: str | None = None  # PEFT adapter name for a variant; None runs the base
    extra: dict = field(default_factory=dict)


@dataclass
class Variant:
    name: str
    path: str
    run: dict


def parse_variants(cfg: EvalConfig) -> list[Variant]:
    """The --model run (named "fine-tuned") and every --variants entry, as 'name=folder' or a folder."""
    found: list[Variant] = []
    if is_run_dir(cfg.model):
        found.append(Variant(PRIMARY, cfg.model, read_run(cfg.model)))
    for item in [v.strip() for v in (cfg.variants or "").split(",") if v.strip()]:
        name, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        if not is_run_dir(path):
            raise UserError(f"--variants: {path} is not a tuneforge run folder (no run.json)")
        name = name or Path(path).resolve().name
        if any(v.name == name for v in found):
            raise UserError(f"--variants: two variants are named {name!r}; name them with name=folder")
        found.append(Variant(name, path, read_run(path)))
    return found


def load_models(cfg: EvalConfig, variants: list[Variant]) -> LoadedModel:
    """One base model with every variant's adapter attached under the variant's name."""
    variants = [v for v in variants if not is_classifier(v.run)]  # classification variants load their own head
    if not variants:
        return load_for_inference(cfg.model if not is_run_dir(cfg.model) else prompted_base(read_run(cfg.model)))
    bases = {v.run["base"]["name"] for v in variants}
    if len(bases) > 1:
        raise UserError(f"--variants: all variants must share one base model to be compared here, got {sorted(bases)}")
    loaded = load_for_inference(variants[0].path)
    # PEFT names the first adapter "default"; the others load under their own names.
    for v in variants[1:]:
        loaded.model.load_adapter(v.path, adapter_name=v.name)
    return loaded


def adapter_name(variants: list[Variant], name: str) -> str:
    variants = [v for v in variants if not is_classifier(v.run)]
    return "default" if variants and variants[0].name == name else name


def activate(loaded: LoadedModel, adapter: str | None):
    """Context in which `loaded.model` answers as the base (adapter None) or as one variant."""
    if not loaded.is_variant:
        return nullcontext()
    if adapter is None:
        return loaded.model.disable_adapter()
    loaded.model.set_adapter(adapter)
    return nullcontext()
