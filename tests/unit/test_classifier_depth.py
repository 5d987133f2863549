"""A classification variant that keeps only the bottom layers of its base (`classifier_depth`): what training
measured is what predict, eval, the server and export load."""

from __future__ import annotations

import json

import pytest
from conftest import _LINES, chat_row, write_jsonl

from tuneforge.config import TrainConfig
from tuneforge.train.sft import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shallow_run(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("shallow")
    data = write_jsonl(d / "labels.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts] * 2)
    cfg = TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(d / "run"), epochs=3, lr=5e-3,
                      eval_split=0.2, progress=False, report_to="none", classifier_depth=1, classifier_layers=1)
    return train(cfg, log=lambda *_: None), data, cfg


def test_the_loaded_variant_is_the_trained_one(shallow_run):
    """The held-out loss of the loaded variant equals the one training recorded for the weights it kept: a loader
    that put the shallow adapter and head on the full-depth base would read other states and miss it."""
    import torch

    from tuneforge.data.formats import load_examples
    from tuneforge.data.labels import normalise_answer
    from tuneforge.data.split import split_examples
    from tuneforge.models.classifier import classifier_input, head_of, load_classifier

    run_dir, data, cfg = shallow_run
    run = json.loads((run_dir / "run.json").read_text())
    assert run["depth"] == 1
    clf = load_classifier(run_dir)
    assert len(head_of(clf.model).model.layers) == 1
    _, held = split_examples(load_examples(str(data))[0], cfg.eval_split, cfg.seed)
    index = {normalise_answer(label): i for i, label in enumerate(clf.labels)}
    logits = clf.logits([classifier_input(e.prompt_messages) for e in held])
    y = torch.tensor([index[normalise_answer(e.answer)] for e in held])
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    assert loss == pytest.approx(run["metrics"]["best_eval_loss"], abs=1e-4)


def test_merged_export_keeps_the_depth(shallow_run, tmp_path):
    from tuneforge.export.classifier_export import export_classifier

    run_dir, _, _ = shallow_run
    run = json.loads((run_dir / "run.json").read_text())
    out, parity = export_classifier(run_dir, run, tmp_path / "merged", "merged", parity_samples=4)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    assert parity is not None and parity.passed
    card = (out / "README.md").read_text()  # the card names the depth the export keeps
    assert f"| classifier_depth | {run['config']['classifier_depth']} |" in card
    assert "| classifier_freeze_embeddings |" not in card  # an encoder's setting


def test_a_depth_beyond_the_base_keeps_every_layer_and_adds_none(tiny_model_dir):
    from tuneforge.models.classifier import load_head_model

    assert len(load_head_model(tiny_model_dir, 3, 0, depth=8).model.layers) == 2  # the tiny base has 2
    assert len(load_head_model(tiny_model_dir, 3, 0, depth=1).model.layers) == 1


def test_probe_initialised_head_predicts_as_the_probe_did(tiny_model_dir):
    """The head starts as the logistic regression fitted on the pooled states: its argmax on the training texts is
    the probe's, and it survives PEFT's copy of the head into modules_to_save."""
    import torch

    from tuneforge.models.classifier import load_head_model
    from tuneforge.models.load import load_tokenizer
    from tuneforge.train.classification import TopLayers, _trainable, probe_init

    tok = load_tokenizer(tiny_model_dir)
    texts = [t for ts in _LINES.values() for t in ts]
    y = [i for i, ts in enumerate(_LINES.values()) for _ in ts]
    torch.manual_seed(0)
    clf = load_head_model(tiny_model_dir, 3, tok.pad_token_id)
    top = TopLayers(clf, 1, "mean")
    feats = top.features(tok, texts)
    from sklearn.linear_model import LogisticRegression

    with torch.no_grad():
        x = top.pooled(feats).numpy()
        random_head = (top.logits(feats).argmax(-1) == torch.tensor(y)).float().mean().item()
    scaled = x / (x.std(0) + 1e-6)
    oracle = LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000).fit(scaled, y).decision_function(scaled)
    fit = probe_init(top, feats, y, 3)
    with torch.no_grad():
        logits = top.logits(feats)
    assert torch.allclose(logits, torch.tensor(oracle, dtype=logits.dtype), atol=1e-3)  # the probe, as a head
    probed = (logits.argmax(-1) == torch.tensor(y)).float().mean().item()
    assert probed == pytest.approx(fit) and probed > random_head
    _trainable(clf, TrainConfig(data="x", lora_r=4), 1)
    with torch.no_grad():
        assert (top.logits(feats).argmax(-1) == torch.tensor(y)).float().mean().item() == pytest.approx(fit)
