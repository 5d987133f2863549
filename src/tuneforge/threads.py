"""How torch's CPU threads wait, and how many there are: a policy that degrades gracefully on a busy machine.

The torch CPU wheel runs its parallel regions on GNU OpenMP (libgomp; `torch.__config__.parallel_info()`). By
default an idle libgomp thread spins for a while before sleeping. On a machine where something else also wants
the CPU (a user's laptop is never idle), the spinning threads burn the time slices the working thread needs, and
every parallel region waits for its slowest, descheduled thread: training on 2 cores beside one busy-loop process
fell from 270 to 34 real tokens/s. With `OMP_WAIT_POLICY=PASSIVE` idle threads sleep at once, and the same run
kept 324 tokens/s (quiet: 243). Measured on the 2-core development machine while other jobs also ran there
(load average 2.5-5), 15 steps of SmolLM2-135M LoRA on examples/invoice-categories, alternating in one run;
docs/training.md and benchmarks/RESULTS.md give the benchmark and its command.

libgomp reads the variable once, when it is loaded (the first `import torch`), so the CLI entry sets it before
anything imports torch; `setdefault`, so a user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT wins. The thread count
follows the CPUs this process may run on (`os.sched_getaffinity`: a container or `taskset` limit), unless
OMP_NUM_THREADS says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WAIT_POLICY = "PASSIVE"


def set_openmp_wait_policy(environ: MutableMapping[str, str] = os.environ) -> None:
    """Idle OpenMP threads sleep instead of spinning, unless the user chose a policy. Call before importing torch."""
    if "GOMP_SPINCOUNT" not in environ:  # an explicit spin count is the user's policy: leave it alone
        environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def choose_num_threads(available_cpus: int, environ: MutableMapping[str, str] = os.environ) -> int:
    """OMP_NUM_THREADS if the user set a valid one (its first level), else the CPUs this process may use."""
    requested = environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    return max(1, available_cpus)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def apply_num_threads() -> int:
    """Set torch's intra-op threads by the policy above (at the start of training); return the count."""
    import torch

    threads = choose_num_threads(available_cpus())
    torch.set_num_threads(threads)
    return threads
