"""Merge a run's LoRA adapter into its base and save a plain transformers model (sharded safetensors) that
carries the trained system prompt and decoding settings, a model card and portable metadata, and for an extraction
variant its answer grammar (`answer.lark`)."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.errors import UserError
from tuneforge.export.file_names import ANSWER_LARK_FILE, EXPORT_FILE
from tuneforge.sqlite_db import utc_now

DTYPES = ("bfloat16", "float16", "float32")
DEFAULT_SHARD_SIZE = "2GB"


def merge_adapter(run_dir: str | Path, out: str | Path, overwrite: bool = False, dtype: str | None = None,
                  max_shard_size: str = DEFAULT_SHARD_SIZE) -> Path:
    """Write the merged model to `out`. `dtype` None means the precision tuneforge evaluates variants in
    (float32), so the export answers exactly as the variant did in evaluation; bfloat16 and float16 halve the
    size and may flip near-tie answers (the parity check lists them with their margins)."""
    import torch

    from tuneforge.export.model_card import lark_grammar_lines, write_model_card
    from tuneforge.export.trained_behaviour import apply_trained_behaviour
    from tuneforge.export.vllm_rules import GUIDANCE_BACKEND_FLAG
    from tuneforge.models.answer_grammar import learned_answer_format
    from tuneforge.models.load import INFERENCE_DTYPE
    from tuneforge.models.resolve import source_dtype
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(str(run_dir))
    if not loaded.is_variant:
        raise UserError(f"{run_dir}: not a run folder with an adapter; nothing to merge")
    dtype = dtype or INFERENCE_DTYPE
    if dtype not in DTYPES:
        raise UserError(f"--dtype: one of {', '.join(DTYPES)} (got {dtype!r})")
    # Merge in float32 (the adapter's precision), then cast once: rounding happens a single time.
    merged = loaded.model.merge_and_unload() if hasattr(loaded.model, "merge_and_unload") else loaded.model
    merged = merged.to(getattr(torch, dtype))
    apply_trained_behaviour(merged, loaded.tokenizer, loaded.default_system_prompt)
    # An extraction variant was evaluated decoding under its learned-keys grammar (llguidance's Lark): the same
    # text goes beside the weights, for servers that compile it with llguidance as the evaluation did (vLLM's
    # guidance backend: llguidance.grammar_from("grammar", text), the same grammar as grammar_from_lark's).
    fmt = learned_answer_format(loaded.run)
    with atomic_folder(out, overwrite) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True, max_shard_size=max_shard_size)
        loaded.tokenizer.save_pretrained(tmp)
        if fmt:
            (tmp / ANSWER_LARK_FILE).write_text(str(fmt.grammar), encoding="utf-8")
        write_export_record(tmp, run_dir, loaded.run, "merged-safetensors", dtype=dtype,
                            base_dtype=source_dtype(loaded.run["base"]["name"], loaded.base_path),
                            answer_grammar=ANSWER_LARK_FILE if fmt else None)
        title = Path(out).name
        serving = (lark_grammar_lines(title, f"{title}/{ANSWER_LARK_FILE}", fmt.max_tokens,
                                      f"vllm serve {title} {GUIDANCE_BACKEND_FLAG}") if fmt else None)
        write_model_card(run_dir, tmp, export_kind="merged", dtype=dtype, title=title, serving=serving)
    return Path(out)


def write_export_record(folder: Path, run_dir, run: dict, kind: str, **extra) -> None:
    from tuneforge.models.resolve import public_id

    record = {
        "format": "tuneforge.export/1", "kind": kind, "created_at": utc_now(),
        "source_run": str(Path(run_dir).resolve()), "base": run["base"]["name"],
        "base_public_id": public_id(run["base"]["name"]),
        "data_hash": run.get("data", {}).get("hash"), "system_prompt": run.get("data", {}).get("system_prompt"),
        **extra,
    }
    (Path(folder) / EXPORT_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_export_record(folder) -> dict:
    """An exported folder's tuneforge-export.json (empty when there is none)."""
    path = Path(folder) / EXPORT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
