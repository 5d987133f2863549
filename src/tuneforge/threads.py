"""How torch's CPU threads wait: a policy that degrades gracefully on a busy machine.

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
is left to torch (and OMP_NUM_THREADS): choosing it in `train()` overrode a caller's own `torch.set_num_threads`
and changed results in the last bits, and on the development machine it measured no gain over torch's default.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WAIT_POLICY = "PASSIVE"


def set_openmp_wait_policy(environ: MutableMapping[str, str] = os.environ) -> None:
    """Idle OpenMP threads sleep instead of spinning, unless the user chose a policy. Call before importing torch."""
    if "GOMP_SPINCOUNT" not in environ:  # an explicit spin count is the user's policy: leave it alone
        environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
