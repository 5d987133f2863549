"""run.json: what a training run was (base, data, config, versions) and what it measured."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

RUN_FILE = "run.json"
_LIBS = ("tuneforge", "torch", "transformers", "peft", "accelerate")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def write_run(folder: Path, record: dict) -> Path:
    path = Path(folder) / RUN_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves a half-written run.json
    return path


def read_run(folder: str | Path) -> dict:
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: not a tuneforge run folder (no {RUN_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def is_run_dir(folder: str | Path) -> bool:
    return (Path(folder) / RUN_FILE).is_file()
