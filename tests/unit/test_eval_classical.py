"""The non-LLM baselines (eval/classical.py): metrics on a hand-made set whose answers are known, the variant's
own training split (never its held-out rows), and the sentence encoder shipped in a PyPI package."""

from __future__ import annotations

import json

import pytest

from conftest import chat_row, write_jsonl
from tuneforge.eval import classical
from tuneforge.eval.task_types import detect_task

# Each label has its own vocabulary; every test input repeats words of its label's training rows.
TRAIN = {
    "fruit": ["fresh apples and pears", "a crate of bananas", "ripe mango and apples", "pears and plums box",
              "banana and mango mix", "organic plums and pears"],
    "vehicle": ["diesel truck repair", "electric scooter battery", "truck tyres replaced", "scooter brake pads",
                "bus windscreen repair", "diesel bus service"],
    "office": ["printer paper a4", "stapler and staples", "paper clips and folders", "printer toner cartridge",
               "folders and binders", "toner for the printer"],
}
# (input, reference): the last two references are deliberately wrong, so a perfect reader scores 8/10.
TEST = [
    ("apples and bananas", "fruit"), ("mango and pears", "fruit"), ("plums for the office kitchen", "fruit"),
    ("truck and bus repair", "vehicle"), ("scooter battery", "vehicle"), ("diesel truck", "vehicle"),
    ("printer paper", "office"), ("folders and staples", "office"),
    ("toner for the printer", "vehicle"),  # an office line labelled vehicle
    ("ripe bananas", "office"),  # a fruit line labelled office
]


def _rows():
    texts = [t for ts in TRAIN.values() for t in ts]
    labels = [lab for lab, ts in TRAIN.items() for _ in ts]
    return classical.TrainingRows(texts, labels, "hand-made")


def _scores(preds: list[str]):
    spec = detect_task([r for _, r in TEST], [lab for lab, ts in TRAIN.items() for _ in ts])
    rows = [spec.score(p, r) for p, (_, r) in zip(preds, TEST)]
    return spec.headline_values(rows)


