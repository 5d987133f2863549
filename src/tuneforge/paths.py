"""Where user state lives. One root (TUNEFORGE_HOME) so a test can point everything at a temporary folder."""

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
