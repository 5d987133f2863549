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
into place and made read-only; when two processes add the same data at once, the second finds the first's
folder and both succeed. Each version gets a `sequence` number from a locked counter, so "the newest version of
a name" never depends on the clock (two versions in one second). The manifest also records data.jsonl's
SHA-256, size and mtime (`data_file`), and every use verifies it (version_check.py): a changed file is refused,
naming the version. Training accepts an id wherever it accepts a file (`resolve_data_path`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.versioned_json import read_versioned_json
from tuneforge.atomic import normal_permissions
from tuneforge.data.formats import DatasetHasher, Example
from tuneforge.data.version_check import DATA_FILE, file_record, file_sha256, verify_version
from tuneforge.errors import UserError
from tuneforge.paths import home

MANIFEST = "manifest.json"
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


class ManifestError(UserError):
    """A version folder whose manifest cannot be read."""


@contextmanager
def _locked(root: Path):
    """An exclusive lock on the datasets folder (a lock file), held while a sequence number is taken."""
    with open(root / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _next_sequence(root: Path) -> int:
    counter = root / ".sequence"
    with _locked(root):
        try:
            current = int(counter.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            current = 0
        except ValueError:
            # A damaged counter restarts above every sequence already stored, so order is still kept.
            current = max((m.get("sequence", 0) for m in scan_versions()[0]), default=0)
        tmp = counter.with_suffix(".tmp")
        tmp.write_text(str(current + 1), encoding="ascii")
        tmp.replace(counter)
    return current + 1


def _read_only(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def add_version(examples: list[Example], source: str | Path, detected: str, name: str | None = None,
                checks: dict | None = None, split_seed: int = 42, eval_fraction: float = 0.1,
                ) -> tuple[str, Path, bool]:
    """Store `examples` as a version; return (id, folder, created) — created is False if it already existed.

    `examples` is read once, front to back (rows read back from disk stay there): data.jsonl is written to a
    temporary folder while the content hash and the counts are taken, and the id follows from the hash."""
    name = name or default_name(source)
    if not _NAME.match(name):
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    source = Path(source)
    labels = (checks or {}).get("check", {}).get("labels")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=datasets_dir()))
    try:
        hasher = DatasetHasher()
        n = pairs = 0
        with (tmp / DATA_FILE).open("w", encoding="utf-8") as f:
            for ex in examples:
                hasher.add(ex)
                n, pairs = n + 1, pairs + ex.is_preference
                f.write(ex.jsonl_line())
        content = hasher.hexdigest()
        vid = version_id(name, content)
        folder = datasets_dir() / vid
        if (folder / MANIFEST).is_file():
            return vid, folder, False
        manifest = {
            "format": "tuneforge.dataset/1",
            "id": vid,
            "name": name,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "content_hash": content,
            "sequence": None,  # set below, once the data is written
            "source": {"path": str(source.resolve()), "sha256": file_sha256(source), "format": detected},
            "counts": {"examples": n, "preference_pairs": pairs, "labels": labels},
            "checks": checks or {},
            "split": {"seed": split_seed, "eval_fraction": eval_fraction},
        }
        manifest["data_file"] = file_record(tmp / DATA_FILE)
        manifest["sequence"] = _next_sequence(datasets_dir())
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for p in tmp.iterdir():
            _read_only(p)
        normal_permissions(tmp)  # mkdtemp's folder is owner-only; a stored version is readable like any file
        try:
            os.replace(tmp, folder)  # atomic: a version is there completely or not at all, never replaced
        except OSError as err:
            # Another process stored the same content first: same id, same data, so its version is ours.
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST) and (folder / MANIFEST).is_file():
                return vid, folder, False
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return vid, folder, True


def read_manifest(folder: Path) -> dict:
    return read_versioned_json(folder / MANIFEST, "tuneforge.dataset/1", ManifestError, damaged="damaged manifest",
                               required=("id",))


def _order(m: dict):
    return (m.get("sequence") or 0, m.get("created_at", ""))


def scan_versions() -> tuple[list[dict], list[str]]:
    """(readable manifests sorted by name and sequence, one message per version folder that cannot be read)."""
    root = datasets_dir()
    found, broken = [], []
    for d in sorted(root.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).exists():
            try:
                found.append(read_manifest(d))
            except ManifestError as err:
                broken.append(str(err))
    return sorted(found, key=lambda m: (m.get("name", ""), _order(m))), broken


def list_versions() -> list[dict]:
    """Every readable version (a damaged one is left out here; `scan_versions` and `data list` name it)."""
    return scan_versions()[0]


def verify_all() -> list[tuple[str, str | None]]:
    """(version id or folder, None if intact else the problem) for every stored version, hashed in full."""
    from tuneforge.data.version_check import VersionTampered

    out = []
    root = datasets_dir()
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            manifest = read_manifest(d)
            verify_version(d, manifest, full=True)
            out.append((manifest["id"], None))
        except (ManifestError, VersionTampered) as err:
            out.append((d.name, str(err)))
    return out


def resolve_data_path(name_or_path: str | Path) -> tuple[Path, str | None]:
    """(file to read, version id or None): an existing file wins; else a version id, or a name's latest version.

A version is verified against its manifest first (VersionTampered if its data was changed).

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
        verify_version(root / text, read_manifest(root / text))
        return root / text / DATA_FILE, text
    if root.is_dir():
        named = [m for m in list_versions() if m["name"] == text]
        if named:
            latest = max(named, key=_order)
            verify_version(root / latest["id"], latest)
            return root / latest["id"] / DATA_FILE, latest["id"]
    return p, None
