"""Suspicious labels under label noise: what share of rows `data report` flags when a known share is flipped.

Flips a seeded share of labels to another label of the set, runs the label-suspect step (the one `data clean` and
`data report` run) and prints the flagged share beside the flipped share, per task and seed. It is why the
readiness verdict counts suspects instead of setting a limit on their share (data/readiness.py).

    python benchmarks/label_noise.py [--tasks invoice chatterbot-topics-en ...] [--seeds 1 2]

`invoice` is examples/invoice-categories/train.jsonl; the other names are benchmarks/tasks.py tasks
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from tuneforge.data.formats import parse_data
from tuneforge.data.suspects import label_suspects

ROOT = Path(__file__).resolve().parents[1]
SHARES = (0.0, 0.05, 0.1, 0.2, 0.3)


def task_rows(name: str) -> list[dict]:
    if name == "invoice":
        return [json.loads(line) for line in (ROOT / "examples/invoice-categories/train.jsonl").open()]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import tasks

    return tasks.TASKS[name]()


def flipped(rows: list[dict], share: float, seed: int) -> list[dict]:
    """A copy of `rows` with int(share * len) answers replaced by another label of the set, chosen at random."""
    rng = random.Random(seed)
    labels = sorted({r["messages"][-1]["content"] for r in rows})
    out = json.loads(json.dumps(rows))
    for k in rng.sample(range(len(out)), int(share * len(out))):
        own = out[k]["messages"][-1]["content"]
        out[k]["messages"][-1]["content"] = rng.choice([label for label in labels if label != own])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["invoice", "chatterbot-topics-en", "chatterbot-topics-es"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    args = ap.parse_args()
    print("| task (rows, labels) | flipped | flagged, per seed |")
    print("| --- | --: | --- |")
    for name in args.tasks:
        rows = task_rows(name)
        labels = len({r["messages"][-1]["content"] for r in rows})
        for share in SHARES:
            flagged = []
            for seed in args.seeds:
                data = flipped(rows, share, seed)
                load = parse_data("\n".join(json.dumps(r) for r in data).encode(), f"{name}.jsonl")
                found, skipped, _ = label_suspects(load.examples)
                flagged.append("skipped" if skipped else f"{len(found) / len(data):.1%}")
            print(f"| {name} ({len(rows)}, {labels}) | {share:.0%} | {', '.join(flagged)} |", flush=True)


if __name__ == "__main__":
    main()
