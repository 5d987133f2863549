"""Versioned datasets: an immutable, content-addressed copy of a dataset under TUNEFORGE_HOME/datasets/<id>/.

A version folder holds `data.jsonl` (the examples normalised: chat rows in OpenAI's `messages` format,
preference pairs in OpenAI's preference format) and `manifest.json`:

    {"format": "tuneforge.dataset/1", "id": "invoices@3f2a9c1b7d0e", "name": "invoices", "created_at": ...,
     "content_hash": "sha256:...",              # data.jsonl's examples (formats.dataset_hash)
     "source": {"path": ..., "sha256": ..., "format": "chat"},
     "counts": {"examples": 470, "preference_pairs": 0, "labels": {"software": 41, ...} | null},
     "checks": {"check": {...errors, warnings, problems}, "clean_scan": {"exact_duplicates": {...}, ...}},
     "split": {"seed": 42, "eval_fraction": 0.1}}

The id is the name plus the first 12 hex digits of the content hash, so adding the same data twice gives the
same version, and different data never overwrites an old one. Files are written to a temporary folder, renamed
into place and made read-only. Training accepts an id wherever it accepts a file (`resolve_data_path`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.data.formats import Example, dataset_hash
from tuneforge.errors import UserError
from tuneforge.paths import home

MANIFEST = "manifest.json"
DATA_FILE = "data.jsonl"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def datasets_dir() -> Path:
    d = home() / "datasets"
    d.mkdir(parents=True, exist_ok=True)
    return d


def version_id(name: str, content_hash: str) -> str:
    return f"{name}@{content_hash.split(':', 1)[-1][:12]}"


def default_name(path: str | Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).stem).strip("-.") or "dataset"
    return stem[:64]


def _read_only(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def add_version(examples: list[Example], source: str | Path, detected: str, name: str | None = None,
                checks: dict | None = None, split_seed: int = 42, eval_fraction: float = 0.1,
                ) -> tuple[str, Path, bool]:
    """Store `examples` as a version; return (id, folder, created) — created is False if it already existed."""
    name = name or default_name(source)
    if not _NAME.match(name):
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    content = dataset_hash(examples)
    vid = version_id(name, content)
    folder = datasets_dir() / vid
    if (folder / MANIFEST).is_file():
        return vid, folder, False
    source = Path(source)
    labels = (checks or {}).get("check", {}).get("labels")
    manifest = {
        "format": "tuneforge.dataset/1",
        "id": vid,
        "name": name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "content_hash": content,
        "source": {"path": str(source.resolve()), "sha256": "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest(),
                   "format": detected},
        "counts": {"examples": len(examples), "preference_pairs": sum(e.is_preference for e in examples),
                   "labels": labels},
        "checks": checks or {},
        "split": {"seed": split_seed, "eval_fraction": eval_fraction},
    }
    with atomic_folder(folder, overwrite=True) as tmp:  # a version is there completely or not at all
        with (tmp / DATA_FILE).open("w", encoding="utf-8") as f:
            for ex in examples:
                f.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for p in tmp.iterdir():
            _read_only(p)
    return vid, folder, True


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def list_versions() -> list[dict]:
    root = datasets_dir()
    out = [read_manifest(d) for d in root.iterdir() if d.is_dir() and (d / MANIFEST).is_file()]
    return sorted(out, key=lambda m: (m["name"], m["created_at"]))


def resolve_data_path(name_or_path: str | Path) -> tuple[Path, str | None]:
    """(file to read, version id or None): an existing file wins; else a version id, or a name's latest version.

    Anything else comes back unchanged, so the loader reports it as a missing file, naming what was asked for.
    """
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p, None
    text = str(name_or_path)
    if "/" in text or os.sep in text or not text:
        return p, None
    root = home() / "datasets"
    if (root / text / MANIFEST).is_file():
        return root / text / DATA_FILE, text
    if root.is_dir():
        named = [m for m in list_versions() if m["name"] == text]
        if named:
            latest = max(named, key=lambda m: m["created_at"])
            return root / latest["id"] / DATA_FILE, latest["id"]
    return p, None
