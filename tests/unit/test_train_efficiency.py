"""Each efficiency switch leaves the loss where the plain path has it: packing, chunked loss, gradient
checkpointing and bf16 autocast at the loss level (values and gradients), and as whole training curves."""

from __future__ import annotations

import json

import pytest

from tuneforge.config import TrainConfig
from tuneforge.train.sft import train


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _encoded(tiny_model_dir, label_data):
    from tuneforge.data.formats import load_examples
    from tuneforge.models.load import load_tokenizer
    from tuneforge.train.objective import encode_all

    tok = load_tokenizer(tiny_model_dir)
    examples, _ = load_examples(label_data)
    return tok, encode_all(tok, examples, 512)


def _lora_model(tiny_model_dir, **kw):
    import torch

    from tuneforge.models.load import load_model
    from tuneforge.train.methods import make_trainable

    torch.manual_seed(0)
    cfg = TrainConfig(data="x", lora_r=4, lora_dropout=0.0, **kw)
    model = make_trainable(load_model(tiny_model_dir), cfg)
    # Move B off zero so the adapter contributes and its gradients are not trivially equal.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    return model


def _loss_and_grads(loss_module, batch):
    loss_module.zero_grad()
    loss_sum, count = loss_module(batch)
    (loss_sum / count).backward()
    grads = {n: p.grad.clone() for n, p in loss_module.named_parameters() if p.grad is not None}
    return float(loss_sum), int(count), grads


def _assert_same(a, b, rtol=1e-5, atol=1e-6):
    import torch

    assert a[1] == b[1]
    assert a[0] == pytest.approx(b[0], rel=rtol)
    assert a[2].keys() == b[2].keys() and a[2]
    for name in a[2]:
        assert torch.allclose(a[2][name], b[2][name], rtol=rtol * 100, atol=atol), name


def test_packed_batch_has_the_loss_and_gradients_of_the_padded_one(tiny_model_dir, label_data):
    from tuneforge.train.collate import collate, collate_packed
    from tuneforge.train.loss import AnswerLoss

    tok, enc = _encoded(tiny_model_dir, label_data)
    batch = enc[:6]
    assert len({len(e.input_ids) for e in batch}) > 1  # different lengths, so padding really happens
    module = AnswerLoss(_lora_model(tiny_model_dir))
    padded = _loss_and_grads(module, collate(batch, tok.pad_token_id))
    packed_batch = collate_packed(batch)
    assert packed_batch["input_ids"].shape == (1, sum(len(e.input_ids) for e in batch))  # no padding at all
    _assert_same(_loss_and_grads(module, packed_batch), padded)


def test_packing_does_not_leak_attention_across_examples(tiny_model_dir, label_data):
    """The second example's loss is the same whether or not another example precedes it in the row."""
    from tuneforge.train.collate import collate_packed
    from tuneforge.train.loss import AnswerLoss

    _, enc = _encoded(tiny_model_dir, label_data)
    module = AnswerLoss(_lora_model(tiny_model_dir))
    alone = module(collate_packed([enc[1]]))
    first = module(collate_packed([enc[0]]))
    together = module(collate_packed([enc[0], enc[1]]))
    assert float(together[0]) == pytest.approx(float(first[0]) + float(alone[0]), rel=1e-5)


def test_shared_prefix_batch_has_the_loss_and_gradients_of_the_padded_one(tiny_model_dir, label_data):
    from tuneforge.train.collate import collate, collate_shared_prefix
    from tuneforge.train.loss import AnswerLoss

    tok, enc = _encoded(tiny_model_dir, label_data)
    batch = enc[:6]
    module = AnswerLoss(_lora_model(tiny_model_dir))
    padded = _loss_and_grads(module, collate(batch, tok.pad_token_id))
    shared = collate_shared_prefix(batch, tok.pad_token_id)
    assert shared["prefix_ids"].shape[1] >= 16  # the system prompt is computed once for the batch
    assert shared["input_ids"].shape[1] + shared["prefix_ids"].shape[1] == max(len(e.input_ids) for e in batch)
    _assert_same(_loss_and_grads(module, shared), padded)
    module.eval()  # evaluation runs the same path without gradients
    assert float(module(shared)[0]) == pytest.approx(padded[0], rel=1e-5)


def test_chunked_loss_matches_one_projection(tiny_model_dir, label_data):
    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss

    tok, enc = _encoded(tiny_model_dir, label_data)
    model = _lora_model(tiny_model_dir)
    batch = collate(enc[:8], tok.pad_token_id)
    whole = _loss_and_grads(AnswerLoss(model, chunk_size=0), batch)
    assert whole[1] > 3  # several chunks of 3 positions
    _assert_same(_loss_and_grads(AnswerLoss(model, chunk_size=3), batch), whole)


def test_gradient_checkpointing_keeps_loss_and_gradients(tiny_model_dir, label_data):
    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss
    from tuneforge.train.methods import enable_gradient_checkpointing

    tok, enc = _encoded(tiny_model_dir, label_data)
    batch = collate(enc[:8], tok.pad_token_id)
    plain = _loss_and_grads(AnswerLoss(_lora_model(tiny_model_dir)), batch)
    model = _lora_model(tiny_model_dir)
    enable_gradient_checkpointing(model)
    model.train()
    _assert_same(_loss_and_grads(AnswerLoss(model), batch), plain)


