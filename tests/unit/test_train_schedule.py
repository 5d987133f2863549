"""The training loop's arithmetic, each against a value worked out independently: the learning-rate schedule with
warm-up (and its length under --max-steps), gradient accumulation equal to the larger batch, the loss as a mean
over answer tokens, and the data order per epoch and seed (early stopping: test_train_methods.py)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import tiny_lora_config

from tuneforge.config import TrainConfig
from tuneforge.train.sft import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _step_records(out) -> list[dict]:
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if "loss" in r and "epoch_end" not in r]


@pytest.mark.parametrize("schedule, expected", [
    # 8 steps, warm-up 0.25 of them (2): rates before each optimizer step, as multiples of lr.
    ("linear", [0, 0.5, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]),
    ("cosine", [0, 0.5] + [0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)]),
    ("constant", [0, 0.5, 1, 1, 1, 1, 1, 1]),
])
def test_the_schedule_warms_up_then_follows_its_shape(schedule, expected):
    import torch

    from tuneforge.train.lr_schedule import make_scheduler

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make_scheduler(opt, TrainConfig(data="x", warmup_ratio=0.25, schedule=schedule), 8)
    rates = []
    for _ in range(8):
        rates.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert rates == pytest.approx(expected, abs=1e-9)


def test_max_steps_sets_the_schedule_length(label_data, tiny_model_dir, tmp_path):
    """--max-steps 4 of a nominal 10-epoch run: warm-up and decay span those 4 steps, ending at 0."""
    out = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / "run", epochs=10, max_steps=4,
                                 warmup_ratio=0.5, schedule="linear", lr=1e-2), log=lambda *_: None)
    steps = _step_records(out)
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert [r["lr"] for r in steps] == pytest.approx([5e-3, 1e-2, 5e-3, 0.0], abs=1e-9)  # after each step


def test_gradient_accumulation_equals_the_larger_batch(label_data, tiny_model_dir, tmp_path):
    """Two micro-batches of 2 accumulated are one step of 4: the same steps, losses and weights."""
    import torch
    from safetensors.torch import load_file

    common = dict(epochs=2, lora_dropout=0.0, share_prefix=False, eval_split=0.0)
    runs = {}
    for name, batch, accum in (("accum", 2, 2), ("whole", 4, 1)):
        out = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / name, batch_size=batch,
                                     grad_accum=accum, **common), log=lambda *_: None)
        runs[name] = (out, json.loads((out / "run.json").read_text())["metrics"])
    (a_out, a), (w_out, w) = runs["accum"], runs["whole"]
    assert a["steps"] == w["steps"] == 8  # 15 rows, 4 a step: 4 steps an epoch
    assert [r["loss"] for r in _step_records(a_out)] == pytest.approx([r["loss"] for r in _step_records(w_out)],
                                                                      rel=1e-4)
    got, want = load_file(a_out / "adapter_model.safetensors"), load_file(w_out / "adapter_model.safetensors")
    assert got.keys() == want.keys()
    assert all(torch.allclose(got[k], want[k], rtol=1e-3, atol=1e-6) for k in got)


def test_the_loss_is_the_mean_over_answer_tokens(label_data, tiny_model_dir, tmp_path):
    """One step over every row, from the untrained adapter (LoRA's B starts at zero, so the model is the base):
    its loss is the base model's cross-entropy summed over all answer tokens and divided by their number, not a
    mean of per-row means."""
    from conftest import answer_logprob
    from tuneforge.models.load import load_model, load_tokenizer

    out = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / "run", eval_split=0.0, batch_size=64,
                                 max_steps=1, share_prefix=False), log=lambda *_: None)
    run = json.loads((out / "run.json").read_text())
    tok, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir).eval()
    rows = [answer_logprob(model, tok, json.loads(line)["messages"]) for line in label_data.read_text().splitlines()]
    total, count = -sum(lp for lp, _ in rows), sum(n for _, n in rows)
    row_means = [-lp / n for lp, n in rows]
    assert run["answer_tokens"] == count
    assert run["metrics"]["first_loss"] == pytest.approx(total / count, rel=1e-4)
    assert abs(total / count - sum(row_means) / len(row_means)) > 1e-3  # the two means differ on this data


def test_each_epoch_and_each_seed_has_its_own_order():
    from tuneforge.train.batching import plan_epoch

    def order(seed, epoch):
        plan = plan_epoch([5] * 40, 4, 1, 1, seed, epoch)
        return [i for step in plan for rank in step for batch in rank for i in batch]

    assert sorted(order(0, 1)) == list(range(40))
    assert order(0, 1) == order(0, 1)  # reproducible
    assert order(0, 1) != order(0, 2) and order(0, 1) != order(1, 1)
