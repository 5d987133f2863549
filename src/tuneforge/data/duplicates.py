"""Duplicates, contradictions and train/eval leakage: the same input seen twice, with the same answer or not.

- exact duplicates: identical after normalising text (case, punctuation, spacing) in input and answer.
- near duplicates: inputs whose character 5-grams overlap >= threshold, with the same answer.
- contradictions: the same or near-same input with different answers, the inconsistency that teaches a model
  to guess; tuneforge cannot know which answer is right, so these are flagged for a person to decide.
- leakage: an eval input that is (nearly) a training input, which makes the eval score a memory test.

Rows are read front to back, once per search (they may be read back from disk: row_store.py), and what is kept
per row is fixed: a 16-byte digest for exact duplicates, a MinHash signature for near ones (similarity.py). What
grows beyond that grows with the duplicates found, not with the rows.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left

import numpy as np

from tuneforge.data.findings import Finding, at_lines, clip, describe_lines, input_text
from tuneforge.data.formats import Example
from tuneforge.data.normalise import normalise_answer
from tuneforge.data.normalise import normalise_text
from tuneforge.data.similarity import groups, similar_pairs

NEAR_THRESHOLD = 0.8


def _answer_key(ex: Example) -> str:
    key = normalise_answer(ex.answer)
    return key + "\x00" + normalise_text(ex.meta["rejected"]) if ex.is_preference else key


def _answer_keys(examples: list[Example], pairs: list[tuple[int, int, float]]) -> dict[int, str]:
    """Answer keys of the rows in `pairs`, each row read once, in file order (rows may be read back from disk:
    reading only these rows costs less than a pass over all of them)."""
    return {i: _answer_key(examples[i]) for i in sorted({i for p in pairs for i in p[:2]})}


def _exact_key(ex: Example) -> bytes:
    """128-bit digest of the row's comparison form (input, answer): what two rows share when they are the same.

    normalise_text leaves no NUL in the input, so input + NUL + answer is one unambiguous string."""
    key = normalise_text(input_text(ex)) + "\x00" + _answer_key(ex)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_duplicates(examples: list[Example]) -> list[Finding]:
    # One digest per row (16 bytes), sorted, instead of a dictionary keyed by the rows' texts (about 500 bytes a
    # row): equal rows end up next to each other, in row order (the sort is stable).
    digests = bytearray()
    for ex in examples:
        digests += _exact_key(ex)
    if not digests:
        return []
    halves = np.frombuffer(digests, dtype=">u8").reshape(-1, 2)  # a view: no copy
    order = np.lexsort((halves[:, 1], halves[:, 0]))
    ranked = halves[order]
    repeats = np.flatnonzero((ranked[1:] == ranked[:-1]).all(axis=1)) + 1  # sorted positions equal to the previous
    out = []
    k = 0
    while k < len(repeats):  # each run of consecutive repeats, with the position before it, is one group
        first = last = int(repeats[k])
        while k + 1 < len(repeats) and repeats[k + 1] == last + 1:
            k, last = k + 1, last + 1
        k += 1
        members = order[first - 1 : last + 1].tolist()
        lines = at_lines(examples, members)
        out.append(Finding(members, f"{describe_lines(lines)}: same example {len(members)}x: "
                           f"{clip(input_text(examples[members[0]]))!r}", lines, 1.0))
    return sorted(out, key=lambda f: f.members[0])


def input_pairs(examples: list[Example], threshold: float = NEAR_THRESHOLD) -> list[tuple[int, int, float]]:
    """(i, j, similarity) of examples whose inputs are near-same: what near_duplicates and contradictions share."""
    return similar_pairs((input_text(e) for e in examples), threshold)


def pairs_among(pairs: list[tuple[int, int, float]], dropped: set[int]) -> list[tuple[int, int, float]]:
    """The pairs between positions not `dropped`, renumbered to positions in what is left (a position moves down
    by the number of dropped positions before it)."""
    gone = sorted(dropped)
    return [(i - bisect_left(gone, i), j - bisect_left(gone, j), s) for i, j, s in pairs
            if i not in dropped and j not in dropped]


def near_duplicates(examples: list[Example], threshold: float = NEAR_THRESHOLD,
                    pairs: list[tuple[int, int, float]] | None = None) -> list[Finding]:
    """Groups of same-answer examples with near-same inputs (run after exact duplicates are removed)."""
    pairs = input_pairs(examples, threshold) if pairs is None else pairs
    keys = _answer_keys(examples, pairs)
    same = [(i, j, s) for i, j, s in pairs if keys[i] == keys[j]]
    best = {}
    for i, j, s in same:
        best[i] = max(best.get(i, 0), s)
        best[j] = max(best.get(j, 0), s)
    out = []
    for members in groups(len(examples), same):
        lines = at_lines(examples, members)
        texts = " ~ ".join(repr(clip(input_text(examples[i]), 50)) for i in members[:3])
        score = max(best[i] for i in members)
        out.append(Finding(members, f"{describe_lines(lines)}: near-same input, same answer: {texts}", lines, score))
    return out


def contradictions(examples: list[Example], threshold: float = NEAR_THRESHOLD,
                   pairs: list[tuple[int, int, float]] | None = None) -> list[Finding]:
    pairs = input_pairs(examples, threshold) if pairs is None else pairs
    keys = _answer_keys(examples, pairs)
    out = []
    for members in groups(len(examples), pairs):
        answers = {keys[i] for i in members}
        if len(answers) < 2:
            continue
        lines = at_lines(examples, members)
        shown = "; ".join(f"line {examples[i].line}: {clip(input_text(examples[i]), 45)!r} -> "
                          f"{clip(examples[i].answer, 30)!r}" for i in members[:4])
        out.append(Finding(members, f"{len(answers)} different answers to the same input: {shown}", lines,
                           extra={"answers": sorted({clip(examples[i].answer, 80) for i in members})}))
    return out


def leaked_eval_lines(train: list[Example], evals: list[Example], threshold: float = NEAR_THRESHOLD) -> list[int]:
    """Lines of the eval examples whose input is (nearly) a training input: what `eval` reports as leakage."""
    return sorted({line for f in leakage(train, evals, threshold) for line in f.extra["eval_lines"]})


def leakage(train: list[Example], evals: list[Example], threshold: float = NEAR_THRESHOLD) -> list[Finding]:
    """One Finding per leaking training example; members = [train index], extra names the eval lines."""
    hits: dict[int, list[tuple[int, float]]] = {}
    for i, j, s in similar_pairs((input_text(e) for e in train), threshold, (input_text(e) for e in evals)):
        hits.setdefault(i, []).append((j, s))
    out = []
    for i in sorted(hits):
        eval_lines = [evals[j].line for j, _ in hits[i]]
        score = max(s for _, s in hits[i])
        out.append(Finding([i], f"train line {train[i].line} is in the eval data ({describe_lines(eval_lines)}, "
                           f"similarity {score:.2f}): {clip(input_text(train[i]))!r}", [train[i].line], score,
                           {"eval_lines": eval_lines}))
    return out
