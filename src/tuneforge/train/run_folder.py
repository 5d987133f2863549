"""A run folder has one identity: the data, base model and settings it was trained with.

`run_identity.json` is written when a run starts, before its first checkpoint. Every later use of the folder is
checked against it, so a folder never mixes two runs:

- a new run into a non-empty folder is refused, naming what differs from the run already there (or, when
  nothing differs, pointing at --resume); `--overwrite` deletes the old folder first, whole;
- `--resume` continues only the same run: same data hash, base and training settings, or it names the
  difference. Without this a resume with other data printed "resume: step-200", trained on, and wrote a
  run.json naming data the first 200 steps had never seen.

Settings that do not change what is learned (where to log, how often to checkpoint, the progress bar) may
differ on resume; everything else must match. A setting not given to `--resume` is the folder's own
(`resumed_config`): the run continues as it started even where today's no-flag rules would choose otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.versioned_json import read_versioned_json

IDENTITY_FILE = "run_identity.json"
FORMAT = "tuneforge.run-identity/1"
RUN_MARKERS = (IDENTITY_FILE, "run.json", "checkpoints")
# Settings that change only how a run is watched or stored, not the weights it ends with.
OPERATIONAL = {"out", "resume", "overwrite", "progress", "report_to", "log_every", "save_every",
               "keep_checkpoints", "nproc"}


class RunFolderError(UserError):
    """The run folder cannot be used as asked; the message names the folder and what differs."""


def run_identity(cfg, data_hash: str, data_version: str | None) -> dict:
    settings = {k: v for k, v in cfg.model_dump().items() if k not in OPERATIONAL}
    return {"format": FORMAT, "data_hash": data_hash, "data_version": data_version, "base": cfg.base,
            "settings": settings}


def read_identity(out: Path) -> dict | None:
    path = Path(out) / IDENTITY_FILE
    if not path.is_file():
        return None
    # The reason after "damaged" tells the user why resume refuses rather than silently starting over.
    return read_versioned_json(path, FORMAT, RunFolderError, damaged="damaged; the folder's run cannot be verified")


def differences(old: dict, new: dict) -> list[str]:
    """Human lines, one per thing that differs: 'data hash: sha256:1a2b… (in the folder) vs sha256:3c4d… (now)'."""
    out = []

    def short(v):
        return f"{v[:19]}…" if isinstance(v, str) and v.startswith("sha256:") else repr(v)

    for key, label in (("data_hash", "data hash"), ("base", "base model")):
        if old.get(key) != new.get(key):
            out.append(f"{label}: {short(old.get(key))} in the folder, {short(new.get(key))} now")
    a, b = old.get("settings", {}), new.get("settings", {})
    for key in sorted(set(a) | set(b)):
        if key in OPERATIONAL or key in ("data", "base"):  # data and base are compared by content above
            continue
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)!r} in the folder, {b.get(key)!r} now")
    return out


def resumed_config(cfg):
    """(cfg, the settings taken) for `--resume`: every training setting the user left unset is the one the folder's
    run recorded. Without this a folder trained with LoRA by an earlier no-flag rule, resumed with no flags, was
    refused as 'method: lora in the folder, full now'. Given settings are kept and still checked against the folder
    by `prepare_run_folder`; a folder with no readable identity is left to that check."""
    old = read_identity(Path(cfg.out)) if cfg.out and Path(cfg.out).is_dir() else None
    if old is None:
        return cfg, []
    given = set(cfg.model_fields_set)
    recorded = {k: v for k, v in old.get("settings", {}).items()
                if k in type(cfg).model_fields and k not in given and k not in OPERATIONAL and k != "data"}
    if not recorded:
        return cfg, []
    # Validated again: the identity is JSON, and a field renamed since is skipped above rather than guessed.
    filled = type(cfg).model_validate({**recorded, **{k: getattr(cfg, k) for k in given}})
    taken = [f"{k}={v!r}" for k, v in sorted(recorded.items()) if v != type(cfg).model_fields[k].default]
    return filled, taken


def _check_writable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out}: is a file, not a folder; choose a folder for the run")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise RunFolderError(f"--out {out}: no permission to create this folder; choose another --out") from None
    except OSError as err:
        raise RunFolderError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunFolderError(f"--out {out}: no permission to write in this folder; choose another --out")


def _describe(out: Path, old: dict | None, new: dict) -> str:
    if old is None:
        return f"--out {out}: the folder is not empty and holds no tuneforge run that can be verified"
    diff = differences(old, new)
    if not diff:
        return (f"--out {out}: already holds a run of the same data and settings; continue it with --resume, or "
                "start again with --overwrite")
    return f"--out {out}: holds another run; what differs:\n  " + "\n  ".join(diff)


def prepare_run_folder(out: Path, cfg, data_hash: str, data_version: str | None) -> None:
    """Make `out` ready for this run or refuse (see the module docstring). Main process only."""
    out = Path(out)
    new = run_identity(cfg, data_hash, data_version)
    if cfg.resume:
        from tuneforge.train.checkpoint import latest_checkpoint

        if not out.is_dir() or latest_checkpoint(out) is None:
            raise RunFolderError(f"{out}: no complete checkpoint to resume from")
        old = read_identity(out)
        if old is None:
            raise RunFolderError(f"{out}: no {IDENTITY_FILE}, so this checkpoint cannot be verified as the same run; "
                                 "start again with --overwrite")
        diff = differences(old, new)
        if diff:
            raise RunFolderError(f"--resume {out}: the checkpoint was trained differently; what differs:\n  "
                                 + "\n  ".join(diff)
                                 + "\n(resume with the original data and settings, or start again with --overwrite)")
        return
    if out.is_dir() and any(out.iterdir()):
        if not getattr(cfg, "overwrite", False):
            raise RunFolderError(_describe(out, read_identity(out), new)
                                 + "\n(use another --out, or --overwrite to replace the folder whole)")
        if not any((out / f).exists() for f in RUN_MARKERS):
            # --overwrite deletes a run, never a folder that merely was named by mistake (a home, a dataset).
            raise RunFolderError(f"--out {out}: not a run folder (none of {', '.join(RUN_MARKERS)}); "
                                 "--overwrite only replaces run folders; choose an empty or new folder")
        shutil.rmtree(out)
    _check_writable(out)
    tmp = out / f".{IDENTITY_FILE}.tmp"
    tmp.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / IDENTITY_FILE)
