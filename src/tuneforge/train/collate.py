"""Batches of encoded examples: right padding, padded positions masked out of attention and loss."""

from __future__ import annotations

from tuneforge.train.encode import IGNORE_INDEX, Encoded


def collate(batch: list[Encoded], pad_id: int) -> dict:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def answer_loss(logits, labels):
    """Mean cross-entropy over answer tokens, predicting token t+1 from position t (from full logits)."""
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    return F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


def answer_only_loss(model, batch: dict):
    """The same loss as `answer_loss`, but the vocabulary projection runs on answer positions only.

    Prompts are most of the tokens and a small model spends a large share of its compute in the output layer
    (SmolLM2-135M: 28M of 135M parameters), so skipping the logits nobody trains on is ~1.5x faster on CPU and
    never materialises a [batch, seq, vocab] tensor.
    """
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.get_decoder()(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    selected = labels != IGNORE_INDEX
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][selected])
    return F.cross_entropy(logits.float(), labels[selected])
