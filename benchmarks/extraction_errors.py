"""Why an extraction variant's exact-object match trails its field F1: per-field accuracy, their product (what
exact match would be if the fields' errors were independent), and every wrong value beside its reference.

    python benchmarks/extraction_errors.py RUN/eval.json [--system fine-tuned] [--most 12]

Right and wrong are the evaluation's own per-field scores (eval.json `scores`, written by
eval/tasks/extraction.py `score_example`); the values are parsed only to show the wrong ones.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_json")
    ap.add_argument("--system", default="fine-tuned")
    ap.add_argument("--most", type=int, default=12, help="wrong values listed per field")
    args = ap.parse_args()

    from tuneforge.data.answer_schema import parse_json_object

    examples = json.loads(Path(args.eval_json).read_text(encoding="utf-8"))["examples"]
    keys: list[str] = []
    wrong: dict[str, list] = {}
    exact = 0
    for x in examples:
        scored = x["scores"][args.system]
        ref = parse_json_object(x["reference"]) or {}
        got = parse_json_object(x["predictions"][args.system]) or {}
        keys += [k for k in ref if k not in keys]
        for k in ref:
            if not scored["fields"][k]["tp"]:
                wrong.setdefault(k, []).append((x["line"], ref[k], got.get(k)))
        exact += bool(scored["exact"])
    n = len(examples)
    accuracy = {k: 1 - len(wrong.get(k, [])) / n for k in keys}
    print(f"{args.system}: {n} rows, exact-object match {exact / n:.1%}")
    print("per-field accuracy: " + ", ".join(f"{k} {a:.1%}" for k, a in accuracy.items()))
    print(f"product of the per-field accuracies: {math.prod(accuracy.values()):.1%}")
    for k in keys:
        if wrong.get(k):
            print(f"{k}: {len(wrong[k])} wrong")
            for line, ref, got in wrong[k][: args.most]:
                print(f"  line {line}: {ref!r} -> {got!r}")


if __name__ == "__main__":
    main()
