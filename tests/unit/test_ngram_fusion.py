"""A fused classification variant: the head's calibrated probabilities combined with a TF-IDF n-gram logistic
regression (models/fusion.py). Stored without pickle, reloaded to the same answers, weighted on the held-out
split when it is big enough, and used the same way by predict, the server and export; on by default."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import _LINES, ask_with_logprobs, served_in_process, train_label_variant

from tuneforge.config import TrainConfig
from tuneforge.train import ngram_fusion

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LABELS = sorted(_LINES)
TEXTS = [t for ts in _LINES.values() for t in ts]
DEFAULT_WEIGHT = TrainConfig(data="x").classifier_fusion_weight  # the fixed weight when no rule sets one
PROBES = ["dell laptop", "adobe licence renewal", "taxi to the airport", "lenovo usb hub", "zzz unknown"]


def _ngram(words: bool):
    from tuneforge.data.tfidf import tfidf_classifier
    from tuneforge.models.ngram_model import NgramModel

    y = [str(LABELS.index(lab)) for lab, ts in _LINES.items() for _ in ts]
    return NgramModel(tfidf_classifier(0, words).fit(TEXTS, y), "test")


@pytest.mark.parametrize("words", [False, True])
def test_the_ngram_model_reloads_without_pickle_and_answers_the_same(words, tmp_path):
    from tuneforge.models.ngram_model import NGRAM_JSON, NGRAM_WEIGHTS, load_ngram, save_ngram

    fitted = _ngram(words)
    save_ngram(fitted, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([NGRAM_JSON, NGRAM_WEIGHTS])
    spec = json.loads((tmp_path / NGRAM_JSON).read_text())  # data, not code: plain JSON
    assert len(spec["vectorisers"]) == (2 if words else 1) and spec["classes"] == ["0", "1", "2"]
    loaded = load_ngram(tmp_path)
    assert np.array_equal(loaded.log_probs(PROBES, 3), fitted.log_probs(PROBES, 3))


def test_the_weight_follows_the_better_model_on_enough_held_out_rows():
    rng = np.random.default_rng(0)
    y = list(rng.integers(0, 3, 60))
    right = np.eye(3)[y] * 4.0  # confident and right
    noise = rng.normal(size=(60, 3))  # no information
    log_right = np.log(np.full((60, 3), 0.05) + np.eye(3)[y] * 0.85)
    wild = rng.normal(size=(60, 3)) * 2  # confident and uninformed
    log_noise = wild - np.logaddexp.reduce(wild, axis=1, keepdims=True)
    # The n-gram model knows, the head does not: the n-gram side gets the weight; and the other way round.
    w, how = ngram_fusion.choose_weight(noise, 1.0, log_right, y, 0.5, min_rows=50)
    assert w <= 0.2 and how.startswith("chosen on 60 held-out rows")
    w, _ = ngram_fusion.choose_weight(right, 1.0, log_noise, y, 0.5, min_rows=50)
    assert w >= 0.8
    # Too few rows to choose: the fixed, measured weight.
    w, how = ngram_fusion.choose_weight(noise, 1.0, log_right, y, 0.7, min_rows=100)
    assert w == 0.7 and how == (
        "fixed, as measured on validation splits: choosing it takes 100 held-out rows, and there are 60")


def test_no_flags_fuse_and_the_user_can_turn_it_off():
    from tuneforge.data.formats import Example
    from tuneforge.train.defaults import choose_defaults

    data = [Example([{"role": "user", "content": f"line {i}"}, {"role": "assistant", "content": f"label_{i % 3}"}])
            for i in range(60)]
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m"), data)
    assert cfg.classifier_fusion
    (why,) = [n for n in notes if n.startswith("classifier_fusion=")]
    assert "held-out" in why and "--no-classifier-fusion" in why
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m", classifier_fusion=False), data)
    assert not cfg.classifier_fusion and not any(n.startswith("classifier_fusion=") for n in notes)


def _train(encoder, folder, **overrides):
    return train_label_variant(folder, encoder, **{"epochs": 3, **overrides})


@pytest.fixture(scope="module")
def fused_run(tiny_encoder_dir, tmp_path_factory):
    return _train(tiny_encoder_dir, tmp_path_factory.mktemp("fused"))


def _expected(clf, run, texts):
    """The fusion formula, computed here from the head's logits and the n-gram model's probabilities (`run` is
    run.json plus `_dir`, the run folder)."""
    from tuneforge.models.ngram_model import load_ngram

    f = run["fusion"]
    z = clf.logits(texts).numpy().astype("float64") / run["calibration"]["temperature"]
    head = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
    scores = f["weight"] * head + (1 - f["weight"]) * load_ngram(run["_dir"]).log_probs(texts, len(LABELS))
    scores = scores / f["temperature"]
    return np.exp(scores - np.logaddexp.reduce(scores, axis=1, keepdims=True))


def test_a_fused_variant_trains_saves_and_answers_the_same_after_reload(fused_run):
    from tuneforge.models.classifier import load_classifier

    run_dir, notes = fused_run
    run = json.loads((run_dir / "run.json").read_text())
    fusion = run["fusion"]
    # 6 held-out rows: too few to choose, so the fixed weight; the held-out figures are recorded.
    assert fusion["weight"] == DEFAULT_WEIGHT and fusion["weight_chosen"].startswith("fixed")
    assert set(fusion["held_out_accuracy"]) == {"head", "ngram", "fused"} and fusion["temperature"] > 0
    assert any(n.startswith("fusion: head x") for n in notes)
    assert (run_dir / "ngram_model.json").is_file() and not list(run_dir.glob("*.pkl"))
    first, second = load_classifier(run_dir), load_classifier(run_dir)
    a, b = first.probabilities(PROBES), second.probabilities(PROBES)
    assert a == b
    run["_dir"] = run_dir
    assert np.allclose(a, _expected(first, run, PROBES), atol=1e-6)
    # Fused, not the head alone: the probabilities differ from softmax(logits / T).
    head = np.exp(first.logits(PROBES).numpy() / first.temperature)
    assert not np.allclose(a, head / head.sum(1, keepdims=True), atol=1e-3)


def test_the_served_probabilities_calibration_is_recorded_from_the_served_model(fused_run):
    """run.json `fusion` carries the ECE and log-loss of the fused (served) probabilities on the held-out rows,
    before and after T_fused: recomputed here from the saved variant's own probabilities on those rows."""
    from dataclasses import replace

    from tuneforge.data.labels import normalise_answer
    from tuneforge.models.classifier import classifier_input, load_classifier
    from tuneforge.models.calibration import expected_calibration_error
    from tuneforge.train.sft import prepare_data

    run_dir, notes = fused_run
    run = json.loads((run_dir / "run.json").read_text())
    fusion = run["fusion"]
    held_out = prepare_data(TrainConfig(**run["config"])).eval  # the split training made, from its settings
    assert len(held_out) == fusion["held_out"] == 6
    keys = [normalise_answer(lab) for lab in run["labels"]]
    y = [keys.index(normalise_answer(e.answer)) for e in held_out]
    texts = [classifier_input(e.prompt_messages) for e in held_out]
    clf = load_classifier(run_dir)
    for when, temperature in (("after", fusion["temperature"]), ("before", 1.0)):
        clf.fusion = replace(clf.fusion, temperature=temperature)
        probs = clf.probabilities(texts)
        nll = -float(np.mean([math.log(p[t]) for p, t in zip(probs, y)]))
        assert fusion[f"ece_{when}"] == pytest.approx(expected_calibration_error(probs, y), abs=2e-4), when
        assert fusion[f"nll_{when}"] == pytest.approx(nll, abs=2e-4), when
    # Fitting T_fused can only lower the held-out log-loss; the head's own figures stay under `calibration`.
    assert fusion["nll_after"] <= fusion["nll_before"]
    assert run["calibration"]["ece_after"] is not None
    assert any(n.startswith("calibration (head alone): temperature") for n in notes)
    (line,) = [n for n in notes if n.startswith("calibration (served: head fused with n-grams): ")]
    assert f"{100 * fusion['ece_before']:.1f}% -> {100 * fusion['ece_after']:.1f}%" in line


