"""Build the planted-problems demo from the clean invoice-categories data (deterministic; rerun to regenerate).

    python examples/invoice-categories-dirty/make_dirty.py

train.jsonl = the clean training lines with these problems planted (README.md lists them with line numbers):
two exact duplicates (one differs only in case and spacing), one near duplicate, one contradiction, one training
line copied from the eval data (leakage), one phone number, one malformed JSON line and one mislabelled row.
eval.jsonl = the clean test lines. Clean line 53 is left out: it already holds a phone number, and this demo
plants exactly one.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLEAN = HERE.parent / "invoice-categories"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _with(row: dict, user: str | None = None, answer: str | None = None) -> dict:
    msgs = [dict(m) for m in row["messages"]]
    if user is not None:
        msgs[1]["content"] = user
    if answer is not None:
        msgs[2]["content"] = answer
    return {"messages": msgs}


def _user(row: dict) -> str:
    return row["messages"][1]["content"]


def build() -> tuple[list[str], list[str]]:
    train = _rows(CLEAN / "train.jsonl")
    test = _rows(CLEAN / "test.jsonl")
    by_user = {_user(r): r for r in train}
    base = [r for i, r in enumerate(train, start=1) if i != 53]

    figma = by_user["Figma Professional, 4 editors, billed yearly"]
    paper = by_user["Bol.com bestelling: A4 printpapier 2500 vel"]
    kpn = by_user["KPN EEN MKB mobiel + vast"]
    macbook = by_user["Apple MacBook Pro 14 M3 Pro 18GB"]
    planted = {
        # position in the output -> the planted line
        40: json.dumps(figma, ensure_ascii=False),  # exact duplicate
        90: json.dumps(_with(paper, user="  bol.com BESTELLING: a4 printpapier 2500 vel "), ensure_ascii=False),
        130: json.dumps(_with(figma, user="Figma Professional, 4 editors, billed yearly (renewal)"),
                        ensure_ascii=False),  # near duplicate, same answer
        170: json.dumps(_with(by_user["Dell WD19S USB-C docks x5"], answer="office_supplies"),
                        ensure_ascii=False),  # contradiction: same input, other answer
        210: json.dumps(test[5], ensure_ascii=False),  # leakage: an eval line in training
        250: json.dumps(_with(kpn, user="KPN EEN MKB mobiel + vast, nummer 06-48213377"), ensure_ascii=False),
        290: '{"messages": [{"role": "user", "content": "Parking Schiphol P3, 2 days"}, {"role": "assistant"',
    }
    lines = [json.dumps(r if r is not macbook else _with(r, answer="travel"), ensure_ascii=False) for r in base]
    for pos in sorted(planted):
        lines.insert(pos - 1, planted[pos])
    return lines, [json.dumps(r, ensure_ascii=False) for r in test]


def main():
    train, evals = build()
    (HERE / "train.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    (HERE / "eval.jsonl").write_text("\n".join(evals) + "\n", encoding="utf-8")
    print(f"wrote {len(train)} train lines and {len(evals)} eval lines to {HERE}")


if __name__ == "__main__":
    main()
