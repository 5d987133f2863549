"""A classification variant on the tiny model, end to end: trains with a head, calibrates (ECE in run.json),
predicts a label, is evaluated as a system and is served with label logprobs to the real openai client."""

from __future__ import annotations

import json

import pytest
from conftest import _LINES, ask_with_logprobs, served_in_process, train_label_variant

from tuneforge.config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LABELS = sorted(_LINES)


@pytest.fixture(scope="module")
def cls_run(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("cls")
    # No variant_type: the labels alone must choose the classification variant.
    run_dir, notes = train_label_variant(d, tiny_model_dir, classifier_layers=1)
    return run_dir, notes, d / "labels.jsonl"


def test_trains_a_head_and_calibrates(cls_run, tiny_model_dir):
    from safetensors.torch import load_file

    run_dir, notes, _ = cls_run
    run = json.loads((run_dir / "run.json").read_text())
    assert run["variant_type"] == "classification" and run["labels"] == LABELS
    cal = run["calibration"]
    assert cal["method"] == "temperature" and cal["examples"] == 6
    assert cal["ece_before"] is not None and cal["ece_after"] is not None and cal["temperature"] > 0
    assert any("variant_type=classification" in n for n in notes)
    assert any("expected calibration error" in n for n in notes)
    adapter = json.loads((run_dir / "adapter_config.json").read_text())
    assert adapter["task_type"] == "SEQ_CLS"
    weights = load_file(str(run_dir / "adapter_model.safetensors"))
    assert any("score" in k for k in weights), "the head must be saved with the adapter"
    # Only the top layer is adapted (classifier_layers=1 of 2).
    assert all(".layers.1." in k for k in weights if "lora_" in k)
    # It learned: training accuracy on its own data is well above chance (1/3).
    assert run["metrics"]["epochs"][-1]["train_loss"] < run["metrics"]["epochs"][0]["train_loss"]


def test_cached_top_layers_equal_the_whole_model(tiny_model_dir):
    """Training runs the top layers on cached states; that must be the very computation inference does."""
    import torch

    from tuneforge.models.classifier import load_head_model, pooled_logits
    from tuneforge.models.load import load_tokenizer
    from tuneforge.train.classification import TopLayers, _trainable

    tok = load_tokenizer(tiny_model_dir)
    texts = ["adobe licence", "train ticket berlin to munich", "dell"]
    for method, pooling in (("lora", "mean"), ("full", "last"), ("lora", "last")):
        torch.manual_seed(0)
        clf = load_head_model(tiny_model_dir, 3, tok.pad_token_id)
        model = _trainable(clf, TrainConfig(data="x", method=method, lora_r=4), 1)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.5)  # a trained-looking adapter, so LoRA is really in the path
        model.eval()
        top = TopLayers(clf, 1, pooling)
        cached = top.logits(top.features(tok, texts))
        batch = tok(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        whole = pooled_logits(model, batch["input_ids"], batch["attention_mask"], pooling)
        assert torch.allclose(cached, whole, atol=1e-5), (method, pooling)
        if pooling == "last":  # and transformers' own classifier pools the same position
            assert torch.allclose(whole, model(**batch).logits, atol=1e-5)


def test_pooling_reads_only_real_tokens():
    import torch

    from tuneforge.models.classifier import pool

    states = torch.tensor([[[1.0], [3.0], [100.0]], [[100.0], [2.0], [4.0]]])  # row 0 right-, row 1 left-padded
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    assert pool(states, mask, "mean").flatten().tolist() == [2.0, 3.0]
    assert pool(states, mask, "last").flatten().tolist() == [3.0, 4.0]


def test_predict_answers_a_label(cls_run):
    from typer.testing import CliRunner

    from tuneforge.cli.main import app

    run_dir, _, _ = cls_run
    r = CliRunner().invoke(app, ["predict", "--model", str(run_dir), "dell laptop", "--probabilities"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] in LABELS
    shown = [line.split()[-1] for line in lines[1:]]
    assert sorted(shown) == LABELS
    assert sum(float(line.split()[0].rstrip("%")) for line in lines[1:]) == pytest.approx(100, abs=0.1)


def test_batch_predict_writes_labels(cls_run, tmp_path):
    from typer.testing import CliRunner

    from tuneforge.cli.main import app

    run_dir, _, _ = cls_run
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"input": t}) + "\n" for t in ["dell laptop", "hotel room", "jira cloud"]))
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["predict", "--model", str(run_dir), "--input", str(src), "--output", str(out),
                                 "--no-progress"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [row["input"] for row in rows] == ["dell laptop", "hotel room", "jira cloud"]
    assert all(row["prediction"] in LABELS for row in rows)


def test_eval_scores_it_as_a_system(cls_run, tmp_path):
    from conftest import chat_row, write_jsonl

    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval

    run_dir, _, _ = cls_run
    test = write_jsonl(tmp_path / "test.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts[:2]])
    report = run_eval(EvalConfig(model=str(run_dir), data=str(test), shots=0, constrained=False, bootstrap=0,
                                 out=str(tmp_path / "eval.json")), log=lambda *_: None)
    tuned = report["systems"]["fine-tuned"]
    assert tuned["kind"] == "variant" and tuned["decoding"] == "classify"
    answers = [e["predictions"]["fine-tuned"] for e in report["examples"]]
    assert set(answers) <= set(LABELS)  # argmax over the head: never outside the label set
    assert tuned["valid_label_rate"] == 1.0 if "valid_label_rate" in tuned else True
    assert "base zero-shot" in report["systems"]  # the prompted base still runs beside it
    # Calibration on the evaluated rows, from the variant's own probabilities (not the training split's figure).
    from tuneforge.models.calibration import calibration_error
    from tuneforge.models.classifier import load_classifier

    texts = [e["input"] for e in report["examples"]]
    probs = load_classifier(run_dir).probabilities(texts)
    right = [a == e["reference"] for a, e in zip(answers, report["examples"])]
    cal = tuned["calibration"]
    assert cal["ece"] == pytest.approx(calibration_error([max(p) for p in probs], right), abs=1e-9)
    assert cal["mean_confidence"] == pytest.approx(sum(max(p) for p in probs) / len(probs))
    assert cal["accuracy"] == pytest.approx(tuned["metrics"]["accuracy"]) and cal["n"] == len(texts)
    assert "calibration" not in report["systems"]["base zero-shot"]  # free text states no probability


def test_served_with_label_logprobs(cls_run):
    """The real openai client against the app in-process: the answer is a label, and logprobs/top_logprobs are
    the calibrated label probabilities."""
    import math

    run_dir, _, _ = cls_run
    with served_in_process(run_dir) as (client, catalog):
        out = ask_with_logprobs(client, run_dir.name, "dell laptop", top_logprobs=2)
        choice = out.choices[0]
        label = choice.message.content
        assert label in LABELS and choice.finish_reason == "stop"
        (entry,) = choice.logprobs.content
        assert entry.token == label and len(entry.top_logprobs) == 2
        assert entry.top_logprobs[0].token == label  # the answer is the most likely label
        clf = catalog.resolve(run_dir.name).labeler.classifier
        assert label == clf.predict(["dell laptop"])[0][0]  # the head's own answer, on the user text only
        probs = clf.probabilities(["dell laptop"])[0]
        assert math.exp(entry.logprob) == pytest.approx(max(probs), rel=1e-4)
        assert math.exp(entry.top_logprobs[1].logprob) == pytest.approx(sorted(probs)[-2], rel=1e-4)
        # usage counts the tokens the head read (the user text) and one token per label.
        read = len(clf.tokenizer("dell laptop", add_special_tokens=False)["input_ids"])
        assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (read, 1)


def test_merged_export_loads_as_a_plain_transformers_classifier(cls_run, tmp_path):
    from transformers import AutoModelForSequenceClassification

    from tuneforge.export.export import export_variant

    run_dir, _, _ = cls_run
    out, report = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=4)
    assert report.passed and report.prompts == 4
    model = AutoModelForSequenceClassification.from_pretrained(str(out))
    assert sorted(model.config.id2label.values()) == LABELS
    assert json.loads((out / "tuneforge-export.json").read_text())["variant_type"] == "classification"


def test_gguf_export_is_refused_with_the_reason(cls_run, tmp_path):
    from tuneforge.export.export import export_variant

    run_dir, _, _ = cls_run
    with pytest.raises(ValueError, match="llama.cpp has no per-label classification head"):
        export_variant(run_dir, tmp_path / "g", "gguf")
    assert not (tmp_path / "g").exists()


def test_registry_registers_it_and_the_server_plans_it_by_reference(cls_run):
    from tuneforge.registry.store import Registry
    from tuneforge.serve.catalog import plan

    run_dir, _, _ = cls_run
    reg = Registry()
    try:
        v = reg.register(run_dir, "ledger")
        assert json.loads(json.dumps(v.config))["variant_type"] == "classification"
    finally:
        reg.close()
    (served,) = [e for e in plan(["ledger:1"]) if e.kind == "variant"]
    assert served.run_path == str(run_dir.resolve())


def test_the_best_epochs_weights_are_the_ones_saved(tiny_model_dir, tmp_path):
    """Held-out rows labelled against the training rows get worse as training learns: the best epoch is an early
    one, and the run must save that epoch's weights, not the last epoch's under its name."""
    from conftest import chat_row, write_jsonl

    flipped = dict(zip(LABELS, LABELS[1:] + LABELS[:1]))
    eval_data = write_jsonl(tmp_path / "flipped.jsonl", [chat_row(t, flipped[lab]) for lab, ts in _LINES.items()
                                                         for t in ts])
    run_dir, notes = train_label_variant(tmp_path, tiny_model_dir, eval_data=str(eval_data), epochs=6,
                                         classifier_layers=1, classifier_fusion=False, keep_best=True)
    run = json.loads((run_dir / "run.json").read_text())
    m = run["metrics"]
    assert m["best_epoch"] < len(m["epochs"]), m["epochs"]  # the restore is the path under test
    assert any(line.startswith("kept the best weights") for line in notes)
    # At temperature 1 the calibration's held-out log-loss is the saved weights' eval loss.
    assert run["calibration"]["nll_before"] == pytest.approx(m["best_eval_loss"], abs=1e-3)

    # keep_best=False (the heads' no-flag rule): the same run saves its last epoch, however early the best loss was.
    (tmp_path / "last").mkdir()
    last_dir, notes = train_label_variant(tmp_path / "last", tiny_model_dir, eval_data=str(eval_data), epochs=6,
                                          classifier_layers=1, classifier_fusion=False, keep_best=False)
    m = json.loads((last_dir / "run.json").read_text())["metrics"]
    assert m["best_epoch"] < len(m["epochs"]) and not any(line.startswith("kept the best") for line in notes)
    last = json.loads((last_dir / "run.json").read_text())["calibration"]["nll_before"]
    assert last == pytest.approx(m["epochs"][-1]["eval_loss"], abs=1e-3) and last > m["best_eval_loss"] + 1e-3
