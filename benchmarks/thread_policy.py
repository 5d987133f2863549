"""Which OpenMP wait policy and thread count keep training fast beside another CPU-bound process.

Runs tuneforge's side of benchmarks/train_throughput.py (SmolLM2-135M LoRA on examples/invoice-categories) under
each policy, first with no extra load, then beside one `python -c 'while True: pass'` process started before the
run and killed after it, alternating the policies so that other jobs on the machine weigh on all of them alike.
Prints real tokens/s over steps 2..N. The figures and the policy chosen from them: src/tuneforge/threads.py.

  python benchmarks/thread_policy.py --steps 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).with_name("train_throughput.py")
POLICIES = {
    # GOMP_SPINCOUNT=300000 is libgomp's own default spin; setting it keeps tuneforge's passive default out.
    "2 threads, spinning (libgomp default)": {"GOMP_SPINCOUNT": "300000"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}


def run(policy: dict, steps: int, busy: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(policy)
    with tempfile.TemporaryDirectory(prefix="tf-threads-") as tmp:
        env.setdefault("TUNEFORGE_HOME", str(Path(tmp) / "home"))
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            subprocess.run([sys.executable, str(BENCH), "--side", "tuneforge", "--steps", str(steps), "--work", tmp],
                           check=True, env=env)
        finally:
            if hog:
                hog.kill()
                hog.wait()
        return json.loads((Path(tmp) / "tuneforge.json").read_text())["tokens_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    rates = {(name, busy): run(policy, args.steps, busy) for busy in (False, True) for name, policy in POLICIES.items()}
    print(f"\n{'':40}{'quiet':>8}{'+1 busy':>9}{'kept':>7}   (1-min load now {os.getloadavg()[0]:.1f})")
    for name in POLICIES:
        quiet, busy = rates[name, False], rates[name, True]
        print(f"{name:40}{quiet:>8.0f}{busy:>9.0f}{busy / quiet:>7.0%}")


if __name__ == "__main__":
    main()
