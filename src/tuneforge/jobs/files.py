"""Uploaded files, stored once by content hash under TUNEFORGE_HOME/files/ (two uploads of the same bytes share one
blob), with OpenAI's file objects on top. A blob is removed when no file row and no unfinished job needs it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from tuneforge.jobs.store import JobStore, new_id, now
from tuneforge.paths import home

# OpenAI's own per-file limit; `tuneforge serve --max-file-bytes` lowers or raises it.
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
UPLOAD_PURPOSES = ("fine-tune",)  # what clients may upload; "fine-tune-results" files are written by jobs
# The data workbench reads these (data/formats.py); OpenAI itself takes only .jsonl.
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".xlsx")
_CHUNK = 1 << 20


class FileTooLarge(ValueError):
    pass


class FileStore:
    def __init__(self, store: JobStore, root: Path | None = None, max_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.store = store
        self.root = Path(root or home() / "files")
        self.max_bytes = max_bytes

    def path_of(self, record: dict) -> Path:
        return self.root / record["blob"]

    def save(self, owner: str, filename: str, stream: BinaryIO, purpose: str) -> dict:
        """Copy an upload into the store while hashing it; FileTooLarge past `max_bytes` (nothing is kept)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileTooLarge(f"File is larger than the limit of {self.max_bytes} bytes.")
                    digest.update(chunk)
                    out.write(chunk)
            return self._commit(owner, filename, Path(tmp), digest.hexdigest(), size, purpose)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def save_bytes(self, owner: str, filename: str, data: bytes, purpose: str) -> dict:
        import io

        return self.save(owner, filename, io.BytesIO(data), purpose)

    def _commit(self, owner: str, filename: str, tmp: Path, sha256: str, size: int, purpose: str) -> dict:
        suffix = Path(filename).suffix.lower()
        # The suffix stays on the blob: the data reader picks the format from it, as it does for a user's file.
        blob = f"{sha256[:2]}/{sha256}{suffix if suffix in DATA_SUFFIXES else ''}"
        final = self.root / blob
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o600)  # users' training data: readable by the server's user only
            os.replace(tmp, final)
        return self.store.add_file(id=new_id("file-"), owner=owner, filename=Path(filename).name, bytes=size,
                                   sha256=sha256, blob=blob, purpose=purpose, created_at=now())

    def delete(self, record: dict) -> None:
        self.store.delete_file(record["id"])
        self.collect(record["blob"])

    def collect(self, blob: str) -> None:
        """Remove a blob nothing needs any more (called on file deletion and when a job ends)."""
        if not self.store.blob_in_use(blob):
            (self.root / blob).unlink(missing_ok=True)


def file_object(record: dict) -> dict:
    """OpenAI's `file` object."""
    return {"id": record["id"], "object": "file", "bytes": record["bytes"], "created_at": record["created_at"],
            "filename": record["filename"], "purpose": record["purpose"], "status": "processed",
            "status_details": None, "expires_at": None}
