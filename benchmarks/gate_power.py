"""How often the retrain gate's fresh-traffic test passes a candidate that really is better: simulated fresh sets
of n distinct inputs, each one fixed (candidate right, production wrong), broken (the reverse) or alike, put
through the gate's paired bootstrap rule (eval/stats.paired_bootstrap: 1,000 resamples of the inputs, p = 2 (k + 1)
/ 1,001 with k the resamples on the other side of zero; passed when p < 0.05 and the candidate is ahead),
vectorised with numpy. Checks the power calculation behind the policy's min_fresh_inputs
(monitor/fresh_evidence.py), which uses McNemar's normal approximation.

    python benchmarks/gate_power.py --n 30 50 77 --fixed 0.3 --broken 0.1
"""

from __future__ import annotations

import argparse

import numpy as np


def gate_power(n: int, fixed: float, broken: float, sims: int, resamples: int, rng) -> float:
    passed = 0
    for _ in range(sims):
        d = rng.choice([1, -1, 0], size=n, p=[fixed, broken, 1 - fixed - broken])
        observed = d.mean()
        deltas = d[rng.integers(0, n, (resamples, n))].mean(1)
        other = (deltas <= 0).sum() if observed > 0 else ((deltas >= 0).sum() if observed < 0 else resamples)
        p = min(1.0, 2 * (other + 1) / (resamples + 1))
        passed += bool(p < 0.05 and observed > 0)
    return passed / sims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[30, 50, 77])
    ap.add_argument("--fixed", type=float, default=0.3)
    ap.add_argument("--broken", type=float, default=0.1)
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from tuneforge.monitor.fresh_evidence import inputs_for_power

    rng = np.random.default_rng(args.seed)
    needed = inputs_for_power(args.fixed - args.broken, args.fixed + args.broken)
    print(f"fixed {args.fixed}, broken {args.broken}: McNemar normal approximation needs {needed} inputs for 80%")
    for n in args.n:
        print(f"n = {n}: the gate passed {gate_power(n, args.fixed, args.broken, args.sims, 1000, rng):.3f} of "
              f"{args.sims} simulated better candidates")


if __name__ == "__main__":
    main()
