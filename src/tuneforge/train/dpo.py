"""Direct Preference Optimization, written out: the loss of Rafailov et al. (2023) on our answer-only log-probs.

loss = -log sigmoid(beta * ((log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))))

The reference model is the same network with the adapter switched off (peft's disable_adapter), evaluated under
no_grad, so DPO needs no second copy of the weights in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneforge.chat_encoding import Encoded, encode_conversation
from tuneforge.errors import UserError
from tuneforge.train.objective import Objective, batch_layout


@dataclass
class EncodedPair:
    chosen: Encoded
    rejected: Encoded

    @property
    def truncated(self) -> bool:
        return self.chosen.truncated or self.rejected.truncated


def encode_pair(tokenizer, pair, max_len: int) -> EncodedPair:
    return EncodedPair(
        encode_conversation(tokenizer, pair.messages, max_len),
        encode_conversation(tokenizer, pair.rejected_messages, max_len),
    )


def collate_pairs(batch: list[EncodedPair], layout) -> dict:
    """One batch of `layout` (train/objective.py batch_layout): chosen answers in the first half of the rows,
    rejected in the second. A pair's two rows share their whole prompt, so the shared-prefix layout runs the prompt
    start common to the batch (the system prompt, usually) once for all 2 x pairs rows."""
    return layout([p.chosen for p in batch] + [p.rejected for p in batch])


def make_dpo_loss(model, beta: float):
    import torch
    import torch.nn.functional as F

    from tuneforge.train.loss import answer_token_losses

    class DPOLoss(torch.nn.Module):
        """forward(batch) -> (sum of pair losses, pairs); last_correct counts pairs the policy ranks right."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.beta = beta
            self.last_correct, self.last_pairs = 0, 0

        def forward(self, batch: dict):
            policy, _ = answer_token_losses(self.model, batch, reduce="rows")
            with torch.no_grad(), self.model.disable_adapter():
                reference, _ = answer_token_losses(self.model, batch, reduce="rows")
            n = policy.shape[0] // 2
            margin = self.beta * ((policy[:n] - reference[:n]) - (policy[n:] - reference[n:]))
            self.last_correct, self.last_pairs = int((margin > 0).sum()), n
            return -F.logsigmoid(margin).sum(), torch.tensor(n)

    return DPOLoss(model)


def dpo_objective(cfg, tokenizer, train_pairs, eval_pairs) -> Objective:
    train_enc = [encode_pair(tokenizer, p, cfg.max_seq_len) for p in train_pairs]
    eval_enc = [encode_pair(tokenizer, p, cfg.max_seq_len) for p in eval_pairs]
    empty = [
        p.line for p, e in zip(train_pairs, train_enc)
        if e.chosen.n_answer_tokens == 0 or e.rejected.n_answer_tokens == 0
    ]
    if empty:
        raise UserError(f"{cfg.data}: lines {empty[:10]} have no answer tokens left (max_seq_len too small?)")
    if cfg.packing:
        raise UserError("packing is not supported with objective 'dpo' (pairs are compared row by row)")
    layout = batch_layout(cfg, tokenizer.pad_token_id)
    return Objective(
        name="dpo",
        train=train_enc,
        eval=eval_enc,
        length=lambda p: len(p.chosen.input_ids) + len(p.rejected.input_ids),
        weight=lambda p: 1,
        collate=lambda b: collate_pairs(b, layout),
        make_loss=lambda model: make_dpo_loss(model, cfg.dpo_beta),
        answer_tokens=lambda p: p.chosen.n_answer_tokens + p.rejected.n_answer_tokens,
        rows=lambda p: [p.chosen, p.rejected],
        unit="pairs",
        # Share of the last micro-batch's pairs where the policy prefers the chosen answer more than the reference.
        step_metrics=lambda loss: {"reward_accuracy": loss.last_correct / max(loss.last_pairs, 1)},
        truncated=sum(e.truncated for e in train_enc + eval_enc),
    )
