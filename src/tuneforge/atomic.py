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
    return write_lines_atomic(path, [text])


def write_lines_atomic(path: str | Path, lines) -> Path:
    """write_text_atomic for text produced piece by piece (a cleaned dataset): never all of it in memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(lines)
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


STAMP = ".complete"  # written last into a folder converted once (a dequantized model), with its format version


def is_complete(folder: str | Path, version: str) -> bool:
    """Whether `folder` was converted in full by the converter of this `version` (else it is made again)."""
    stamp = Path(folder) / STAMP
    return stamp.is_file() and stamp.read_text().strip() == version


def mark_complete(folder: str | Path, version: str) -> None:
    """The last write of a conversion into `folder` (inside atomic_folder, before it is renamed into place)."""
    (Path(folder) / STAMP).write_text(version)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_permissions(folder: Path) -> None:
    """What a plain `mkdir`/`open` would have given (0755/0644 under the usual umask): mkdtemp makes the folder
    owner-only and some writers (safetensors) create owner-only files, which other users and containers of an
    export could not read."""
    mask = _umask()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        owner = path.stat().st_mode & 0o700
        # Group and others get what the owner may read or enter, never write; a file the writer made read-only
        # (a dataset version) stays read-only for everyone.
        shared = (owner & 0o500) >> 3 | (owner & 0o500) >> 6
        path.chmod((owner | shared) & ~(mask & 0o077))


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
        normal_permissions(tmp)
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
