"""Atomic writes, the one place for them: a file or a folder is written beside its target under a temporary
name and renamed into place, so a crash or an interrupted write never leaves a half-written artifact
(run.json, eval.json, a cleaned dataset, an export, a converted model, a checkpoint) where a reader could pick
it up. Rename is atomic on one filesystem, which is why the temporary lives in the target's own folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tuneforge.errors import UserError


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` all at once: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def replace_folder(tmp: str | Path, target: str | Path) -> None:
    """Put a fully written folder `tmp` at `target`, replacing what was there."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


@contextmanager
def atomic_folder(target: str | Path, overwrite: bool = False):
    """Yield a temporary sibling folder to fill; on success it becomes `target`, on failure it is removed."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise UserError(f"{target}: already exists (pass --overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
