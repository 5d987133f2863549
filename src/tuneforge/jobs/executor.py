"""Where a job's training process runs. The worker (jobs/worker.py) only ever talks to an `Executor`:

- `start(launch)` starts `tuneforge train --config <job config> [--resume]` for a job and returns a *record*: a
  small JSON-able dict that identifies the process (stored in the job's row, so it outlives the server);
- `poll(record)` returns the exit code once the process has ended, else None;
- `stop(record)` ends the process and everything it started (cancel, pause, shutdown), and frees its resources.
  It must also work on a record from a previous server process (after `kill -9` of the server).

The run folder is the only channel back: the worker reads metrics.jsonl, checkpoints/ and run.json from it. So a
cluster executor (Ray Jobs `JobSubmissionClient.submit_job(entrypoint=...)`, a SLURM `sbatch --wrap`, a Kubernetes
Job) implements the same three calls, with TUNEFORGE_HOME on storage the nodes share, and multi-GPU training
inside the job still launches through `tuneforge train --nproc N` (torchrun/accelerate). Only `LocalExecutor` is
implemented here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class Launch:
    job_id: str
    config_path: Path  # the resolved TrainConfig as YAML: `tuneforge train --config` reads it
    resume: bool
    log_path: Path


def train_argv(launch: Launch) -> list[str]:
    return ["train", "--config", str(launch.config_path)] + (["--resume"] if launch.resume else [])


class Executor(Protocol):
    def start(self, launch: Launch) -> dict: ...

    def poll(self, record: dict) -> int | None: ...

    def stop(self, record: dict) -> None: ...


class LocalExecutor:
    """Each job a child process in its own process group (so stopping it stops its torchrun workers too), which
    dies with the server (jobs/child.py); after a restart, `stop` also ends a leftover group it finds by pid."""

    def __init__(self):
        self._children: dict[int, subprocess.Popen] = {}

    def start(self, launch: Launch) -> dict:
        launch.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TUNEFORGE_JOB_ID": launch.job_id, "TUNEFORGE_PARENT_PID": str(os.getpid())}
        with open(launch.log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "tuneforge.jobs.child", *train_argv(launch)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        self._children[proc.pid] = proc
        return {"executor": "local", "pid": proc.pid, "job_id": launch.job_id}

    def poll(self, record: dict) -> int | None:
        proc = self._children.get(record["pid"])
        if proc is not None:
            code = proc.poll()
            if code is not None:
                self._children.pop(record["pid"], None)
            return code
        # Not our child (started before a restart): ended is all we can know; the run folder says how.
        return None if _is_job_process(record) else -1

    def stop(self, record: dict) -> None:
        pid = record["pid"]
        proc = self._children.pop(pid, None)
        if proc is None and not _is_job_process(record):
            return  # gone already, or the pid now belongs to someone else: never signal a stranger
        try:
            os.killpg(pid, signal.SIGKILL)  # the group leader's pid is the group id (start_new_session)
        except ProcessLookupError:
            pass
        if proc is not None:
            proc.wait(timeout=30)
        else:
            deadline = time.time() + 30
            while _is_job_process(record) and time.time() < deadline:
                time.sleep(0.05)


def _is_job_process(record: dict) -> bool:
    """True while `pid` is alive and is this job's training process (its environment names the job)."""
    try:
        environ = Path(f"/proc/{record['pid']}/environ").read_bytes()
        stat = Path(f"/proc/{record['pid']}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie has ended
        return False
    return f"TUNEFORGE_JOB_ID={record['job_id']}".encode() in environ.split(b"\0")