def test_tfidf_baseline_scores_what_the_hand_made_set_allows():
    baseline = classical.fit_tfidf(_rows())
    preds, seconds, _ = classical.run_baseline(baseline, [t for t, _ in TEST])
    # Every input is read right; the two wrong references cost exactly 2 of 10.
    assert preds == ["fruit"] * 3 + ["vehicle"] * 3 + ["office"] * 3 + ["fruit"]
    m = _scores(preds)
    assert m["accuracy"] == pytest.approx(0.8)
    # Per class (precision, recall): fruit (3/4, 3/3), vehicle (3/3, 3/4), office (2/3, 2/3) -> macro-F1 by hand.
    f1 = [2 * p * r / (p + r) for p, r in ((3 / 4, 1.0), (1.0, 3 / 4), (2 / 3, 2 / 3))]
    assert m["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert baseline.info["train_examples"] == 18 and baseline.info["fit_s"] > 0 and seconds > 0


def test_a_baseline_states_the_calibrated_probability_of_its_answer():
    """Each label comes with the logistic regression's probability of it, temperature-scaled by a fit on
    out-of-fold probabilities of its own training rows: the calibration table's input, comparable with the
    variant's calibrated probabilities. The labels are the logistic regression's own."""
    import numpy as np

    baseline = classical.fit_tfidf(_rows())
    texts = [t for t, _ in TEST]
    preds, _, confidences = classical.run_baseline(baseline, texts)
    probs = baseline.model.predict_proba(texts)
    report = baseline.info["calibration"]
    assert baseline.temperature == report["temperature"] and report["examples"] == 18
    assert baseline.temperature < 0.9  # C=10 over sparse n-grams spreads its probability: the fit sharpens it
    tempered = np.exp(np.log(probs) / baseline.temperature)
    tempered /= tempered.sum(axis=1, keepdims=True)
    assert confidences == pytest.approx([float(row.max()) for row in tempered])
    assert all(c > float(row.max()) for c, row in zip(confidences, probs))
    assert preds == [str(baseline.model.classes_[row.argmax()]) for row in probs] == baseline.predict(texts)
    assert report["ece_after"] < report["ece_before"] and report["nll_after"] < report["nll_before"]


def test_rows_of_a_label_too_rare_for_every_fold_sit_out_of_the_calibration():
    rows = _rows()
    rows = classical.TrainingRows(rows.texts + ["one odd line"], rows.labels + ["misc"], "hand-made")
    baseline = classical.fit_tfidf(rows)
    report = baseline.info["calibration"]
    assert report["examples"] == 18 and report["left_out_rare_label_rows"] == 1
    assert baseline.temperature == report["temperature"] != 1.0
    assert baseline.predict(["one odd line"]) == ["misc"]  # the label itself is still learned
    texts = ["red apples", "green pears", "ripe plums", "diesel truck"]
    only_rare = classical.TrainingRows(texts, ["x", "x", "x", "y"], "hand-made")
    assert classical.fit_tfidf(only_rare).info["calibration"] is None


@pytest.mark.parametrize("base", ["all-minilm-l6-v2", "multilingual-e5-small"])
def test_embedding_baseline_on_a_packaged_encoder(base):
    from tuneforge.eval.embeddings import PackagedEncoder
    from tuneforge.models.packaged_encoders import PACKAGED_ENCODERS, packaged_encoder_installed

    assert packaged_encoder_installed(base), f"{base}'s package is not installed (make install brings it)"
    encoder = PackagedEncoder(base)
    vecs = encoder.encode(["a crate of bananas", "ripe mango and apples", "diesel truck repair"])
    assert vecs.shape == (3, 384)
    assert abs(float((vecs[0] ** 2).sum()) - 1) < 1e-4  # L2-normalised as both models' authors do
    fruit_fruit, fruit_truck = float(vecs[0] @ vecs[1]), float(vecs[0] @ vecs[2])
    assert fruit_fruit > fruit_truck + 0.05  # a real sentence encoder, not random weights
    baseline = classical.fit_embedding(_rows(), encoder)
    preds, _, _ = classical.run_baseline(baseline, [t for t, _ in TEST])
    assert _scores(preds)["accuracy"] >= 0.8
    assert baseline.info["encoder"] == PACKAGED_ENCODERS[base][1] and "384 dimensions" in baseline.info["features"]


def test_e5_is_the_preferred_packaged_encoder():
    from tuneforge.models.packaged_encoders import preferred_packaged_encoder

    assert preferred_packaged_encoder() == "multilingual-e5-small"  # make install brings both packages


def test_the_embedding_baseline_prefers_e5_and_falls_back(monkeypatch):
    from tuneforge.eval import embeddings

    built = []
    monkeypatch.setattr(embeddings, "PackagedEncoder", lambda base: built.append(base) or base)
    monkeypatch.setattr(embeddings, "BaseModelEncoder", lambda loaded, name: f"base:{name}")
    monkeypatch.setattr(embeddings, "preferred_packaged_encoder", lambda: "multilingual-e5-small")
    assert embeddings.make_encoder("auto", None, "smollm2-135m") == "multilingual-e5-small"
    assert embeddings.make_encoder("minilm", None, "smollm2-135m") == "all-minilm-l6-v2"
    assert embeddings.make_encoder("base", None, "smollm2-135m") == "base:smollm2-135m"
    monkeypatch.setattr(embeddings, "preferred_packaged_encoder", lambda: None)
    assert embeddings.make_encoder("auto", None, "smollm2-135m") == "base:smollm2-135m"


def test_the_embedding_baseline_takes_an_encoder_folder_and_its_classification_prompt(tmp_path):
    """`--embedder PATH`: a sentence encoder the user has; a sentence-transformers folder's Classification prompt
    goes before every text (as embeddinggemma's authors classify)."""
    from tuneforge.config import EvalConfig
    from tuneforge.eval import embeddings
    from tuneforge.models.tiny import build_tiny_encoder

    folder = build_tiny_encoder(tmp_path / "enc")
    plain = embeddings.make_encoder(str(folder), None, "smollm2-135m")
    assert isinstance(plain, embeddings.FolderEncoder) and plain.name == str(folder.resolve()) and plain.prompt == ""
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "task: search result | query: ", "Classification": "task: classification | query: "}}))
    prompted = embeddings.FolderEncoder(folder)
    assert prompted.prompt == "task: classification | query: "
    texts = ["a crate of bananas", "diesel truck repair"]
    assert prompted.encode(texts) == pytest.approx(plain.encode([prompted.prompt + t for t in texts]), abs=1e-6)
    assert prompted.encode(texts) != pytest.approx(plain.encode(texts), abs=1e-3)
    baseline = classical.fit_embedding(_rows(), prompted)
    assert baseline.info["encoder"] == plain.name and "32 dimensions" in baseline.info["features"]
    assert len(classical.run_baseline(baseline, [t for t, _ in TEST])[0]) == len(TEST)
    with pytest.raises(ValueError, match="(?s)embedder.*a model folder with a config.json; '/no/such/encoder' is"):
        EvalConfig(model="m", eval_data="t.jsonl", embedder="/no/such/encoder")
    assert EvalConfig(model="m", eval_data="t.jsonl", embedder=str(folder)).embedder == str(folder)