def test_the_weight_is_chosen_on_the_held_out_split_when_it_is_big_enough(tiny_encoder_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(ngram_fusion, "FUSION_MIN_HELD_OUT", 5)
    run_dir, _ = _train(tiny_encoder_dir, tmp_path, epochs=1)
    fusion = json.loads((run_dir / "run.json").read_text())["fusion"]
    assert fusion["weight_chosen"].startswith("chosen on 6 held-out rows") and fusion["weight"] in ngram_fusion.FUSION_GRID


def test_turned_off_the_variant_is_the_head_alone(tiny_encoder_dir, tmp_path):
    from tuneforge.models.classifier import load_classifier

    run_dir, notes = _train(tiny_encoder_dir, tmp_path, epochs=1, classifier_fusion=False)
    assert json.loads((run_dir / "run.json").read_text())["fusion"] is None
    assert not (run_dir / "ngram_model.json").exists() and not any(n.startswith("fusion:") for n in notes)
    assert load_classifier(run_dir).fusion is None


def test_predict_and_serve_give_the_fused_probabilities(fused_run):
    from typer.testing import CliRunner

    from tuneforge.cli.main import app
    from tuneforge.models.classifier import load_classifier

    run_dir, _ = fused_run
    run = {**json.loads((run_dir / "run.json").read_text()), "_dir": run_dir}
    expected = _expected(load_classifier(run_dir), run, ["dell laptop"])[0]
    r = CliRunner().invoke(app, ["predict", "--model", str(run_dir), "dell laptop", "--probabilities"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == LABELS[int(np.argmax(expected))]
    assert float(lines[1].split("%")[0]) == pytest.approx(100 * expected.max(), abs=0.01)
    with served_in_process(run_dir) as (client, _):
        out = ask_with_logprobs(client, run_dir.name, "dell laptop", top_logprobs=3)
    (entry,) = out.choices[0].logprobs.content
    assert out.choices[0].message.content == LABELS[int(np.argmax(expected))]
    got = {t.token: math.exp(t.logprob) for t in entry.top_logprobs}
    assert got == pytest.approx({lab: float(p) for lab, p in zip(LABELS, expected)}, rel=1e-4)


def test_export_carries_the_ngram_model_and_parity_runs_fused(fused_run, tmp_path):
    from tuneforge.export.export import export_variant
    from tuneforge.export.merge import read_export_record

    run_dir, _ = fused_run
    out, report = export_variant(run_dir, tmp_path / "merged", "merged", parity_samples=4)
    assert report.passed
    assert (out / "ngram_model.json").is_file() and (out / "ngram_model.safetensors").is_file()
    record = read_export_record(out)
    assert record["fusion"]["weight"] == DEFAULT_WEIGHT and "head alone" in record["fusion"]["note"]


def test_the_monitor_reads_the_fused_probabilities(fused_run):
    """The monitor's label-free accuracy estimate scores logged requests with the variant's probabilities."""
    from tuneforge.models.classifier import load_classifier
    from tuneforge.monitor.confidence import LabelScorer
    from tuneforge.monitor.reference import Reference

    run_dir, _ = fused_run
    run = {**json.loads((run_dir / "run.json").read_text()), "_dir": run_dir}
    ref = Reference("ledger:1", "ledger", str(run_dir), None, [], {lab: 1 for lab in LABELS}, LABELS, None, run)
    (got,) = LabelScorer(ref).probabilities([[{"role": "user", "content": "dell laptop"}]])
    expected = _expected(load_classifier(run_dir), run, ["dell laptop"])[0]
    assert [got[lab] for lab in LABELS] == pytest.approx(list(expected), rel=1e-5)


def test_the_n_gram_half_never_trains_on_the_held_out_rows(monkeypatch, tmp_path):
    """The held-out rows choose the weight and fit the fused temperature: an n-gram model trained on them too would
    make both look better than they are."""
    import tuneforge.data.tfidf as tfidf

    seen = []
    real = tfidf.fit_tfidf_classifier

    def spy(texts, targets, seed):
        seen.append(list(texts))
        return real(texts, targets, seed)

    monkeypatch.setattr(tfidf, "fit_tfidf_classifier", spy)
    train = [(t, LABELS.index(label)) for label in LABELS for t in _LINES[label][:-1]]
    held = [(_LINES[label][-1], LABELS.index(label)) for label in LABELS]
    record = ngram_fusion.train_fusion([t for t, _ in train], [y for _, y in train], [t for t, _ in held],
                                       [y for _, y in held], [[0.0] * len(LABELS)] * len(held), 1.0, len(LABELS),
                                       tmp_path, seed=0, fixed=DEFAULT_WEIGHT, log=lambda *_: None)
    assert seen == [[t for t, _ in train]]
    assert record["ngram_train_examples"] == len(train) and record["held_out"] == len(held)
