"""The systems an evaluation compares, and how each one answers a list of prompts.

The local systems share one copy of the base weights: the LoRA variants are PEFT adapters loaded side by side,
and the prompted baselines run with every adapter disabled. A full fine-tune has whole weights of its own: it
answers from its own model, loaded when its systems' turn comes (one at a time).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.config import EvalConfig
from tuneforge.errors import UserError
from tuneforge.eval.eval_file import PRIMARY
from tuneforge.models.classifier import is_classifier, prompted_base
from tuneforge.models.variant import LoadedModel, has_own_weights, load_for_inference
from tuneforge.run_record import is_run_dir, read_run



@dataclass
class System:
    name: str
    kind: str  # "zero-shot" | "few-shot random" | "few-shot similar" | "variant" | "endpoint"
    decoding: str  # "free" | "constrained" | "classify" (a classification variant: argmax over its labels)
    prompts: list[list[dict]]
    adapter: str | None = None  # PEFT adapter name for a variant; None runs the base
    weights: str | None = None  # a full fine-tune's run folder: it answers from its own model, not an adapter
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


def _shares_base(v: Variant) -> bool:
    """A variant that answers as an adapter on the shared base (not a head, not whole weights of its own)."""
    return not is_classifier(v.run) and not has_own_weights(v.run)


def load_models(cfg: EvalConfig, variants: list[Variant]) -> LoadedModel:
    """One base model with every LoRA variant's adapter attached under the variant's name."""
    generative = [v for v in variants if not is_classifier(v.run)]  # classification variants load their own head
    bases = {v.run["base"]["name"] for v in generative}
    if len(bases) > 1:
        raise UserError(f"--variants: all variants must share one base model to be compared here, got {sorted(bases)}")
    adapters = [v for v in generative if _shares_base(v)]
    if not adapters:
        first = generative[0].run if generative else (read_run(cfg.model) if is_run_dir(cfg.model) else None)
        return load_for_inference(prompted_base(first) if first else cfg.model)
    loaded = load_for_inference(adapters[0].path)
    # PEFT names the first adapter "default"; the others load under their own names.
    for v in adapters[1:]:
        loaded.model.load_adapter(v.path, adapter_name=v.name)
    return loaded


def adapter_name(variants: list[Variant], name: str) -> str | None:
    adapters = [v for v in variants if _shares_base(v)]
    if not any(v.name == name for v in adapters):
        return None
    return "default" if adapters[0].name == name else name


def own_weights(variants: list[Variant], name: str) -> str | None:
    """The run folder a variant answers from when it is a full fine-tune; None for an adapter or a head."""
    return next((v.path for v in variants if v.name == name and has_own_weights(v.run)), None)


class AnsweringModels:
    """The model each system answers with: the shared base (adapters switched per system), or a full fine-tune's
    own model, loaded on first use and kept until another one is needed, so at most one extra copy is in memory."""

    def __init__(self, shared: LoadedModel):
        self.shared = shared
        self._own: dict[str, LoadedModel] = {}

    def model_for(self, system: System) -> LoadedModel:
        if system.weights is None:
            return self.shared
        if system.weights not in self._own:
            self._own.clear()
            self._own[system.weights] = load_for_inference(system.weights)
        return self._own[system.weights]


def activate(loaded: LoadedModel, adapter: str | None):
    """Context in which `loaded.model` answers as the base (adapter None) or as one variant."""
    if not loaded.has_adapters:  # the base alone, or a full fine-tune's own weights
        return nullcontext()
    if adapter is None:
        return loaded.model.disable_adapter()
    loaded.model.set_adapter(adapter)
    return nullcontext()
