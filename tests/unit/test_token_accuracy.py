"""Token accuracy (OpenAI's train_mean_token_accuracy) from the training loss's own logits: the share of answer
tokens the model ranks first, counted once per forward pass even when backward recomputes the chunks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_token_accuracy_is_the_share_of_answer_tokens_ranked_first(tiny_model_dir, label_data):
    import torch

    from tuneforge.chat_encoding import IGNORE_INDEX
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import load_examples
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.train.collate import collate
    from tuneforge.train.loss import AnswerLoss
    from tuneforge.train.methods import make_trainable
    from tuneforge.train.objective import encode_all

    tok = load_tokenizer(tiny_model_dir)
    examples, _ = load_examples(label_data)
    batch = collate(encode_all(tok, examples, 512)[:8], tok.pad_token_id)
    torch.manual_seed(0)
    model = make_trainable(load_model(tiny_model_dir), TrainConfig(data="x", lora_r=4, lora_dropout=0.0))
    # A few steps on the batch, so that the model ranks some answer tokens first and not others.
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    for _ in range(15):
        loss, count = AnswerLoss(model)(batch)
        (loss / count).backward()
        optimizer.step()
        optimizer.zero_grad()
    labels = batch["labels"][:, 1:]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    selected = labels != IGNORE_INDEX
    expected = float((logits[selected].argmax(-1) == labels[selected]).float().mean())
    assert 0 < expected < 1  # a random model gets some right and some wrong: the check can tell them apart

    for chunk in (0, 3):  # one projection, and chunks recomputed in backward
        module = AnswerLoss(model, chunk_size=chunk)
        loss, count = module(batch)
        (loss / count).backward()
        assert module.take_token_accuracy()["token_accuracy"] == pytest.approx(expected, abs=1e-5)
        assert module.take_token_accuracy() == {}  # read once
        module.eval()
        module(batch)  # evaluation passes are not training accuracy
        assert module.take_token_accuracy() == {}
