"""The part of run.json every variant type writes alike: its format, when, which base, which data (version,
hash, how many rows trained and were held out), the whole config and the library versions. The generative loop
(train/sft.py) and the classification head (train/classification.py) each add what they measured."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from tuneforge.data.versions import resolve_data_path
from tuneforge.models.resolve import public_id
from tuneforge.run_record import RUN_FORMAT, library_versions


def run_provenance(cfg, base, data, train_examples: int, eval_examples: int, truncated: int) -> dict:
    """`base` is the resolved base (models/resolve.py), `data` train/sft.PreparedData; `truncated` counts the
    training rows cut to fit what the model reads."""
    return {
        "format": RUN_FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base": {"name": cfg.base, "path": str(base.path), "source": base.source, "public_id": public_id(cfg.base)},
        "data": {
            "path": str(resolve_data_path(cfg.data)[0].resolve()),
            "version": data.version,
            "hash": data.data_hash,
            "eval_path": str(Path(cfg.eval_data).resolve()) if cfg.eval_data else None,
            "train_examples": train_examples,
            "eval_examples": eval_examples,
            "truncated_examples": truncated,
            "system_prompt": data.system_prompt,
        },
        "config": cfg.model_dump(),
        "versions": library_versions(),
    }
