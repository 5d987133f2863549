"""Which texts are the same or nearly the same: normalised text, character shingles, MinHash with LSH banding.

Near-duplicates are pairs whose sets of character 5-grams overlap by at least `threshold` (Jaccard). MinHash
signatures put likely pairs in the same LSH bucket so we never compare all pairs; every candidate is then
confirmed with the exact Jaccard of its shingle sets, so the reported similarity is real, not an estimate.
Buckets are found by sorting each band's keys (no per-row Python dictionaries), and a bucket of thousands of
near-same rows is compared against a window of representatives instead of pair by pair: 20,000 similar rows
once took 4 minutes because candidate pairs grew with the square of the bucket.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator

import numpy as np

from tuneforge.data.normalise import normalise_text

SHINGLE = 5
NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: pairs above ~0.5 Jaccard become candidates with high probability


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    return _shingle_set(normalise_text(text), k)


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    common = len(a & b) if len(a) <= len(b) else len(b & a)
    return common / (len(a) + len(b) - common)


def _shingle_set(t: str, k: int = SHINGLE) -> set[str]:
    return {t} if len(t) <= k else {t[i : i + k] for i in range(len(t) - k + 1)}


class TextSpill:
    """Normalised texts on disk: written once to an unnamed temporary file, read back by offset when needed.

    Per text only the end offset of its bytes is kept in memory (8 bytes): with every input text and its
    normalised copy held, the search kept 479 bytes per short invoice line, 202 without them
    (tests/reliability/test_cleaning_memory_per_row.py)."""

    def __init__(self):
        # An unnamed file: the OS deletes it when closed, or when the process ends however it ends.
        self._file = tempfile.TemporaryFile(buffering=1 << 20)  # noqa: SIM115 (closed by close())
        self._ends = array("q")
        self._size = 0

    def extend(self, texts: Iterable[str]) -> None:
        out = self._file
        out.seek(self._size)
        for text in texts:
            data = normalise_text(text).encode("utf-8", "surrogatepass")
            out.write(data)
            self._size += len(data)
            self._ends.append(self._size)
        out.flush()

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        start = self._ends[i - 1] if i else 0
        return os.pread(self._file.fileno(), self._ends[i] - start, start).decode("utf-8", "surrogatepass")

    def blocks(self, size: int) -> Iterator[tuple[int, list[str]]]:
        """(index of the first text, the texts) of consecutive blocks of `size` texts, read front to back."""
        for first in range(0, len(self), size):
            last = min(first + size, len(self))
            start = self._ends[first - 1] if first else 0
            data = os.pread(self._file.fileno(), self._ends[last - 1] - start, start)
            cuts = [0, *(self._ends[k] - start for k in range(first, last))]
            yield first, [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(cuts, cuts[1:])]

    def close(self) -> None:
        self._file.close()


class _LazyShingles:
    """Shingle sets of the spilled texts, built only for the texts a candidate pair needs (most never are).

    At most MAX_CACHED sets are kept (oldest dropped first, rebuilt if asked again): on 100,000 templated rows,
    where nearly every row is a candidate, keeping every set cost most of a gigabyte."""

    MAX_CACHED = 4096

    def __init__(self, texts: TextSpill):
        self.texts, self.cache = texts, {}

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> set[str]:
        found = self.cache.get(i)
        if found is None:
            if len(self.cache) >= self.MAX_CACHED:
                del self.cache[next(iter(self.cache))]
            found = self.cache[i] = _shingle_set(self.texts[i])
        return found


_BASE = 1_000_003
_MASK = (1 << 32) - 1
_CHUNK = 1 << 15  # shingles hashed per permutation block (bounded memory: CHUNK x NUM_PERM x 8 bytes)
_TEXT_BLOCK = 4096  # texts whose shingles are hashed together: each text's signature depends on it alone


def _shingle_hashes(texts: list[str], k: int = SHINGLE) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit polynomial hash of every character k-gram, index of its text), for all texts in a few array
    operations instead of one Python call per shingle. A text of k characters or fewer is one shingle."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner = np.repeat(np.arange(len(texts)), lengths)
    hashes, owners = [np.empty(0, np.uint64)], [np.empty(0, np.int64)]
    if len(codes) >= k:
        h = codes[: len(codes) - k + 1].copy()
        for j in range(1, k):
            h = (h * _BASE + codes[j : len(codes) - k + 1 + j]) & _MASK
        inside = owner[: len(h)] == owner[k - 1 :]  # windows that do not cross into the next text
        hashes.append(h[inside])
        owners.append(owner[: len(h)][inside])
    short = np.flatnonzero(lengths < k).tolist()  # (a text of exactly k characters is its one window above)
    if short:
        whole = []
        for i in short:
            v = 0
            for ch in texts[i]:
                v = (v * _BASE + ord(ch)) & _MASK
            whole.append(v)
        hashes.append(np.array(whole, dtype=np.uint64))
        owners.append(np.array(short, dtype=np.int64))
    h, o = np.concatenate(hashes), np.concatenate(owners)
    order = np.argsort(o, kind="stable")
    return h[order], o[order]


def _permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Multiply-shift hashing (odd 64-bit a, wrapping arithmetic, top 32 bits): one permutation per column,
    # without the modulo that cost most of the time.
    a = rng.integers(0, np.iinfo(np.uint64).max, NUM_PERM, dtype=np.uint64, endpoint=True) | np.uint64(1)
    b = rng.integers(0, np.iinfo(np.uint64).max, NUM_PERM, dtype=np.uint64, endpoint=True)
    return a, b


def _signatures(texts: TextSpill, seed: int = 1) -> np.ndarray:
    a, b = _permutations(seed)
    # Each value is the top 32 bits of a 64-bit product, so 4 bytes hold it: 256 bytes of signature per text.
    sigs = np.full((len(texts), NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
    # A block of texts at a time, read back from the spill: the shingle arrays of every text at once (9 arrays
    # of 8 bytes per character) cost hundreds of megabytes on 100,000 rows.
    for first, block in texts.blocks(_TEXT_BLOCK):
        hashes, owners = _shingle_hashes(block)
        owners += first
        for start in range(0, len(hashes), _CHUNK):
            x, own = hashes[start : start + _CHUNK], owners[start : start + _CHUNK]
            values = (x[:, None] * a + b) >> np.uint64(32)
            firsts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
            ids = own[firsts]
            sigs[ids] = np.minimum(sigs[ids], np.minimum.reduceat(values, firsts, axis=0).astype(np.uint32))
    return sigs


# A bucket this size or smaller is compared pair by pair; a larger one (thousands of near-same rows, e.g. one
# invoice template) is compared against a window of representatives, so the work stays linear in the rows.
SMALL_BUCKET = 64
LEADERS = 32
# MinHash estimates from 64 permutations have a standard deviation of about 0.05 near 0.8 similarity; a pair
# estimated more than 3 deviations below the threshold is not checked exactly.
ESTIMATE_MARGIN = 0.15
TRY_LEADERS = 2  # representatives checked exactly per row in a large bucket, best estimates first
MAX_TRIED = 1 << 19  # checked pairs remembered (about 40 MB), so a pair in several bands is checked once


def _band_keys(sigs: np.ndarray, band: int) -> np.ndarray:
    rows = NUM_PERM // BANDS
    chunk = np.ascontiguousarray(sigs[:, band * rows : (band + 1) * rows])
    return chunk.view(np.dtype((np.void, chunk.dtype.itemsize * rows))).ravel()


def _buckets(sigs: np.ndarray):
    """Each LSH bucket (rows sharing one band of their signature) with at least two members, as index arrays."""
    for band in range(BANDS):
        keys = _band_keys(sigs, band)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        shared = np.flatnonzero(ends - starts > 1)  # most rows are alone in their bucket: skip them in bulk
        for a, b in zip(starts[shared].tolist(), ends[shared].tolist()):
            yield np.sort(order[a:b])


def _representatives(items: list[int], sets: list[set[str]], threshold: float) -> list[int]:
    """A window of mutually dissimilar items standing for a large bucket's side (cross comparisons)."""
    leaders: list[int] = []
    for i in items:
        if not any(jaccard(sets[lead], sets[i]) >= threshold for lead in leaders):
            leaders.append(i)
            del leaders[:-LEADERS]
    return leaders


