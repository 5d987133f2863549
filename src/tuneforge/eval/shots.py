"""Few-shot examples for the prompted baseline: chosen at random, or the most similar to each input.

Similarity is cosine over TF-IDF vectors of character 3-grams: cheap, language-agnostic, and good at finding
"an invoice laid out like this one", which is what helps a small model most.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from tuneforge.data.formats import Example
from tuneforge.data.labels import label_set
from tuneforge.data.normalise import normalise_answer, squash


def choose_shots(pool: list[Example], k: int, seed: int) -> list[Example]:
    """k examples from the pool; with labels, cover as many different labels as k allows."""
    rng = random.Random(seed)
    pool = list(pool)
    rng.shuffle(pool)
    labels = label_set([e.answer for e in pool])
    if not labels:
        return pool[:k]
    by_label: dict[str, list[Example]] = {}
    for e in pool:
        by_label.setdefault(normalise_answer(e.answer), []).append(e)
    chosen: list[Example] = []
    while len(chosen) < min(k, len(pool)):
        for key in sorted(by_label, key=lambda _: rng.random()):
            if by_label[key] and len(chosen) < k:
                chosen.append(by_label[key].pop())
    rng.shuffle(chosen)
    return chosen


def char_ngrams(text: str, n: int = 3) -> Counter:
    t = f" {squash(text)} "
    return Counter(t[i : i + n] for i in range(max(len(t) - n + 1, 1)))


class SimilarityIndex:
    def __init__(self, pool: list[Example], n: int = 3):
        self.pool = pool
        self.n = n
        counts = [char_ngrams(e.user_text, n) for e in pool]
        df = Counter(g for c in counts for g in c)
        self.idf = {g: math.log((1 + len(pool)) / (1 + d)) + 1 for g, d in df.items()}
        self.vectors = [self._unit(c) for c in counts]

    def _unit(self, counts: Counter) -> dict[str, float]:
        vec = {g: tf * self.idf.get(g, 0.0) for g, tf in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items()}

    def nearest(self, text: str, k: int) -> list[Example]:
        """The k most similar pool examples, most similar last (nearest to the question in the prompt).

        A pool example with the very same input is skipped: copying its answer would measure leakage, not skill.
        """
        query = self._unit(char_ngrams(text, self.n))
        same = squash(text)
        scored = []
        for i, vec in enumerate(self.vectors):
            if squash(self.pool[i].user_text) == same:
                continue
            scored.append((sum(w * vec.get(g, 0.0) for g, w in query.items()), -i))
        top = sorted(scored, reverse=True)[:k]
        return [self.pool[-i] for _, i in reversed(top)]


def few_shot_prompt(example: Example, shots: list[Example]) -> list[dict]:
    """The example's own system prompt, then each shot as a user/assistant exchange, then the question."""
    prompt = example.prompt_messages
    system = [m for m in prompt[:1] if m["role"] == "system"]
    rest = prompt[len(system):]
    demo: list[dict] = []
    for s in shots:
        demo += [{"role": "user", "content": s.user_text}, {"role": "assistant", "content": s.answer}]
    return system + demo + rest
