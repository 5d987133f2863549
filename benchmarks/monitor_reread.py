"""Re-read the traffic logs that `benchmarks/monitor_loop.py` stored (a home's bench/*.db detection streams and
its live traffic.db) with the monitor's current label-free estimators, without the model: each window of the
last `--window` requests at every `--check-every` requests, CBPE and CBPE with the reviewed new category taken
out (monitor/new_category.py), against the true accuracy (each stream line is a line of the task's train.jsonl,
so its input gives its label). Prints the mean absolute error per stream and how often each 95% interval held
the truth.

    python benchmarks/monitor_reread.py HOME [HOME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("homes", nargs="+")
    ap.add_argument("--version", default="invoice:1", help="The version that answered the streams.")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--check-every", type=int, default=25)
    args = ap.parse_args()
    rows = [json.loads(line) for line in (ROOT / "examples/invoice-categories/train.jsonl").read_text().splitlines()]
    truth = {next(m["content"] for m in r["messages"] if m["role"] == "user"): r["messages"][-1]["content"]
             for r in rows}
    for home in args.homes:
        os.environ["TUNEFORGE_HOME"] = str(Path(home).resolve())
        from tuneforge.monitor.estimate import estimated_accuracy
        from tuneforge.monitor.feedback import response_text
        from tuneforge.monitor.new_category import adjusted_estimate
        from tuneforge.monitor.reference import load_reference
        from tuneforge.monitor.request_inputs import input_text
        from tuneforge.monitor.summary import load_rows

        labels = load_reference(args.version).labels
        for db in sorted(Path(home).glob("bench/*.db")) + sorted(Path(home).glob("traffic.db")):
            conn = sqlite3.connect(db)
            conn.row_factory = sqlite3.Row
            stream = [r for r in load_rows(conn, [args.version]) if r["status"] == 200]
            conn.close()
            errors, held = {"cbpe": [], "adjusted": []}, {"cbpe": 0, "adjusted": 0}
            for end in range(args.window, len(stream) + 1, args.check_every):
                window = stream[end - args.window:end]
                true = sum(response_text(r) == truth[input_text(r)] for r in window) / len(window)
                cbpe = estimated_accuracy([r["confidence"] for r in window])
                for key, est in (("cbpe", cbpe), ("adjusted", adjusted_estimate(window, labels, cbpe))):
                    errors[key].append(abs(est["value"] - true))
                    held[key] += est["ci"][0] <= true <= est["ci"][1]
            n = len(errors["cbpe"])
            if n:
                print(f"{db}: {n} windows; mean absolute error CBPE {sum(errors['cbpe']) / n:.3f}, new category "
                      f"taken out {sum(errors['adjusted']) / n:.3f}; 95% interval held the truth "
                      f"{held['cbpe'] / n:.2f} -> {held['adjusted'] / n:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