def _confirmed(sets: list[set[str]], threshold: float, sigs: np.ndarray, keep,
               split: int | None = None) -> dict[tuple[int, int], float]:
    """Candidate pairs from the LSH buckets, each confirmed with its exact Jaccard similarity.

    With `split`, only pairs across it (i < split <= j) are wanted: texts against others."""
    found: dict[tuple[int, int], float] = {}
    # Pairs already checked, as i * n + j, so a pair met in several bands is checked once. Forgetting them only
    # costs a second check of the same pair (same answer), so the set is emptied when full: bounded memory.
    tried: set[int] = set()
    n = len(sets)
    parent = array("q", range(n))  # groups linked so far inside large buckets (8 bytes per row)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def consider(i: int, j: int) -> float:
        pair = (i, j) if i < j else (j, i)
        key = pair[0] * n + pair[1]
        if key in tried:
            return found.get(pair, 0.0)
        if len(tried) >= MAX_TRIED:
            tried.clear()
        tried.add(key)
        if not keep(*pair):
            return 0.0
        sim = jaccard(sets[pair[0]], sets[pair[1]])
        if sim >= threshold:
            found[pair] = sim
        return sim

    for members in _buckets(sigs):
        members = members.tolist()
        if split is not None:
            left = [i for i in members if i < split]
            right = [j for j in members if j >= split]
            if len(left) * len(right) > SMALL_BUCKET * SMALL_BUCKET:
                right = _representatives(right, sets, threshold)
            for i in left:
                for j in right:
                    consider(i, j)
            continue
        if len(members) <= SMALL_BUCKET:
            if len(members) == 2:
                consider(members[0], members[1])
                continue
            # Every pair, but only those whose signatures make the threshold plausible get the exact check.
            block = sigs[members]
            agree = (block[:, None, :] == block[None, :, :]).sum(axis=2)
            xs, ys = np.nonzero(np.triu(agree >= (threshold - ESTIMATE_MARGIN) * NUM_PERM, k=1))
            for x, y in zip(xs.tolist(), ys.tolist()):
                consider(members[x], members[y])
            continue
        # Large bucket: each row is compared with the most recent representatives; a row like none of them
        # becomes one. Rows like a representative join its group through that pair.
        # The signatures estimate each similarity first; only plausible pairs get the exact (slower) check,
        # most likely first. A row already linked to a representative's group needs no further link.
        leaders: list[int] = []
        roots: set[int] = set()  # the groups of the current representatives
        for i in members:
            if leaders:
                if find(i) in roots:
                    continue
                estimate = (sigs[leaders] == sigs[i]).sum(axis=1)
                best = np.argsort(-estimate, kind="stable")[:TRY_LEADERS].tolist()
                floor = (threshold - ESTIMATE_MARGIN) * NUM_PERM
                likely = [leaders[k] for k in best if estimate[k] >= floor]
                match = next((lead for lead in likely if consider(lead, i) >= threshold), None)
                if match is not None:
                    parent[find(i)] = find(match)
                    continue
            leaders.append(i)
            roots.add(find(i))
            if len(leaders) > LEADERS:
                del leaders[0]
                roots = {find(lead) for lead in leaders}
    return found


