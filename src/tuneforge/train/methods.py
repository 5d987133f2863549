"""The trainable model for each method: LoRA, DoRA, QLoRA (4-bit NF4 base) or full fine-tuning.

Every check that can fail runs before the base model is loaded, so a bad config costs seconds, not a load.
"""

from __future__ import annotations

from tuneforge.errors import UserError
from tuneforge.models.transformers_api import loading_quietly, peft_wrapping

ADAPTER_METHODS = ("lora", "dora", "qlora")


def check_method(cfg) -> None:
    """Refuse combinations that cannot run here, before anything heavy happens."""
    if cfg.method == "qlora":
        import torch

        if not torch.cuda.is_available():
            raise UserError(
                "method 'qlora' needs a CUDA GPU: bitsandbytes' 4-bit NF4 kernels do not run on CPU. "
                "Use --method lora here (same adapter, full-precision base)."
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise UserError("method 'qlora' needs bitsandbytes: pip install 'tuneforge[qlora]'") from None
    if cfg.objective == "dpo" and cfg.method not in ADAPTER_METHODS:
        # The reference model is the base with the adapter switched off; full fine-tuning has no such switch
        # and a second full copy is what this design avoids.
        raise UserError(f"objective 'dpo' needs an adapter method (lora, dora, qlora), not {cfg.method!r}")


def load_base_for(cfg, path):
    from tuneforge.models.load import load_model

    if cfg.method != "qlora":
        return load_model(path)
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    with loading_quietly():
        model = AutoModelForCausalLM.from_pretrained(str(path), quantization_config=quant, use_safetensors=True)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)


def _check_targets(model, targets) -> None:
    if not isinstance(targets, list):
        return
    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise UserError(f"lora_targets: no module named {unknown} in the model (it has e.g. {sorted(names)[:12]})")


def make_trainable(model, cfg):
    """Wrap `model` for the method; return it with only the trained parameters requiring grad."""
    if cfg.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules()
    _check_targets(model, targets)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.resolved_lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        use_dora=cfg.method == "dora",
        task_type="CAUSAL_LM",
    )
    with peft_wrapping():
        return get_peft_model(model, lora)


def enable_gradient_checkpointing(model) -> None:
    # Non-reentrant checkpointing works with frozen inputs (LoRA) and keeps dropout's RNG, so the loss is unchanged.
    # transformers 5 renamed it activation checkpointing; older versions in our range only have the first name.
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
