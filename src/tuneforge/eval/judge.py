"""LLM-as-judge: a pairwise preference from any OpenAI-compatible endpoint, in randomised order.

Judges favour whichever answer comes first (or second) more often than chance; shuffling which side each
system is shown on, per example and reproducibly, keeps that bias out of the win rate.
"""

from __future__ import annotations

import random
import re

from tuneforge.eval.endpoint import chat

JUDGE_SYSTEM = (
    "You compare two answers to the same task and say which is better: more correct, complete and faithful "
    "to the task's instructions. Reply with exactly one word: A, B or tie."
)


def judge_prompt(task_input: str, first: str, second: str, reference: str | None) -> list[dict]:
    parts = [f"Task input:\n{task_input}"]
    if reference is not None:
        parts.append(f"Reference answer (for orientation):\n{reference}")
    parts += [f"Answer A:\n{first}", f"Answer B:\n{second}", "Which answer is better? Reply A, B or tie."]
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_verdict(text: str) -> str | None:
    m = re.search(r"\b(A|B|tie)\b", text.strip(), flags=re.IGNORECASE)
    if not m:
        return None
    v = m.group(1)
    return "tie" if v.lower() == "tie" else v.upper()


def judge_pairwise(
    client, model: str, inputs: list[str], candidate: list[str], opponent: list[str],
    reference: list[str] | None = None, seed: int = 0,
) -> dict:
    """Win/loss/tie counts of `candidate` against `opponent` on the same examples."""
    rng = random.Random(seed)
    wins = losses = ties = unparsed = 0
    verdicts = []
    for i, (inp, cand, opp) in enumerate(zip(inputs, candidate, opponent)):
        cand_first = rng.random() < 0.5
        first, second = (cand, opp) if cand_first else (opp, cand)
        ref = reference[i] if reference is not None else None
        reply = chat(client, model, judge_prompt(inp, first, second, ref), max_tokens=8).text
        v = parse_verdict(reply)
        if v is None:
            unparsed += 1
            outcome = "unparsed"
        elif v == "tie":
            ties += 1
            outcome = "tie"
        elif (v == "A") == cand_first:
            wins += 1
            outcome = "win"
        else:
            losses += 1
            outcome = "loss"
        verdicts.append({"candidate_first": cand_first, "verdict": v, "outcome": outcome})
    decided = wins + losses + ties
    return {
        "wins": wins, "losses": losses, "ties": ties, "unparsed": unparsed,
        # A tie counts as half a win, the usual convention in pairwise arenas.
        "win_rate": (wins + 0.5 * ties) / decided if decided else None,
        "verdicts": verdicts,
    }
