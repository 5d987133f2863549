"""Layers import downward only: a shared contract (run.json, chat-template encoding, atomic writes, errors) lives
below every layer that uses it, so data/ and models/ never need train/, and nothing below the CLI imports it.

The check reads every module's imports with `ast` (the lazy ones inside functions included), so it fails the
moment someone writes an upward import, wherever it hides."""

from __future__ import annotations

import ast
from pathlib import Path

import tuneforge

ROOT = Path(tuneforge.__file__).parent
# Each package may import only the packages listed for it (and top-level modules such as config, paths).
ALLOWED_BELOW = {
    "data": set(),
    "models": {"data"},
    "train": {"data", "models"},
    "eval": {"data", "models"},
    "registry": {"data", "models", "eval"},
    "export": {"data", "models", "eval"},
    "monitor": {"data", "models", "eval", "registry", "train"},  # the last stage: retrain runs the training recipe
    "jobs": {"data", "models", "train", "eval", "registry"},
    "serve": {"data", "models", "eval", "registry", "monitor", "export", "jobs", "ui"},  # run.py mounts the app
    # The web app is a face on the HTTP API: it reads no store, so it imports no other layer at all.
    "ui": set(),
}
PACKAGES = set(ALLOWED_BELOW) | {"cli"}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "tuneforge" and len(parts) > 1 and parts[1] in PACKAGES:
                found.add(parts[1])
    return found


def upward_imports() -> list[str]:
    bad = []
    for pkg, allowed in ALLOWED_BELOW.items():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for target in imported_packages(path) - allowed - {pkg}:
                bad.append(f"{path.relative_to(ROOT)} imports tuneforge.{target}")
    for path in sorted(p for p in ROOT.glob("*.py") if p.name != "__main__.py"):  # shared modules sit below all
        for target in imported_packages(path):
            bad.append(f"{path.relative_to(ROOT)} imports tuneforge.{target}")
    return bad


def test_no_upward_imports():
    assert upward_imports() == []


def test_checker_sees_lazy_imports(tmp_path):
    planted = tmp_path / "m.py"
    planted.write_text("def f():\n    from tuneforge.train.sft import train\n")
    assert imported_packages(planted) == {"train"}
