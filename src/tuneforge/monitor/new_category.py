"""A new category named by the reviewers: corrections whose answer lies outside the variant's label set.

The answer-mix and input tests can miss a category the variant has never seen: the variant maps it onto labels
it already knows (the real invoice variant answers most `bank_fees` lines with `professional_services` and
`rent_utilities`), and its lines can look like the other invoice lines letter for letter (benchmarks/RESULTS.md,
"Maintenance cycle"). The people reviewing the traffic do not miss it: they write the new label. A label that
several distinct inputs were corrected to, and that the variant cannot answer, is direct evidence of a new
category; the policy's `min_new_label_reviews` says how many distinct inputs it takes (one stray or mistyped
correction is not a category)."""

from __future__ import annotations

from tuneforge.data.labels import normalise_answer
from tuneforge.monitor.request_inputs import input_key


def reviewed_new_labels(rows: list[dict], labels: list[str], input_text) -> dict[str, int]:
    """Label -> number of distinct inputs among `rows` whose correction is that label, for labels outside
    `labels`. A request asked several times counts once (its latest correction wins), so a repeated request
    cannot make a category out of one line. "Distinct" is the monitor's one input key (fresh_evidence.input_key),
    the one the retrain splits and counts its fresh evidence by."""
    known = {normalise_answer(lab) for lab in labels}
    latest: dict[str, str] = {}
    for row in rows:
        fix = row.get("correct_output")
        if fix is None or not str(fix).strip():
            continue
        latest[input_key(input_text(row))] = normalise_answer(fix)
    out: dict[str, int] = {}
    for label in latest.values():
        if label not in known:
            out[label] = out.get(label, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


RANDOM_REVIEW = "review:random"  # feedback source of the review queue's uniformly random items (cli/monitor.py)


def adjusted_estimate(rows: list[dict], labels: list[str], cbpe: dict) -> dict:
    """CBPE with the reviewed new category taken out. CBPE counts a request of a category the variant has never
    seen as right with its confidence, though it cannot be right (benchmarks/RESULTS.md: the estimate stayed at
    0.6 while true accuracy fell to 0.4). The review queue's random items are an unbiased sample of the window: the
    share of them corrected to a label outside the label set (Wilson interval) estimates the new category's share
    pi, and the mean confidence c of the window's requests corrected to such a label estimates what CBPE wrongly
    credits each of them. So accuracy ~ CBPE - pi * c; the interval combines CBPE's with pi's bounds. Without
    random reviews, or with none naming a new label, it is CBPE itself."""
    from tuneforge.monitor.intervals import wilson

    known = {normalise_answer(lab) for lab in labels}
    is_new = lambda r: normalise_answer(r["correct_output"]) not in known  # noqa: E731
    corrected = [r for r in rows if r.get("correct_output") is not None and str(r["correct_output"]).strip()]
    randoms = [r for r in corrected if r.get("correct_source") == RANDOM_REVIEW]
    share = wilson(sum(map(is_new, randoms)), len(randoms))
    new_conf = [r["confidence"] for r in randoms if is_new(r) and r.get("confidence") is not None] or \
        [r["confidence"] for r in corrected if is_new(r) and r.get("confidence") is not None]
    base = {**cbpe, "new_category_share": share}  # unadjusted: CBPE itself, its own method named
    if cbpe.get("value") is None or not share["n"] or not share["k"] or not new_conf:
        return base
    c = sum(new_conf) / len(new_conf)
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    low, high = (cbpe["ci"] if cbpe.get("ci") else (cbpe["value"], cbpe["value"]))
    return {**base, "value": clip(cbpe["value"] - share["value"] * c),
            "ci": [clip(low - share["ci"][1] * c), clip(high - share["ci"][0] * c)], "new_category_confidence": c,
            "method": "CBPE minus the new-category share of random reviews (Wilson) times its mean confidence"}
