"""Checkpoints that resume exactly: trained weights, optimizer, scheduler, RNG of every process, loop position.

Layout: checkpoints/step-N/ holds the PEFT adapter (usable on its own), trainable.safetensors (the exact trained
tensors, for any method), trainer_state.json + .safetensors (optimizer, scheduler, loop state) and
rng-rank-R.json + .safetensors. No file is ever unpickled (state_io.py): a checkpoint from elsewhere can hold
data, not code, and an old pickle checkpoint is refused rather than loaded. A checkpoint is
written into a temporary folder and renamed when complete, so a run killed mid-save never leaves a checkpoint
that looks whole; `latest_checkpoint` only ever sees finished ones.
"""

from __future__ import annotations

import random
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tuneforge.atomic import replace_folder
from tuneforge.errors import UserError
from tuneforge.train.state_io import StateFileError, load_state, save_state

STATE = "trainer_state"  # trainer_state.json + trainer_state.safetensors (state_io.py)
STATE_FILE = STATE + ".json"  # written last: its presence marks a complete checkpoint
LEGACY_PICKLE = ("trainer_state.pt",)  # the pickle format of earlier versions: refused, never loaded
WEIGHTS_FILE = "trainable.safetensors"


def trainable_state(model) -> dict:
    return {n: p.detach().cpu().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model, tensors: dict) -> None:
    params = dict(model.named_parameters())
    missing = [n for n in tensors if n not in params]
    if missing:
        raise UserError(f"checkpoint holds weights this model does not have: {missing[:5]}")
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    # np.random.get_state() is a tuple: keep its types (the saved array's dtype included) for set_state.
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointSaveError(UserError):
    """A checkpoint could not be written (disk full, permissions); the previous checkpoints are intact."""


@contextmanager
def _writing(final: Path, tmp: Path):
    """Turn a failed write (ENOSPC, EACCES, ...) into one clear error; the half-written folder is removed."""
    from safetensors import SafetensorError  # its writer reports a full disk as this, not as OSError

    try:
        yield
    except (OSError, SafetensorError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        done = step_checkpoints(final.parent.parent)
        last = f"the last complete checkpoint is {done[-1].name}" if done else "no complete checkpoint yet"
        raise CheckpointSaveError(
            f"{final}: could not write the checkpoint ({getattr(err, 'strerror', None) or err}); {last}. Free space (or fix the "
            "folder's permissions) and continue with the same command plus --resume") from None


def save_checkpoint(run_dir: Path, name: str, model, optimizer, scheduler, loop_state: dict, accelerator) -> Path:
    """Write checkpoints/<name>/ from every process (RNG) and the main one (the rest); return the folder."""
    final = Path(run_dir) / "checkpoints" / name
    tmp = final.with_name(f".tmp-{name}")
    with _writing(final, tmp):
        _write_checkpoint(final, tmp, model, optimizer, scheduler, loop_state, accelerator)
    return final


def _write_checkpoint(final: Path, tmp: Path, model, optimizer, scheduler, loop_state: dict, accelerator) -> None:
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_state(tmp / f"rng-rank-{accelerator.process_index}", _rng_state())
    if accelerator.is_main_process:
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp, safe_serialization=True)
        save_file(trainable_state(model), tmp / WEIGHTS_FILE)
        save_state(tmp / STATE, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                 "loop": loop_state})
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        replace_folder(tmp, final)
    accelerator.wait_for_everyone()


def _step_of(folder: Path) -> int:
    try:
        return int(folder.name.removeprefix("step-"))
    except ValueError:
        return -1


def step_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*")
            if _step_of(p) >= 0 and any((p / f).is_file() for f in (STATE_FILE, *LEGACY_PICKLE))]
    return sorted(done, key=_step_of)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = step_checkpoints(run_dir)
    return found[-1] if found else None


def load_checkpoint(folder: Path, model, optimizer, scheduler, process_index: int) -> dict:
    """Restore everything saved by `save_checkpoint`; return the loop state."""
    if not (folder / STATE_FILE).is_file():
        raise StateFileError(f"{folder}: a checkpoint in the old pickle format ({LEGACY_PICKLE[0]}); it is not "
                             "loaded, because unpickling a file can run any code in it. Start the run again.")
    rng = folder / f"rng-rank-{process_index}"
    if not rng.with_suffix(".json").is_file():
        raise UserError(f"{folder}: no RNG state for process {process_index} (resumed with more processes?)")
    state, rng_state = load_state(folder / STATE), load_state(rng)
    try:
        load_trainable_state(model, load_file(folder / WEIGHTS_FILE))
    except Exception as err:  # safetensors raises its own types on a damaged file
        raise StateFileError(f"{folder / WEIGHTS_FILE}: cannot be read ({err})") from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(rng_state)
    return state["loop"]


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Keep the newest `keep` step checkpoints (0 keeps all); `checkpoints/best` is never touched."""
    if keep <= 0:
        return
    for old in step_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def save_best(run_dir: Path, model, info: dict) -> Path:
    """checkpoints/best/: the trained weights with the lowest eval loss so far (main process only)."""
    final = Path(run_dir) / "checkpoints" / "best"
    tmp = final.with_name(".tmp-best")
    with _writing(final, tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp, safe_serialization=True)
        save_file(trainable_state(model), tmp / WEIGHTS_FILE, metadata={k: str(v) for k, v in info.items()})
        replace_folder(tmp, final)
    return final


def load_best(run_dir: Path, model) -> None:
    load_trainable_state(model, load_file(Path(run_dir) / "checkpoints" / "best" / WEIGHTS_FILE))
