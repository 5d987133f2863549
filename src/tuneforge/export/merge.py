"""Merge a run's LoRA adapter into its base and save a plain transformers model (safetensors)."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.errors import UserError
from tuneforge.sqlite_db import utc_now

EXPORT_FILE = "tuneforge-export.json"


def merge_adapter(run_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(str(run_dir))
    if not loaded.is_variant:
        raise UserError(f"{run_dir}: not a run folder with an adapter; nothing to merge")
    merged = loaded.model.merge_and_unload()
    with atomic_folder(out, overwrite) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        loaded.tokenizer.save_pretrained(tmp)
        write_export_record(tmp, run_dir, loaded.run, "merged-safetensors")
    return Path(out)


def write_export_record(folder: Path, run_dir, run: dict, kind: str, **extra) -> None:
    record = {
        "format": "tuneforge.export/1", "kind": kind, "created_at": utc_now(),
        "source_run": str(Path(run_dir).resolve()), "base": run["base"]["name"],
        "data_hash": run.get("data", {}).get("hash"), "system_prompt": run.get("data", {}).get("system_prompt"),
        **extra,
    }
    (Path(folder) / EXPORT_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
