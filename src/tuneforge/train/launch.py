"""`tuneforge train --nproc N`: start N training processes with torchrun (torch.distributed.run).

The resolved TrainConfig is written once, as JSON, to a temporary file (not into the run folder: a run folder
holds one run and nothing else, see train/run_folder.py), and every process runs this module on it:
`python -m tuneforge.train.launch launch-config.json`. No process re-parses command-line flags
or YAML, so all of them train exactly the settings the user's command resolved to. Accelerate picks up torchrun's
environment (RANK, WORLD_SIZE, ...) and sets up DDP: NCCL on GPUs, gloo on CPUs. For FSDP or DeepSpeed, use
`accelerate launch --config_file ... -m tuneforge train ...` instead (docs/training.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneforge.atomic import write_text_atomic
from tuneforge.config import TrainConfig
from tuneforge.errors import UserError

LAUNCH_CONFIG = "launch-config.json"


def launched_by_a_launcher() -> bool:
    return "WORLD_SIZE" in os.environ


def launch_command(config_file: Path, nproc: int) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "tuneforge.train.launch", str(config_file),
    ]


def launch_processes(cfg: TrainConfig) -> Path:
    """Run `cfg` in cfg.nproc processes on this machine; return the run folder."""
    from tuneforge.train.sft import default_out_dir

    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)
    with tempfile.TemporaryDirectory(prefix="tuneforge-launch-") as tmp:
        # Only the fields the user set travel: every process chooses the rest from the data (train/defaults.py).
        config_file = write_text_atomic(Path(tmp) / LAUNCH_CONFIG, cfg.model_copy(update={"out": str(out)})
                                        .model_dump_json(indent=2, exclude_unset=True))
        done = subprocess.run(launch_command(config_file, cfg.nproc))
    if done.returncode != 0:
        raise UserError(f"training with {cfg.nproc} processes failed (exit {done.returncode}); see the output above")
    return out


def worker(config_file: str) -> Path:
    """One of the N processes: the resolved config, validated again by the same model, then `train`."""
    from tuneforge.train.sft import train

    cfg = TrainConfig.model_validate_json(Path(config_file).read_text(encoding="utf-8"))
    return train(cfg, log=print)


if __name__ == "__main__":
    worker(sys.argv[1])
