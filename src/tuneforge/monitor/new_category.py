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
from tuneforge.data.normalise import normalise_text


def reviewed_new_labels(rows: list[dict], labels: list[str], input_text) -> dict[str, int]:
    """Label -> number of distinct inputs among `rows` whose correction is that label, for labels outside
    `labels`. A request asked several times counts once (its latest correction wins), so a repeated request
    cannot make a category out of one line."""
    known = {normalise_answer(lab) for lab in labels}
    latest: dict[str, str] = {}
    for row in rows:
        fix = row.get("correct_output")
        if fix is None or not str(fix).strip():
            continue
        latest[normalise_text(input_text(row))] = normalise_answer(fix)
    out: dict[str, int] = {}
    for label in latest.values():
        if label not in known:
            out[label] = out.get(label, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))