def similar_pairs(texts: Iterable[str], threshold: float, others: Iterable[str] | None = None,
                  ) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) for texts at or above `threshold`: within `texts` (i < j), or between texts[i] and others[j].

    `texts` and `others` are read once, front to back (a generator over rows read back from disk will do): the
    normalised texts go to a temporary file, and memory holds per text its MinHash signature and an offset."""
    pool = TextSpill()
    try:
        pool.extend(texts)
        n = len(pool)
        if others is not None:
            pool.extend(others)
        if len(pool) < 2:
            return []
        if others is None:
            keep = lambda i, j: True  # noqa: E731
        else:
            keep = lambda i, j: i < n <= j  # noqa: E731
        found = _confirmed(_LazyShingles(pool), threshold, _signatures(pool), keep, None if others is None else n)
    finally:
        pool.close()
    return [(i, j - n if others is not None else j, sim) for (i, j), sim in sorted(found.items())]


def groups(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Connected groups (size >= 2) of items 0..n-1 linked by pairs, each sorted, in order of first member.

    Only items named in a pair are tracked (an item in no pair is alone): memory follows the pairs, not n."""
    parent: dict[int, int] = {}

    def find(x):
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for i, j, _ in pairs:
        parent[find(i)] = find(j)
    by_root: dict[int, list[int]] = {}
    for i in sorted(parent):
        by_root.setdefault(find(i), []).append(i)
    return sorted((g for g in by_root.values() if len(g) > 1), key=lambda g: g[0])
