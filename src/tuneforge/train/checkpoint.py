"""Checkpoints that resume exactly: trained weights, optimizer, scheduler, RNG of every process, loop position.

Layout: checkpoints/step-N/ holds the PEFT adapter (usable on its own), trainable.safetensors (the exact trained
tensors, for any method), trainer_state.pt (optimizer, scheduler, loop state) and rng-rank-R.pt. A checkpoint is
written into a temporary folder and renamed when complete, so a run killed mid-save never leaves a checkpoint
that looks whole; `latest_checkpoint` only ever sees finished ones.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tuneforge.atomic import replace_folder
from tuneforge.errors import UserError

STATE_FILE = "trainer_state.pt"
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
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, name: str, model, optimizer, scheduler, loop_state: dict, accelerator) -> Path:
    """Write checkpoints/<name>/ from every process (RNG) and the main one (the rest); return the folder."""
    final = Path(run_dir) / "checkpoints" / name
    tmp = final.with_name(f".tmp-{name}")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng-rank-{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp, safe_serialization=True)
        save_file(trainable_state(model), tmp / WEIGHTS_FILE)
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "loop": loop_state},
            tmp / STATE_FILE,
        )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        replace_folder(tmp, final)
    accelerator.wait_for_everyone()
    return final


def _step_of(folder: Path) -> int:
    try:
        return int(folder.name.removeprefix("step-"))
    except ValueError:
        return -1


def step_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*") if (p / STATE_FILE).is_file() and _step_of(p) >= 0]
    return sorted(done, key=_step_of)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = step_checkpoints(run_dir)
    return found[-1] if found else None


def load_checkpoint(folder: Path, model, optimizer, scheduler, process_index: int) -> dict:
    """Restore everything saved by `save_checkpoint`; return the loop state."""
    load_trainable_state(model, load_file(folder / WEIGHTS_FILE))
    state = torch.load(folder / STATE_FILE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng_file = folder / f"rng-rank-{process_index}.pt"
    if not rng_file.is_file():
        raise UserError(f"{folder}: no RNG state for process {process_index} (resumed with more processes?)")
    _set_rng_state(torch.load(rng_file, weights_only=False))
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
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if hasattr(model, "peft_config"):
        model.save_pretrained(tmp, safe_serialization=True)
    save_file(trainable_state(model), tmp / WEIGHTS_FILE, metadata={k: str(v) for k, v in info.items()})
    replace_folder(tmp, final)
    return final


def load_best(run_dir: Path, model) -> None:
    load_trainable_state(model, load_file(Path(run_dir) / "checkpoints" / "best" / WEIGHTS_FILE))
