"""Accuracy of retrained candidates (promoted or refused) against version 1 on never-reviewed test lines, with
monitor_loop.py's own functions: the drifted mix (stratified bootstrap interval), the new category and the known
categories (Wilson intervals, exact McNemar test). What a refusal by the retrain gate cost, or saved.

    python benchmarks/monitor_candidates.py HOME=invoice:2[,invoice:3] [HOME2=...]

HOME is a monitor_loop.py --home; scores are cached there as bench/scores-<ref>.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TUNEFORGE_CACHE", str(Path.home() / ".tuneforge" / "cache"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import monitor_loop as ml

    out = {}
    for spec in sys.argv[1:]:
        home, _, refs = spec.partition("=")
        os.environ["TUNEFORGE_HOME"] = str(Path(home).resolve())
        test = [{"messages": [m for m in r["messages"] if m["role"] != "system"]}
                for r in ml.read(ml.ROOT / "examples" / "invoice-categories" / "test.jsonl")]
        cats = sorted({ml.label(r) for r in test})
        pool = {c: [r for r in test if ml.label(r) == c] for c in cats}
        first = ml.CachedScores("invoice:1", Path(home) / "bench" / "scores-v1.json")
        first.warm([ml.user(r) for r in test])
        for ref in refs.split(","):
            scores = ml.CachedScores(ref, Path(home) / "bench" / f"scores-{ref.replace(':', '-')}.json")
            scores.warm([ml.user(r) for r in test])
            right = lambda s, r: s.answer(ml.user(r))[0] == ml.label(r)  # noqa: E731
            by = {c: [[right(s, r) for r in pool[c]] for s in (first, scores)] for c in cats}
            mix = ml.weights(cats, True)
            out[f"{home}#{ref}"] = res = {
                "drifted_mix_before": ml.mix_accuracy({c: v[0] for c, v in by.items()}, mix),
                "drifted_mix_after": ml.mix_accuracy({c: v[1] for c, v in by.items()}, mix),
                "new_category": ml.paired_accuracy(*by[ml.NEW]),
                "known_categories": ml.paired_accuracy([x for c in cats if c != ml.NEW for x in by[c][0]],
                                                       [x for c in cats if c != ml.NEW for x in by[c][1]])}
            print(home, ref, json.dumps(res), flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
