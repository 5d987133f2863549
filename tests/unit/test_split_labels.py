from __future__ import annotations

from collections import Counter

from tuneforge.data.formats import Example
from tuneforge.data.labels import label_set
from tuneforge.data.normalise import normalise_answer
from tuneforge.data.split import split_examples


def _ex(user, answer):
    return Example([{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


def test_label_detection():
    assert label_set(["a", "b", "a", "b", "A."]) == ["a", "b"]
    assert label_set([f"free text answer number {i}" for i in range(20)]) is None
    assert label_set(['{"k": 1}', '{"k": 1}', '{"k": 2}', '{"k": 2}']) is None
    assert normalise_answer('  "Software." ') == "software"


def test_split_is_seeded_and_stratified():
    data = [_ex(f"{lab} item {i}", lab) for lab, n in (("a", 40), ("b", 20), ("c", 10)) for i in range(n)]
    train1, eval1 = split_examples(data, 0.2, seed=7)
    train2, eval2 = split_examples(data, 0.2, seed=7)
    assert [e.user_text for e in eval1] == [e.user_text for e in eval2]
    assert Counter(e.answer for e in eval1) == {"a": 8, "b": 4, "c": 2}
    assert len(train1) + len(eval1) == 70 and not {e.user_text for e in train1} & {e.user_text for e in eval1}
    _, eval3 = split_examples(data, 0.2, seed=8)
    assert [e.user_text for e in eval3] != [e.user_text for e in eval1]


def test_split_free_text_random():
    data = [_ex(f"q{i}", f"a long unique answer {i}") for i in range(50)]
    train, evals = split_examples(data, 0.1, seed=1)
    assert len(evals) == 5 and len(train) == 45
