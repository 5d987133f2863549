"""`tuneforge train --nproc N`: start N training processes with torchrun (torch.distributed.run).

The resolved config is written next to the run as launch-config.yaml and every process reads it, so all of them
train exactly the same settings. Accelerate picks up torchrun's environment (RANK, WORLD_SIZE, ...) and sets up
DDP: NCCL on GPUs, gloo on CPUs. For FSDP or DeepSpeed, use `accelerate launch --config_file ... -m tuneforge
train ...` instead (docs/training.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tuneforge.errors import UserError

LAUNCH_CONFIG = "launch-config.yaml"


def launched_by_a_launcher() -> bool:
    return "WORLD_SIZE" in os.environ


def launch_command(config_file: Path, nproc: int) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "tuneforge", "train", "--config", str(config_file),
    ]


def launch_processes(cfg) -> Path:
    """Run `cfg` in cfg.nproc processes on this machine; return the run folder."""
    from tuneforge.train.sft import default_out_dir

    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    config_file = out / LAUNCH_CONFIG
    values = cfg.model_dump()
    values["out"] = str(out)
    config_file.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    done = subprocess.run(launch_command(config_file, cfg.nproc))
    if done.returncode != 0:
        raise UserError(f"training with {cfg.nproc} processes failed (exit {done.returncode}); see the output above")
    return out
