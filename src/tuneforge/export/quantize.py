"""Quantized GGUF files through llama.cpp's own quantizer (`llama_model_quantize`, via llama-cpp-python), so the
block formats are exactly the ones llama.cpp and Ollama read."""

from __future__ import annotations

from pathlib import Path

from tuneforge.errors import UserError

# Our names (llama.cpp's `quantize` tool spells them the same) -> llama.cpp file types.
# f16 from the default F32 export gives the evaluation precision and half the size from one export (and one
# --check run).
QUANT_TYPES = ("f16", "q8_0", "q4_k_m")
_FTYPE_ATTR = {"f16": "LLAMA_FTYPE_MOSTLY_F16", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}
INSTALL_HINT = "pip install llama-cpp-python==0.3.36 (builds llama.cpp from source; `make check-export` does it)"


def require_llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise UserError(f"llama.cpp's Python binding is not installed: {INSTALL_HINT}") from None
    return llama_cpp


def parse_quant_types(text: str | None) -> list[str]:
    types = [t.strip().lower() for t in (text or "").split(",") if t.strip()]
    unknown = [t for t in types if t not in QUANT_TYPES]
    if unknown:
        raise UserError(f"--quantize: unknown type(s) {', '.join(unknown)}; choose from {', '.join(QUANT_TYPES)}")
    return types


def quantize_gguf(source: str | Path, target: str | Path, qtype: str, threads: int = 0) -> Path:
    """Write `target`, a `qtype` copy of the F16/F32 GGUF `source`."""
    import ctypes

    llama_cpp = require_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, _FTYPE_ATTR[qtype])
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0 or not Path(target).is_file():
        raise RuntimeError(f"llama.cpp could not quantize {source} to {qtype} (status {status})")
    return Path(target)
