"""Can vLLM serve this adapter? Its LoRA loader's rules, checked without vLLM installed.

vLLM (no CPU wheel on PyPI; its CUDA wheels are hundreds of MB) cannot be installed on our test machines, so
the rules its loader applies are written down here, read from vLLM's source (vllm/lora/peft_helper.py:
PEFTHelper.from_dict and validate_legal; vllm/lora/lora_model.py: expected target modules; the Llama model's
packed modules), and a run folder is checked against them:

- adapter_config.json has r, lora_alpha and target_modules (from_dict refuses a config without them);
- no modules_to_save, no DoRA, bias "none" (validate_legal);
- the largest rank (r and rank_pattern) within --max-lora-rank, which takes one of a fixed set of values;
- target modules among the linear layers vLLM has LoRA kernels for in Llama-style models (q/k/v packed into
  qkv_proj, gate/up into gate_up_proj, o_proj, down_proj); other names are "unexpected modules";
- weights in adapter_model.safetensors, lora_A/lora_B matrices only.
"""

from __future__ import annotations

import json
from pathlib import Path

# vLLM's --max-lora-rank choices.
MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_MAX_LORA_RANK = 16
# The structured-outputs backend that compiles llguidance's Lark grammars (the one tuneforge's evaluation uses).
GUIDANCE_BACKEND_FLAG = "--structured-outputs-config.backend guidance"
LLAMA_LORA_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def required_max_lora_rank(rank: int) -> int | None:
    """The smallest --max-lora-rank that admits `rank`, or None when no value does."""
    return next((v for v in MAX_LORA_RANKS if v >= rank), None)


def vllm_adapter_problems(run_dir: str | Path) -> list[str]:
    """Every reason vLLM's LoRA loader would refuse this adapter (empty: it would load it)."""
    run_dir = Path(run_dir)
    path = run_dir / "adapter_config.json"
    if not path.is_file():
        return [f"{path}: missing (vLLM loads PEFT LoRA adapters only; full fine-tunes serve as a merged model)"]
    cfg = json.loads(path.read_text(encoding="utf-8"))
    problems = [f"adapter_config.json: field '{k}' is missing" for k in ("r", "lora_alpha", "target_modules")
                if k not in cfg]
    if cfg.get("peft_type", "LORA") != "LORA":
        problems.append(f"adapter_config.json: peft_type {cfg['peft_type']!r}; vLLM serves LORA adapters only")
    if cfg.get("modules_to_save"):
        problems.append(f"adapter_config.json: modules_to_save {cfg['modules_to_save']}; vLLM needs it empty")
    if cfg.get("use_dora"):
        problems.append("adapter_config.json: use_dora is true; vLLM does not serve DoRA adapters")
    if cfg.get("bias", "none") != "none":
        problems.append(f"adapter_config.json: bias {cfg['bias']!r}; vLLM supports bias 'none' only")
    ranks = [cfg.get("r", 0), *(cfg.get("rank_pattern") or {}).values()]
    if required_max_lora_rank(max(ranks)) is None:
        problems.append(f"rank {max(ranks)} is above vLLM's largest --max-lora-rank ({MAX_LORA_RANKS[-1]})")
    targets = cfg.get("target_modules") or []
    targets = [targets] if isinstance(targets, str) else targets
    unexpected = sorted({t.rsplit(".", 1)[-1] for t in targets} - LLAMA_LORA_MODULES)
    if unexpected:
        problems.append(f"target modules {unexpected} have no LoRA support in vLLM "
                        f"(supported: {', '.join(sorted(LLAMA_LORA_MODULES))})")
    problems += _weight_problems(run_dir)
    return problems


def _weight_problems(run_dir: Path) -> list[str]:
    from safetensors import safe_open

    weights = run_dir / "adapter_model.safetensors"
    if not weights.is_file():
        return [f"{weights.name}: missing (vLLM reads adapter weights from safetensors)"]
    with safe_open(str(weights), "pt") as f:
        names = list(f.keys())
    odd = [n for n in names if not (n.endswith(".lora_A.weight") or n.endswith(".lora_B.weight"))]
    return [f"{weights.name}: tensors other than lora_A/lora_B matrices: {odd[:5]}"] if odd else []


def vllm_card_lines(run_dir: str | Path, base_id: str | None, grammar: bool = False) -> list[str]:
    """The adapter card's note on vLLM: the command that serves it, or why vLLM would refuse it. `grammar`: the
    variant's answers decode under a Lark grammar, which vLLM compiles with its guidance backend."""
    problems = vllm_adapter_problems(run_dir)
    if problems:
        return ["vLLM would refuse this adapter (serve a merged export instead):", "",
                *[f"- {p}" for p in problems], ""]
    cfg = json.loads((Path(run_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    rank = required_max_lora_rank(max([cfg["r"], *(cfg.get("rank_pattern") or {}).values()]))
    flag = f" --max-lora-rank {rank}" if rank > DEFAULT_MAX_LORA_RANK else ""
    flag += f" {GUIDANCE_BACKEND_FLAG}" if grammar else ""
    return ["The adapter follows vLLM's LoRA loader rules (checked by tuneforge; vLLM itself was not run):", "",
            "```bash", f"vllm serve {base_id or 'BASE_MODEL'} --enable-lora --lora-modules "
            f"{Path(run_dir).name}=PATH_TO_THIS_FOLDER{flag}", "```", ""]