def test_bf16_autocast_is_on_and_keeps_loss_and_gradients_close_to_fp32(tiny_model_dir, label_data):
    """bf16 autocast really runs the matmuls in bf16 (so the numbers differ a little from fp32), the weights and
    their gradients stay fp32, and loss and gradients stay close to the fp32 ones."""
    import torch

    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss
    from tuneforge.train.precision import autocast

    with autocast(torch.device("cpu"), "bf16"):
        assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.bfloat16
    tok, enc = _encoded(tiny_model_dir, label_data)
    batch = collate(enc[:8], tok.pad_token_id)
    module = AnswerLoss(_lora_model(tiny_model_dir))
    fp32 = _loss_and_grads(module, batch)
    with autocast(torch.device("cpu"), "bf16"):
        bf16 = _loss_and_grads(module, batch)
    assert bf16[0] != fp32[0]  # bf16 rounding shows: autocast was on
    assert bf16[0] == pytest.approx(fp32[0], rel=2e-2)
    assert all(g.dtype == torch.float32 for g in bf16[2].values())
    for name in fp32[2]:
        cos = torch.nn.functional.cosine_similarity(bf16[2][name].flatten(), fp32[2][name].flatten(), dim=0)
        assert cos > 0.95, name


def test_length_grouping_reorders_without_changing_the_epoch_loss(tiny_model_dir, tmp_path):
    """Grouping visits every example once per epoch, pads less, and at fixed weights sums to the same loss."""
    import random

    import torch
    from conftest import chat_row, write_jsonl

    from tuneforge.train.batching import plan_epoch
    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss

    # Lengths that differ a lot, in random order: what grouping is for.
    sizes = list(range(1, 33))
    random.Random(0).shuffle(sizes)
    varied = write_jsonl(tmp_path / "varied.jsonl", [chat_row(" ".join(["word"] * n), "x") for n in sizes])
    tok, enc = _encoded(tiny_model_dir, varied)
    lengths = [len(e.input_ids) for e in enc]
    module = AnswerLoss(_lora_model(tiny_model_dir))

    def epoch(grouped):
        plan = plan_epoch(lengths, 4, 1, 1, seed=3, epoch=1, group_by_length=grouped)
        micro = [m for step in plan for m in step[0]]
        seen = sorted(i for m in micro for i in m)
        padded = sum(len(m) * max(lengths[i] for i in m) for m in micro)
        with torch.no_grad():
            total = sum(float(module(collate([enc[i] for i in m], tok.pad_token_id))[0]) for m in micro)
        return seen, padded, total

    plain_seen, plain_padded, plain_total = epoch(False)
    seen, padded, total = epoch(True)
    assert seen == plain_seen == list(range(len(enc)))
    assert padded < 0.8 * plain_padded  # grouping must actually group: at least 20% less padding on this data
    assert total == pytest.approx(plain_total, rel=1e-5)


def _curve(out):
    return [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


@pytest.mark.parametrize(
    "switch",
    [{"packing": True}, {"share_prefix": True}, {"loss_chunk_size": 2}, {"gradient_checkpointing": True}],
    ids=str,
)
def test_training_curve_is_unchanged_by_the_switch(switch, label_data, tiny_model_dir, tmp_path):
    args = dict(data=str(label_data), base=str(tiny_model_dir), variant_type="generative", epochs=2, batch_size=4, lr=5e-3, lora_r=4,
                lora_dropout=0.0, eval_split=0.2, progress=False, precision="fp32", report_to="none")
    plain = train(TrainConfig(out=str(tmp_path / "plain"), share_prefix=False, **args), log=lambda *_: None)
    switched = train(TrainConfig(out=str(tmp_path / "on"), **{"share_prefix": False, **args, **switch}),
                     log=lambda *_: None)
    assert _curve(switched) == pytest.approx(_curve(plain), rel=1e-4)
    assert len(_curve(plain)) == 6


def test_dpo_runs_the_shared_prompt_once_with_the_same_curve(label_data, tiny_model_dir, tmp_path):
    """A DPO batch's chosen and rejected rows all start with the system prompt: the shared-prefix layout runs it
    once for the batch's 2 x pairs rows, and the losses and reward accuracies stay the plain layout's."""
    from tuneforge.data.formats import load_examples
    from conftest import write_jsonl

    examples, _ = load_examples(label_data)
    labels = sorted({e.answer for e in examples})
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": e.prompt_messages, "chosen": e.answer, "rejected": labels[(labels.index(e.answer) + 1) % len(labels)]}
        for e in examples])
    args = dict(data=str(pairs), base=str(tiny_model_dir), objective="dpo", epochs=2, batch_size=4, lr=5e-3,
                lora_r=4, lora_dropout=0.0, eval_split=0.2, progress=False, precision="fp32", report_to="none")
    plain = train(TrainConfig(out=str(tmp_path / "plain"), share_prefix=False, **args), log=lambda *_: None)
    shared = train(TrainConfig(out=str(tmp_path / "shared"), share_prefix=True, **args), log=lambda *_: None)

    def records(out):
        return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]

    assert [r["loss"] for r in records(shared)] == pytest.approx([r["loss"] for r in records(plain)], rel=1e-4)
    assert [r["reward_accuracy"] for r in records(shared)] == [r["reward_accuracy"] for r in records(plain)]
    run = {name: json.loads((out / "run.json").read_text()) for name, out in (("plain", plain), ("shared", shared))}
    assert run["shared"]["trained_tokens"] == run["plain"]["trained_tokens"] == run["plain"]["computed_tokens"]
    assert run["shared"]["computed_tokens"] < 0.8 * run["shared"]["trained_tokens"]