def test_baselines_train_on_the_variants_training_split_only(tmp_path, tiny_model_dir):
    """The same rows `train` trained on: the held-out rows of the run's split never reach the baselines."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import prepare_data

    rows = [chat_row(t, lab) for lab, ts in TRAIN.items() for t in ts]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    cfg = TrainConfig(data=str(data), base=str(tiny_model_dir), eval_split=0.34, seed=3)
    prepared = prepare_data(cfg)
    run = {"data": {"path": str(data), "hash": prepared.data_hash, "eval_path": None}, "config": cfg.model_dump()}
    got = classical.variant_training_rows(run)
    assert got.texts == [e.user_text for e in prepared.train]
    assert not set(got.texts) & {e.user_text for e in prepared.eval} and len(prepared.eval) == 6
    assert got.note is None
    # The file changed after training: the baselines say so instead of silently training on other rows.
    write_jsonl(data, rows[:-1])
    assert "changed since the variant was trained" in classical.variant_training_rows(run).note


def test_one_label_cannot_be_fitted():
    rows = classical.TrainingRows(["a", "b"], ["x", "x"], "s")
    assert "fewer than two labels" in classical.can_fit(rows)
    assert classical.can_fit(_rows()) is None


def test_suspects_still_use_the_shared_classifier():
    """data/suspects.py and the baselines share one TF-IDF pipeline (data/tfidf.py)."""
    from tuneforge.data.tfidf import tfidf_classifier

    model = tfidf_classifier(words=True)
    assert len(model.steps[0][1].transformer_list) == 2
    assert json.dumps(tfidf_classifier(words=False).steps[0][1].analyzer) == '"char_wb"'


def test_feature_choice_averages_repeated_folds_and_keeps_characters_on_a_tie(monkeypatch):
    """choose_words ranks the two feature sets over 3 x 3 reshuffled folds (one pass left the choice to the seed
    on the invoice demo), and words must score strictly higher to be added."""
    import sklearn.model_selection

    from tuneforge.data import tfidf

    folds_seen = []

    def tied_scores(model, texts, labels, cv):
        folds_seen.append(cv.get_n_splits())
        return [0.5] * cv.get_n_splits()

    monkeypatch.setattr(sklearn.model_selection, "cross_val_score", tied_scores)
    words, scores = tfidf.choose_words(*_rows_lists())
    assert words is False and scores == {"chars": 0.5, "chars+words": 0.5}
    assert folds_seen == [9, 9]  # both feature sets, each over 3 repeats of 3 folds


def _rows_lists():
    rows = _rows()
    return rows.texts, rows.labels


def test_a_baselines_prediction_time_is_per_example(monkeypatch):
    from tuneforge.eval.classical_systems import answer_classical
    from tuneforge.eval.systems import System

    baseline = classical.Baseline("tf-idf", "tfidf", model=None)
    monkeypatch.setattr(classical, "run_baseline", lambda b, texts: (["a"] * len(texts), 2.0, [0.9] * len(texts)))
    spec = detect_task(["a", "b"], ["a", "b"])
    system = System("tf-idf", classical.KIND, "classifier", [], extra={"baseline": baseline, "texts": list("wxyz")})
    gens = answer_classical(system, spec)
    assert [g.latency_s for g in gens] == [0.5] * 4  # 2 s for 4 inputs
    assert baseline.info["predict_ms_per_example"] == pytest.approx(500)


def test_the_hosted_endpoint_is_asked_for_greedy_answers(fake_openai):
    from tuneforge.eval.endpoint import generate_remote, make_client

    gens = generate_remote(make_client(fake_openai.url, None), "m", [[{"role": "user", "content": "x y"}]], 4)
    assert gens[0].text == "ok" and gens[0].tokens_in == 2
    assert fake_openai.requests[0]["body"]["temperature"] == 0 and fake_openai.requests[0]["body"]["max_tokens"] == 4
