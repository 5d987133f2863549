"""Compare systems on the same held-out examples: base zero-shot, base few-shot, and the fine-tuned variant.

The base is evaluated with the variant's adapter disabled, so one copy of the weights serves all three systems.
"""

from __future__ import annotations

import json
import random
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.config import EvalConfig
from tuneforge.data.formats import Example, load_from_options
from tuneforge.data.labels import label_set, normalise_answer
from tuneforge.eval.generate import generate_batch
from tuneforge.eval.metrics import references_are_json, summarise

EVAL_FILE = "eval.json"


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


def few_shot_prompt(example: Example, shots: list[Example]) -> list[dict]:
    """The example's own system prompt, then each shot as a user/assistant exchange, then the question."""
    prompt = example.prompt_messages
    system = [m for m in prompt[:1] if m["role"] == "system"]
    rest = prompt[len(system):]
    demo: list[dict] = []
    for s in shots:
        demo += [{"role": "user", "content": s.user_text}, {"role": "assistant", "content": s.answer}]
    return system + demo + rest


def task_type(refs: list[str]) -> tuple[str, list[str] | None]:
    labels = label_set(refs)
    if labels:
        return "classification", labels
    if references_are_json(refs):
        return "extraction", None
    return "text", None


def run_eval(cfg: EvalConfig, log=print) -> dict:
    from tuneforge.models.variant import load_for_inference

    examples = load_from_options(cfg.data, cfg)
    if cfg.limit:
        examples = examples[: cfg.limit]
    loaded = load_for_inference(cfg.model)
    tok = loaded.tokenizer
    refs = [e.answer for e in examples]
    task, labels = task_type(refs)
    # Labels seen in training count as valid too: the test split may lack a rare class.
    pool_path = cfg.train_data or (loaded.run or {}).get("data", {}).get("path")
    pool = load_from_options(pool_path, cfg) if pool_path else []
    if labels and pool:
        labels = sorted(set(labels) | set(label_set([e.answer for e in pool]) or []))
    ref_len = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in refs)
    max_new = cfg.max_new_tokens or int(ref_len * 1.5) + 8

    systems: list[tuple[str, list[list[dict]], bool]] = []
    if cfg.baselines or not loaded.is_variant:
        systems.append(("base zero-shot", [e.prompt_messages for e in examples], True))
        if cfg.shots and pool:
            shots = choose_shots(pool, cfg.shots, cfg.seed)
            systems.append((f"base few-shot (k={len(shots)})", [few_shot_prompt(e, shots) for e in examples], True))
        elif cfg.shots:
            log("few-shot skipped: no training data to draw examples from (pass --train-data)")
    if loaded.is_variant:
        systems.append(("fine-tuned", [e.prompt_messages for e in examples], False))

    results: dict[str, dict] = {}
    predictions: dict[str, list[str]] = {}
    for name, prompts, is_base in systems:
        log(f"evaluating {name} on {len(prompts)} examples ...")
        ctx = loaded.model.disable_adapter() if (is_base and loaded.is_variant) else nullcontext()
        with ctx:
            gens = generate_batch(loaded.model, tok, prompts, max_new, cfg.batch_size)
        preds = [g.text for g in gens]
        summary = summarise(preds, refs, labels, [g.latency_s for g in gens])
        summary["mean_tokens_in"] = sum(g.tokens_in for g in gens) / len(gens)
        summary["mean_tokens_out"] = sum(g.tokens_out for g in gens) / len(gens)
        results[name] = summary
        predictions[name] = preds

    report = {
        "format": "tuneforge.eval/1",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": str(cfg.model),
        "base": (loaded.run or {}).get("base", {}).get("name", str(cfg.model)),
        "data": str(Path(cfg.data).resolve()),
        "task": task,
        "labels": labels,
        "max_new_tokens": max_new,
        "config": cfg.model_dump(),
        "systems": results,
        "examples": [
            {
                "line": e.line,
                "input": e.user_text,
                "reference": e.answer,
                "predictions": {name: predictions[name][i] for name in predictions},
            }
            for i, e in enumerate(examples)
        ],
    }
    out = Path(cfg.out) if cfg.out else (Path(cfg.model) / EVAL_FILE if loaded.is_variant else Path(EVAL_FILE))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report["path"] = str(out)
    return report
