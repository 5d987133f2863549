"""A stored dataset version is what its manifest says, or it is not used: verified on every use.

The manifest records data.jsonl's SHA-256, size and modification time. On use, a file whose size and mtime are
unchanged is taken as is (reading a large file on every `train` would cost more than the check is worth); any
other file is hashed in full, and a hash that differs is an error naming the version. `tuneforge data verify`
always hashes in full. Versions stored before the file hash was recorded are checked by re-reading their
examples against the manifest's content hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tuneforge.errors import UserError

CHUNK = 1 << 20
DATA_FILE = "data.jsonl"  # a version folder's rows, beside its manifest (versions.py writes both)


class VersionTampered(UserError):
    """A stored dataset version whose data no longer matches its manifest."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def file_record(path: Path) -> dict:
    """What the manifest keeps about data.jsonl to verify it later."""
    st = path.stat()
    return {"sha256": file_sha256(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _content_hash(path: Path) -> str:
    from tuneforge.data.formats import dataset_hash, load_examples

    examples, _ = load_examples(path)
    return dataset_hash(examples)


def verify_version(folder: Path, manifest: dict, full: bool = False) -> None:
    """Raise VersionTampered naming the version when data.jsonl differs from what the manifest recorded."""
    from tuneforge.data.problems import DataError

    vid = manifest.get("id", folder.name)
    data = folder / DATA_FILE
    if not data.is_file():
        raise VersionTampered(f"dataset version {vid}: {data} is missing")
    recorded = manifest.get("data_file")
    if isinstance(recorded, dict) and "sha256" in recorded:
        st = os.stat(data)
        if not full and st.st_size == recorded.get("bytes") and st.st_mtime_ns == recorded.get("mtime_ns"):
            return
        actual = file_sha256(data)
        if actual != recorded["sha256"]:
            raise VersionTampered(
                f"dataset version {vid}: {data} was changed after it was stored ({actual[:19]}…, the manifest "
                f"says {recorded['sha256'][:19]}…); it is not used. Add the data again as a new version "
                "(`tuneforge data add`), or restore the file")
        return
    try:
        actual = _content_hash(data)
    except DataError as err:
        raise VersionTampered(f"dataset version {vid}: {data} no longer reads as data ({err.problems[0]})") from None
    if actual != manifest.get("content_hash"):
        raise VersionTampered(f"dataset version {vid}: {data} was changed after it was stored (content hash "
                              f"{actual[:19]}…, the manifest says {str(manifest.get('content_hash'))[:19]}…)")
