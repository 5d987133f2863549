"""How the trainer benchmarks score a trained adapter: its task metrics by `tuneforge eval`, and its answer-token loss
on held-out rows. train_throughput.py and trl_parity.py score both trainers' adapters with these, so the two sides
are always measured by the same code."""

from __future__ import annotations

from pathlib import Path


def score(model: Path, train_file: Path, test_file: Path, limit: int | None) -> dict:
    """The adapter's headline metrics on the test rows, by `tuneforge eval` (no baselines)."""
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval

    cfg = EvalConfig(model=str(model), eval_data=str(test_file), train_data=str(train_file), limit=limit,
                     baselines=False, classical=False, constrained=False, out=str(model / "eval.json"), html="none")
    report = run_eval(cfg, log=lambda *_: None)
    system = next(s for s in report["systems"].values())
    return {"task": report["task"], "n": system["n"], "metrics": system["metrics"]}


def held_out_loss(base: str, adapter: str, limit: int | None, held_out: Path) -> float:
    """Answer-token loss on the `held_out` file, by the same code for every adapter (fp32, no dropout): a tuneforge
    run folder or a plain PEFT adapter folder (TRL's output)."""
    import torch
    from peft import PeftModel

    from tuneforge.data.formats import load_examples
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.models.variant import load_for_inference
    from tuneforge.run_record import is_run_dir
    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss
    from tuneforge.train.objective import encode_all

    path = resolve_base(base).path
    tok = load_tokenizer(path)
    examples, _ = load_examples(held_out)
    enc = encode_all(tok, examples[:limit], 1024)
    # A tuneforge run folder loads as predict loads it (an adapter, or a full fine-tune's whole weights); TRL's
    # output folder is a plain PEFT adapter.
    model = (load_for_inference(adapter).model if is_run_dir(adapter)
             else PeftModel.from_pretrained(load_model(path), adapter))
    module = AnswerLoss(model).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(enc), 16):
            loss_sum, n = module(collate(enc[s : s + 16], tok.pad_token_id))
            total, count = total + float(loss_sum), count + int(n)
    return total / count
