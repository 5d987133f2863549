"""A generated data file with every kind of finding the cleaning steps look for, and the answers the cleaning
gave on it before its memory was bounded (golden/cleaning_before_streaming.json), so the bounded version can be
held to the same duplicates, contradictions, outliers and suspects.

    python tests/unit/cleaning_corpus.py   # rewrites the golden file with the implementation importable now

The rows: labelled invoice lines from a few templates (hundreds alike: large LSH buckets), exact copies, near
copies (one word changed), near copies with another label (contradictions), personal data, stray labels, and a
JSON-answer file for the structure checks; an eval file partly copied from the training rows (leakage).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden" / "cleaning_before_streaming.json"
LABELS = ["software", "travel", "hardware", "telecom"]
VENDORS = {"software": ["Adobe", "Microsoft", "GitHub", "Slack"], "travel": ["KLM", "Lufthansa", "Uber", "Hilton"],
           "hardware": ["Dell", "Lenovo", "Apple", "Logitech"], "telecom": ["Vodafone", "KPN", "T-Mobile", "Orange"]}
WORDS = ("licence renewal team plan billed yearly monthly subscription seats support hotel night taxi airport "
         "laptop monitor dock keyboard mobile data bundle paper toner campaign spend conference ticket").split()
SYSTEM = "Categorise the invoice line. Answer with the category only."


def _chat(user: str, answer: str) -> str:
    return json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                                    {"role": "assistant", "content": answer}]}, ensure_ascii=False)


def label_rows(n: int = 1500, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    rows: list[str] = []
    for i in range(n):
        label = LABELS[rng.randrange(len(LABELS))]
        vendor = VENDORS[label][rng.randrange(4)]
        kind = rng.random()
        if kind < 0.15:  # one vendor's template: hundreds of near-same rows (a large LSH bucket)
            label, text = "software", f"Adobe invoice {rng.randrange(100_000)} licence renewal for the team plan"
        elif kind < 0.3:
            text = f"{vendor} invoice {rng.randrange(100_000)} licence renewal for the team plan, billed yearly"
        else:
            words = [WORDS[rng.randrange(len(WORDS))] for _ in range(6 + rng.randrange(20))]
            text = f"{vendor} invoice {rng.randrange(1_000_000)}: " + " ".join(words)
        if kind > 0.97 and rows:  # an exact copy of an earlier row, with case and spacing changed
            rows.append(rows[rng.randrange(len(rows))].replace("invoice", "INVOICE "))
            continue
        if 0.94 < kind <= 0.97 and rows:  # a near copy: the earlier row with one word changed or another label
            old = json.loads(rows[rng.randrange(len(rows))])["messages"]
            words = old[1]["content"].split()
            words[rng.randrange(len(words))] = WORDS[rng.randrange(len(WORDS))]
            answer = old[2]["content"] if rng.random() < 0.5 else LABELS[rng.randrange(len(LABELS))]
            if rng.random() < 0.3:  # the same input exactly, with another answer: a contradiction, not a copy
                words, answer = old[1]["content"].split(), LABELS[(LABELS.index(old[2]["content"]) + 1) % 4] \
                    if old[2]["content"] in LABELS else "travel"
            rows.append(_chat(" ".join(words), answer))
            continue
        if 0.92 < kind <= 0.94:
            text += rng.choice([" contact jan.devries@example.com", " call (415) 555-0132",
                                " IBAN NL91ABNA0417164300", " card 4111 1111 1111 1111"])
        if 0.91 < kind <= 0.92:
            label = rng.choice(["sofware", "travle", "misc", "hardwre"])
        if 0.905 < kind <= 0.91:
            label = f"other {i}"  # a label used once
        rows.append(_chat(text, label))
        if i % 500 == 250:
            rows.append('{"messages": [{"role": "user"')  # an invalid row
    return rows


def json_rows(n: int = 300, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answer = {"vendor": VENDORS["software"][rng.randrange(4)], "amount": rng.randrange(10_000)}
        kind = rng.random()
        if kind < 0.03:
            answer.pop("amount")
        elif kind < 0.05:
            answer["note"] = f"n{i}"
        text = json.dumps(answer) if kind > 0.02 or kind < 0.01 else "not json at all"
        words = " ".join(WORDS[rng.randrange(len(WORDS))] for _ in range(8))
        rows.append(_chat(f"invoice {i}: {words}", text))
    return rows


def eval_rows(train: list[str], n: int = 120, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = [train[rng.randrange(len(train))] for _ in range(n // 4)]  # leaked copies
    return out + label_rows(n - len(out), seed=seed + 100)


def write(folder: Path) -> dict[str, Path]:
    train = label_rows()
    files = {"train": train, "json": json_rows(), "eval": eval_rows(train)}
    out = {}
    for name, rows in files.items():
        out[name] = folder / f"{name}.jsonl"
        out[name].write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


def answers(folder: Path, streamed: bool = False) -> dict:
    """What the cleaning reports on the generated files: the results to keep identical. `streamed`: the rows are
    read back from disk (row_store.py), as the CLI reads them, instead of held in a list."""
    from tuneforge.data.clean import CleanOptions, run_cleaning
    from tuneforge.data.findings import input_text
    from tuneforge.data.formats import dataset_hash, inspect_file
    from tuneforge.data.row_store import inspect_file_rows
    from tuneforge.data.similarity import similar_pairs
    from tuneforge.data.validate import check_loaded

    read = inspect_file_rows if streamed else inspect_file
    files = write(folder)
    evals = inspect_file(files["eval"]).examples
    out: dict = {}
    for name in ("train", "json"):
        load = read(files[name])
        out[f"{name}_check"] = {k: v for k, v in check_loaded(load, name).to_dict().items() if k != "file"}
        texts = [input_text(e) for e in load.examples]
        out[f"{name}_pairs"] = [[i, j, round(s, 9)] for i, j, s in similar_pairs(texts, 0.8)]
        for tag, opts, ev in (("default", CleanOptions(), None),
                              ("acting", CleanOptions(pii="redact", drop_contradictions=True), evals),
                              ("pii_drop", CleanOptions(pii="drop", drop_near_duplicates=False), evals)):
            result = run_cleaning(load, ev, opts)
            out[f"{name}_{tag}"] = {"report": result.to_dict(), "kept_lines": [e.line for e in result.kept],
                                    "kept_hash": dataset_hash(result.kept)}
    train_texts = [input_text(e) for e in read(files["train"]).examples]
    out["leak_pairs"] = [[i, j, round(s, 9)] for i, j, s in similar_pairs(train_texts, 0.8,
                                                                           [input_text(e) for e in evals])]
    # Problems name their file: the temporary folder is not part of the answer.
    return json.loads(json.dumps(out, ensure_ascii=False).replace(json.dumps(str(folder))[1:-1], "<folder>"))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = answers(Path(tmp))
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{GOLDEN}: " + ", ".join(f"{k} {len(v) if isinstance(v, list) else ''}" for k, v in result.items()),
          file=sys.stderr)
