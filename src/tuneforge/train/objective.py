"""What the loop optimises, as a small bundle: encoded items, how to batch them, and the loss module.

The loop in sft.py is the same for every objective; only this bundle differs. SFT items are encoded
conversations (loss on answer tokens); DPO items are encoded preference pairs (see dpo.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tuneforge.chat_encoding import Encoded, encode_conversation
from tuneforge.errors import UserError
from tuneforge.train.collate import collate, collate_packed, collate_shared_prefix, trained_positions


@dataclass
class Objective:
    name: str
    train: list
    eval: list
    length: Callable[[object], int]  # tokens of one item, for length grouping and estimates
    weight: Callable[[object], int]  # loss units of one item: the loop divides by their sum over a step
    collate: Callable[[list], dict]
    make_loss: Callable[[object], object]  # model -> nn.Module whose forward(batch) gives (loss sum, units)
    answer_tokens: Callable[[object], int]  # answer positions of one item, where logits are computed (estimate)
    rows: Callable[[object], list] = lambda item: [item]  # the encoded conversations one item trains on
    truncated: int = 0
    unit: str = "answer_tokens"  # what `weight` counts, as run.json names it
    # Extra figures to log at a step, read from the (unwrapped) loss module after its forward passes.
    step_metrics: Callable[[object], dict] = lambda loss_module: {}


def encode_all(tokenizer, examples, max_len: int) -> list[Encoded]:
    return [encode_conversation(tokenizer, ex.messages, max_len) for ex in examples]


def batch_layout(cfg, pad_id: int):
    """How a micro-batch's encoded rows become tensors: packed, shared prompt prefix, or padded (TrainConfig)."""
    if cfg.packing:
        return collate_packed
    if cfg.shares_prefix:
        return lambda b: collate_shared_prefix(b, pad_id)
    return lambda b: collate(b, pad_id)


def sft_objective(cfg, tokenizer, train_examples, eval_examples) -> Objective:
    from tuneforge.train.loss import AnswerLoss

    train_enc = encode_all(tokenizer, train_examples, cfg.max_seq_len)
    eval_enc = encode_all(tokenizer, eval_examples, cfg.max_seq_len)
    empty = [ex.line for ex, e in zip(train_examples, train_enc) if trained_positions(e) == 0]
    if empty:
        raise UserError(f"{cfg.data}: lines {empty[:10]} have no answer tokens left (max_seq_len too small?)")
    pad_id = tokenizer.pad_token_id
    return Objective(
        name="sft",
        train=train_enc,
        eval=eval_enc,
        length=lambda e: len(e.input_ids),
        weight=trained_positions,
        collate=batch_layout(cfg, pad_id),
        make_loss=lambda model: AnswerLoss(model, cfg.loss_chunk_size),
        step_metrics=lambda loss: loss.take_token_accuracy(),
        answer_tokens=lambda e: e.n_answer_tokens,
        truncated=sum(e.truncated for e in train_enc + eval_enc),
    )
