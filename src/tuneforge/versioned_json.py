"""The one reader for tuneforge's small versioned JSON files (run identity, checkpoint metadata, dataset
manifests): each is a JSON object whose "format" field names what it is. A damaged or foreign file raises the
caller's own error type naming the file, so each layer keeps its error while the checks live in one place."""

from __future__ import annotations

import json
from pathlib import Path


def read_versioned_json(path: Path, fmt: str, error: type[Exception], *, damaged: str = "damaged",
                        required: tuple[str, ...] = ()) -> dict:
    """The object in `path` if it is readable JSON with format `fmt` and the `required` keys, else `error`:
    '<path>: <damaged> (<reason>)' for unreadable text, '<path>: not a <fmt> file' for anything else."""
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise error(f"{path}: {damaged} ({err})") from None
    if not isinstance(found, dict) or found.get("format") != fmt or any(k not in found for k in required):
        raise error(f"{path}: not a {fmt} file")
    return found
