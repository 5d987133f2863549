"""Which texts are the same or nearly the same: normalised text, character shingles, MinHash with LSH banding.

Near-duplicates are pairs whose sets of character 5-grams overlap by at least `threshold` (Jaccard). MinHash
signatures put likely pairs in the same LSH bucket so we never compare all pairs; every candidate is then
confirmed with the exact Jaccard of its shingle sets, so the reported similarity is real, not an estimate.
"""

from __future__ import annotations

import zlib

import numpy as np

from tuneforge.data.normalise import normalise_text

SHINGLE = 5
NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: pairs above ~0.5 Jaccard become candidates with high probability
_PRIME = (1 << 32) - 5


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    t = normalise_text(text)
    if len(t) <= k:
        return {t}
    return {t[i : i + k] for i in range(len(t) - k + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _signatures(sets: list[set[str]], seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, NUM_PERM, dtype=np.uint64)
    sigs = np.empty((len(sets), NUM_PERM), dtype=np.uint64)
    for i, s in enumerate(sets):
        x = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in s), dtype=np.uint64, count=len(s))
        # (a*x + b) mod p per permutation; a < 2^31 and x < 2^32 keep the product inside uint64.
        sigs[i] = ((np.outer(x, a) + b) % _PRIME).min(axis=0)
    return sigs


def _candidates(sigs: np.ndarray) -> set[tuple[int, int]]:
    rows = NUM_PERM // BANDS
    pairs: set[tuple[int, int]] = set()
    for band in range(BANDS):
        buckets: dict[bytes, list[int]] = {}
        chunk = sigs[:, band * rows : (band + 1) * rows]
        for i in range(len(sigs)):
            buckets.setdefault(chunk[i].tobytes(), []).append(i)
        for members in buckets.values():
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    pairs.add((members[x], members[y]))
    return pairs


def similar_pairs(texts: list[str], threshold: float, others: list[str] | None = None) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) for texts at or above `threshold`: within `texts` (i < j), or between texts[i] and others[j]."""
    pool = texts + (others or [])
    sets = [shingles(t) for t in pool]
    if len(pool) < 2:
        return []
    n = len(texts)
    out = []
    for i, j in sorted(_candidates(_signatures(sets))):
        if others is not None and not (i < n <= j):
            continue
        sim = jaccard(sets[i], sets[j])
        if sim >= threshold:
            out.append((i, j - n if others is not None else j, sim))
    return out


def groups(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Connected groups (size >= 2) of items linked by pairs, each sorted, in order of first member."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        parent[find(i)] = find(j)
    by_root: dict[int, list[int]] = {}
    for i in range(n):
        by_root.setdefault(find(i), []).append(i)
    return sorted((g for g in by_root.values() if len(g) > 1), key=lambda g: g[0])
