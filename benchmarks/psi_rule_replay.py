"""Replay the traffic logs of a `monitor_loop.py --detection-only` run through three input-PSI alert rules, to
compare their false alarms on the same unchanged streams (and their first alert on the drifted ones):

  single   the latest window's PSI over `max_input_psi` with its permutation test at p < 0.05, 200 permutations
           (the rule before the persistence rule);
  strict   the same at the policy's `drift_p_value` (0.001 in the benchmark) with 2,000 permutations, so that p can
           go below it (the +1-corrected p of 200 permutations never goes below 1/201);
  persist  the rule in monitor/policy.py: the latest full window and the full window before it both over the limit
           at p < 0.05 (200 permutations).

Each check is replayed at the request where the benchmark checked (every 25 requests, once a full window has been
served), on the same rows. "Would retrain" counts a PSI alert at a check where the benchmark's other conditions
held too (200 corrections and 77 distinct held-out inputs, counted from the feedback given up to that check). A
drifted stream is replayed until every rule has fired once (its first alert is what counts there).

    python benchmarks/psi_rule_replay.py --home H            # H: the --home of the detection run
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True, help="--home of a monitor_loop.py --detection-only run")
    ap.add_argument("--every", type=int, default=25, help="The benchmark's --check-every.")
    ap.add_argument("--strict-permutations", type=int, default=2000)
    args = ap.parse_args()
    home = Path(args.home).resolve()
    work = home / "bench"
    os.environ["TUNEFORGE_HOME"] = str(home)
    from tuneforge.config import MonitorPolicy
    from tuneforge.monitor import drift
    from tuneforge.monitor.policy import PSI_SIGNIFICANCE
    from tuneforge.monitor.reference import load_reference
    from tuneforge.monitor.request_inputs import input_key, input_text, is_held_out
    from tuneforge.monitor.summary import load_rows
    from tuneforge.monitor.traffic_log import MIGRATIONS
    from tuneforge.sqlite_db import open_db

    results = json.loads((work / "results.json").read_text())
    policy = MonitorPolicy(**results["policy"])
    version = results["v1"]["ref"]
    ref = load_reference(version)
    ref_lengths = [len(t) for t in ref.train_inputs]
    window, limit = policy.window, policy.max_input_psi

    def value(kind, inputs):
        return (drift.psi(ref_lengths, [len(t) for t in inputs]) if kind == "length"
                else drift.vocabulary_psi(ref.train_inputs, inputs))

    def p_value(kind, inputs, rounds=None):
        test = (drift.psi_test(ref_lengths, [len(t) for t in inputs], rounds=rounds) if kind == "length"
                else drift.vocabulary_psi_test(ref.train_inputs, inputs, rounds=rounds))
        return test["p_value"]

    report, t0, strict_s = {}, time.time(), []
    for kind_of_stream in ("no_drift", "drift"):
        for stream in results[kind_of_stream]:
            db = work / f"{kind_of_stream}-{stream['seed']}.db"
            conn = open_db(db, MIGRATIONS)
            rows = load_rows(conn, [version])
            position = {r["request_id"]: i for i, r in enumerate(rows)}
            corrected = [(position[rid], input_key(input_text({"request_json": rj})), rid) for rid, rj in conn.execute(
                "SELECT f.request_id, t.request_json FROM feedback f JOIN traffic t ON t.request_id = f.request_id "
                "WHERE f.correct_output IS NOT NULL")]
            conn.close()
            fired: dict[str, list] = {"single": [], "strict": [], "persist": []}
            checks = 0
            for k in range(window, len(rows) + 1, args.every):
                if kind_of_stream == "drift" and all(fired.values()):
                    break  # on a drifted stream only each rule's first alert is reported
                checks += 1
                latest = [input_text(r) for r in rows[k - window:k]]
                before = [input_text(r) for r in rows[k - 2 * window:k - window]] if k >= 2 * window else None
                corrections = len({rid for i, _, rid in corrected if i < k})
                fresh = len({key for i, key, _ in corrected if i < k and is_held_out(key, policy.fresh_share)})
                due = corrections >= policy.min_corrections and fresh >= policy.min_fresh_inputs
                for kind in ("length", "vocabulary"):
                    psi = value(kind, latest)
                    if psi <= limit:
                        continue
                    entry = {"at": k, "psi": kind, "value": round(psi, 3), "due": due}
                    if p_value(kind, latest) < PSI_SIGNIFICANCE:
                        fired["single"].append(entry)
                        if before is not None and value(kind, before) > limit \
                                and p_value(kind, before) < PSI_SIGNIFICANCE:
                            fired["persist"].append(entry)
                    t = time.time()
                    strict = p_value(kind, latest, args.strict_permutations)
                    strict_s.append(time.time() - t)
                    if strict < policy.drift_p_value:
                        fired["strict"].append(entry)
            report[f"{kind_of_stream}-{stream['seed']}"] = {"requests": len(rows), "checks": checks, **fired}
    summary = {}
    for kind_of_stream in ("no_drift", "drift"):
        streams = {k: v for k, v in report.items() if k.startswith(kind_of_stream + "-")}
        summary[kind_of_stream] = {rule: {
            "streams_with_a_psi_alert": f"{sum(bool(s[rule]) for s in streams.values())}/{len(streams)}",
            "streams_that_would_retrain": f"{sum(any(a['due'] for a in s[rule]) for s in streams.values())}"
                                          f"/{len(streams)}",
            "checks_with_a_psi_alert": f"{sum(len({a['at'] for a in s[rule]}) for s in streams.values())}"
                                       f"/{sum(s['checks'] for s in streams.values())}",
            "first_psi_alert_at": {k: (s[rule][0]["at"] if s[rule] else None) for k, s in streams.items()}}
            for rule in ("single", "strict", "persist")}
    summary["wall_s"] = round(time.time() - t0)
    # What the strict rule would cost at every check (the replay runs it only where the PSI is over the limit).
    summary["strict_test_s_mean"] = round(sum(strict_s) / len(strict_s), 3) if strict_s else None
    (work / "psi_rule_replay.json").write_text(json.dumps({"summary": summary, "streams": report}, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
