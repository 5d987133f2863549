"""How much fresh reviewed traffic a retrain's gate needs, and how much is waiting.

The retrain gate (eval/gate.py) compares the candidate with production on held-out reviewed inputs with a paired
test at 95%; each distinct input counts once (monitor/retrain.py). A retrain started before enough distinct
inputs are held out cannot pass that test even when the candidate is better: it costs a training run and leaves
production as it was. So the policy waits for `min_fresh_inputs` distinct held-out inputs (MonitorPolicy), and
after a gated retrain it waits for that many *new* ones, so that a refused candidate's successor is tested on
evidence the refused test did not already read.

The default comes from `inputs_for_power`: the number of paired inputs at which a two-sided test at 95% detects
an improvement of 20 points, with 40% of the inputs answered differently by the two versions (e.g. the candidate
fixes 30% and breaks 10%), 80% of the time: 77.
"""

from __future__ import annotations

import math

# What the default min_fresh_inputs is sized for (docs/monitor.md, *Retrain*): +20 points, 40% discordant pairs.
DEFAULT_IMPROVEMENT, DEFAULT_DISCORDANT = 0.20, 0.40


def inputs_for_power(improvement: float, discordant: float, confidence: float = 0.95, power: float = 0.8) -> int:
    """Distinct paired inputs a two-sided paired test of two accuracies needs (McNemar's test, normal
    approximation, Connor 1987): `improvement` is the accuracy difference, `discordant` the share of inputs
    exactly one version gets right (at least the improvement: the fixed ones minus the broken ones)."""
    from scipy.stats import norm

    if not 0 < improvement <= discordant <= 1:
        raise ValueError(f"need 0 < improvement ({improvement}) <= discordant share ({discordant}) <= 1")
    z_a, z_b = norm.ppf(1 - (1 - confidence) / 2), norm.ppf(power)
    n = (z_a * math.sqrt(discordant) + z_b * math.sqrt(discordant - improvement ** 2)) ** 2 / improvement ** 2
    return math.ceil(n)


def fresh_inputs_waiting(conn, versions: list[str], share: float, after_feedback_id: int = 0) -> int:
    """Distinct inputs, corrected by a reviewer on an answer of one of `versions`, that the retrain would hold
    out as fresh traffic (share `share`, monitor/request_inputs.is_held_out) and that were first corrected after
    feedback id `after_feedback_id` (0: all of them). An input corrected before that id was already read by an
    earlier gate, however often it was asked or corrected since."""
    from tuneforge.monitor.request_inputs import input_key, input_text, is_held_out

    if not versions:
        return 0
    marks = ",".join("?" * len(versions))
    first: dict[str, int] = {}
    for fid, request_json in conn.execute(
            f"SELECT f.id, t.request_json FROM feedback f JOIN traffic t ON t.request_id = f.request_id "
            f"WHERE f.correct_output IS NOT NULL AND f.variant IN ({marks})", versions):
        key = input_key(input_text({"request_json": request_json}))  # the text the retrain splits by
        first[key] = min(fid, first.get(key, fid))
    return sum(1 for key, fid in first.items() if fid > after_feedback_id and is_held_out(key, share))
