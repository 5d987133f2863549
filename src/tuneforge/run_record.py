"""run.json: what a training run was (base, data, config, versions) and what it measured.

A shared contract, not training code: training writes it; models/, eval/, registry/, serve/ and export/ read
it. It lives below all of them so none has to import train/."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

from tuneforge.atomic import write_text_atomic
from tuneforge.errors import UserError

RUN_FILE = "run.json"
RUN_FORMAT = "tuneforge.run/1"
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
    return write_text_atomic(Path(folder) / RUN_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def read_run(folder: str | Path) -> dict:
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise UserError(f"{folder}: not a tuneforge run folder (no {RUN_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def is_run_dir(folder: str | Path) -> bool:
    return (Path(folder) / RUN_FILE).is_file()
