"""Training precision: bf16 autocast on GPUs that compute bf16 natively, fp32 on CPU.

Weights, optimizer state and the loss stay fp32 either way; bf16 autocast only runs the matmuls in bf16. On a CPU
with avx512_bf16 or AMX that trains SmolLM2-135M faster, but it was measured to cost answer loss (and, at plain
TRL's settings, field F1) against fp32 over 3 seeds, so on CPU `auto` is fp32 and bf16 is a flag a user asks for
(`--precision bf16`). The figures and commands are in docs/training.md ("Precision") and benchmarks/RESULTS.md.
"""

from __future__ import annotations

from contextlib import nullcontext


def cpu_has_native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision(requested: str, device) -> tuple[str, str | None]:
    """The training precision for `requested` on `device`, and the reason when 'auto' chose it (None when the
    user set it): 'fp32' or 'bf16'."""
    import torch

    if requested != "auto":
        return requested, None
    if getattr(device, "type", str(device)) == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "bf16 autocast: this GPU computes bf16 natively; weights and optimizer stay fp32"
        return "fp32", "this GPU has no native bf16"
    if cpu_has_native_bf16():
        return "fp32", ("CPU: bf16 autocast trains faster here but cost answer loss against fp32 over 3 seeds "
                        "(docs/training.md, Precision); --precision bf16 trades that for speed")
    return "fp32", "CPU without native bf16: autocast would be slower, not faster"


def resolve_precision(requested: str, device) -> str:
    return choose_precision(requested, device)[0]


def autocast(device, precision: str):
    import torch

    if precision != "bf16":
        return nullcontext()
    return torch.autocast(getattr(device, "type", str(device)), dtype=torch.bfloat16)
