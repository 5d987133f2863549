"""Answer-only language-model loss as an nn.Module, so DDP/FSDP wrap the module that really runs forward.

The vocabulary projection runs on answer positions only (prompts are most tokens, and SmolLM2-135M spends 28M of
its 135M parameters in the output layer), and in chunks of positions whose logits are recomputed in backward, so
a [tokens, vocab] logits tensor never exists for more than one chunk at a time. The module returns the *sum* of
token losses and the token count; the loop divides by the tokens of the whole optimizer step across every
micro-batch and process, which makes grad accumulation and DDP equal to one big batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from tuneforge.chat_encoding import IGNORE_INDEX
from tuneforge.models.transformers_api import cache_of, with_cache

# Imported only from inside train() (never at CLI start), so torch at module level costs nothing there.


def _causal_lm(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def chunked_cross_entropy_sum(hidden, head, targets, chunk_size: int, hits: list | None = None):
    """sum(CE(head(hidden), targets)) computed `chunk_size` rows at a time (0 = one chunk). With `hits` (a list),
    each chunk also appends how many targets the head ranks first (token accuracy, from the same logits)."""
    def piece(h, t):
        logits = head(h).float()
        return F.cross_entropy(logits, t, reduction="sum"), (logits.detach().argmax(-1) == t).sum()

    n = hidden.shape[0]
    if chunk_size <= 0 or n <= chunk_size:
        total, right = piece(hidden, targets)
        if hits is not None:
            hits.append(right)
        return total
    total = hidden.new_zeros((), dtype=torch.float32)
    for s in range(0, n, chunk_size):
        h, t = hidden[s : s + chunk_size], targets[s : s + chunk_size]
        # Without checkpointing autograd would keep every chunk's logits for backward, defeating the chunking.
        # (The recomputation in backward returns to autograd only, so each chunk's hits are counted once.)
        loss, right = checkpoint(piece, h, t, use_reentrant=False) if torch.is_grad_enabled() else piece(h, t)
        total = total + loss
        if hits is not None:
            hits.append(right)
    return total


def _hidden_after_shared_prefix(decoder, batch: dict):
    """Run the shared prefix once, then every example's remainder on top of its (differentiable) KV cache.

    Gradients reach the prefix through the cached keys and values, so loss and gradients equal the plain path
    while the prefix's tokens are computed once per batch instead of once per example.
    """
    prefix, rest = batch["prefix_ids"], batch["input_ids"]
    rows, n = rest.shape[0], prefix.shape[1]
    cache = cache_of(decoder(input_ids=prefix, use_cache=True))
    cache.batch_repeat_interleave(rows)
    mask = torch.cat([batch["attention_mask"].new_ones(rows, n), batch["attention_mask"]], dim=1)
    positions = torch.arange(n, n + rest.shape[1], device=rest.device).expand(rows, -1)
    return decoder(
        input_ids=rest, attention_mask=mask, position_ids=positions, use_cache=True, **with_cache(cache)
    ).last_hidden_state


def answer_token_losses(model, batch: dict, chunk_size: int = 0, reduce: str = "sum", hits: list | None = None):
    """Answer-token cross-entropy of `model` on a padded or packed batch: (sum or per-row sums, token count).
    `hits`: see chunked_cross_entropy_sum (sum reduction only)."""
    causal_lm = _causal_lm(model)
    if "prefix_ids" in batch:
        hidden = _hidden_after_shared_prefix(causal_lm.get_decoder(), batch)
    else:
        hidden = causal_lm.get_decoder()(
            input_ids=batch["input_ids"],
            attention_mask=batch.get("attention_mask"),
            position_ids=batch.get("position_ids"),
            # A KV cache (the default in eval mode) turns off transformers' packed-sequence masking: packed rows
            # would then attend across examples.
            use_cache=False,
        ).last_hidden_state
    labels = batch["labels"][:, 1:]
    selected = labels != IGNORE_INDEX
    head = causal_lm.get_output_embeddings()
    count = selected.sum()
    if reduce == "sum":
        return chunked_cross_entropy_sum(hidden[:, :-1][selected], head, labels[selected], chunk_size, hits), count
    # Per-row log-likelihoods (DPO): the answers are short, so one projection of the selected rows is fine.
    logp = -F.cross_entropy(head(hidden[:, :-1][selected]).float(), labels[selected], reduction="none")
    rows = selected.nonzero()[:, 0]
    per_row = logp.new_zeros(labels.shape[0]).index_add(0, rows, logp)
    return per_row, count


class AnswerLoss(torch.nn.Module):
    """SFT objective: forward(batch) -> (sum of answer-token losses, answer tokens). In training mode it also
    counts answer tokens predicted right, for `take_token_accuracy` (OpenAI's train_mean_token_accuracy)."""

    def __init__(self, model, chunk_size: int = 0):
        super().__init__()
        self.model = model
        self.chunk_size = chunk_size
        self._right, self._tokens = 0, 0

    def forward(self, batch: dict):
        hits = [] if self.training else None
        loss, count = answer_token_losses(self.model, batch, self.chunk_size, hits=hits)
        if hits:
            self._right, self._tokens = self._right + sum(hits), self._tokens + count
        return loss, count

    def take_token_accuracy(self) -> dict:
        """{"token_accuracy": share of answer tokens ranked first} since the last call (this process's batches)."""
        if not self._tokens:
            return {}
        accuracy = float(self._right) / float(self._tokens)
        self._right, self._tokens = 0, 0
        return {"token_accuracy": round(accuracy, 5)}
