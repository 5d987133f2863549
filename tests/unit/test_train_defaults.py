"""The settings `tuneforge train DATA` chooses when the user gives none, on synthetic datasets."""

from __future__ import annotations

import pytest

from tuneforge.config import TrainConfig
from tuneforge.data.formats import Example
from tuneforge.train import defaults
from tuneforge.train.defaults import choose_defaults


def _data(answers: list[str]) -> list[Example]:
    return [Example([{"role": "user", "content": f"input {i}"}, {"role": "assistant", "content": a}])
            for i, a in enumerate(answers)]


def _labels(n: int, k: int) -> list[Example]:
    return _data([f"label_{i % k}" for i in range(n)])


def _chosen(notes: list[str]) -> set[str]:
    return {n.split("=", 1)[0] for n in notes}


def test_labels_choose_a_classification_variant_with_every_setting_explained():
    # A base the user names is kept (the decoder's rules); tests/unit/test_encoder_variant.py covers the no-base rule.
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m"), _labels(422, 12))
    assert cfg.variant_type == "classification"
    assert (cfg.method, cfg.lora_r, cfg.batch_size, cfg.lr) == (
        defaults.CLS_METHOD, defaults.CLS_LORA_R, defaults.CLS_BATCH, defaults.CLS_LR)
    assert cfg.classifier_layers == defaults.CLS_LAYERS
    assert (cfg.classifier_depth, cfg.classifier_head_init) == (defaults.CLS_DEPTH, defaults.CLS_HEAD_INIT)
    assert cfg.epochs == 8  # 27 steps an epoch: about CLS_TARGET_STEPS (200) steps
    # The last epoch is kept, as for an encoder's head (the held-out loss's epoch scored lower), and said twice.
    assert cfg.keep_best is False and "the last epoch is kept" in next(n for n in notes if n.startswith("epochs="))
    # One line per choice, each with its reason in parentheses.
    assert _chosen(notes) == {"variant_type", "method", "lora_r", "classifier_depth", "classifier_layers",
                              "classifier_head_init", "batch_size", "epochs", "keep_best", "lr", "classifier_fusion"}
    assert all("(" in n and n.endswith(")") for n in notes)
    given, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m", keep_best=True), _labels(422, 12))
    assert given.keep_best is True and "keep_best" not in _chosen(notes)  # a given --keep-best is kept
    assert "the best epoch by held-out loss is kept" in next(n for n in notes if n.startswith("epochs="))


def test_full_fine_tuning_of_a_classification_variant_gets_its_own_rate():
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", base="smollm2-135m", method="full"), _labels(422, 12))
    assert cfg.variant_type == "classification" and cfg.method == "full"
    assert cfg.lr == pytest.approx(defaults.CLS_LR / 20)  # every weight moves: LoRA's rate would wreck the body
    assert "lr" in _chosen(notes) and "lora_r" not in _chosen(notes)


@pytest.mark.parametrize("n, expected", [(40, defaults.CLS_MAX_EPOCHS), (422, 8), (20000, defaults.CLS_MIN_EPOCHS)])
def test_classification_epochs_aim_at_a_number_of_steps(n, expected):
    from tuneforge.train.auto import head_schedule

    cfg = TrainConfig(data="x.jsonl", base="smollm2-135m", batch_size=16)
    chosen, _ = head_schedule(cfg, n, lambda field: field == "epochs", defaults.CLS_BATCH, defaults.CLS_TARGET_STEPS,
                              defaults.CLS_MIN_EPOCHS, defaults.CLS_MAX_EPOCHS)
    epochs = chosen["epochs"]
    assert epochs == expected
    assert defaults.CLS_MIN_EPOCHS <= epochs <= defaults.CLS_MAX_EPOCHS


def test_small_label_sets_get_a_batch_no_larger_than_the_data():
    for base in ("smollm2-135m", "all-minilm-l6-v2"):
        cfg, _ = choose_defaults(TrainConfig(data="x.jsonl", base=base), _labels(10, 2))
        assert cfg.variant_type == "classification" and cfg.batch_size == 10


SMALL, LARGE = 135_000_000, 1_700_000_000  # parameter counts handed to the rule in place of reading a base


def _free_text(n: int = 300) -> list[Example]:
    return _data([f"Dear customer, thank you for message number {i}; we will reply within {i % 5 + 1} days."
                  for i in range(n)])


def test_free_text_on_a_small_base_chooses_full_fine_tuning_by_the_size_rules():
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl"), _free_text(), params_of=lambda base: SMALL)
    assert cfg.variant_type == "generative" and cfg.method == "full"
    # train/auto.py's rules, at full fine-tuning's rate: 8e-5 x sqrt(8 / 16)
    assert cfg.batch_size == 8 and cfg.epochs == 3 and cfg.lr == pytest.approx(5.66e-5, rel=1e-3)
    assert cfg.keep_checkpoints == defaults.FULL_KEEP_CHECKPOINTS
    assert _chosen(notes) == {"variant_type", "method", "keep_checkpoints", "batch_size", "epochs", "lr"}
    assert all("(" in n and n.endswith(")") for n in notes)


def test_free_text_on_a_large_base_keeps_lora_and_says_why():
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl"), _free_text(), params_of=lambda base: LARGE)
    assert cfg.method == "lora" and cfg.lr == pytest.approx(2.83e-4)  # LoRA's rate: 4e-4 x sqrt(8 / 16)
    assert cfg.keep_checkpoints == TrainConfig(data="x").keep_checkpoints
    assert any(n.startswith("method=lora (1.70B parameters") for n in notes)


def test_the_size_threshold_is_inclusive():
    at = defaults.SMALL_BASE_PARAMS
    assert choose_defaults(TrainConfig(data="x.jsonl"), _free_text(), params_of=lambda b: at)[0].method == "full"
    assert choose_defaults(TrainConfig(data="x.jsonl"), _free_text(), params_of=lambda b: at + 1)[0].method == "lora"


@pytest.mark.parametrize("given", [{"lr": 1e-3}, {"lora_r": 32}, {"lora_dropout": 0.0}, {"method": "lora"},
                                   {"method": "dora"}, {"objective": "dpo"}])
def test_a_rate_a_lora_setting_a_method_or_dpo_keeps_the_small_base_off_full_fine_tuning(given):
    asked = []
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", **given), _free_text(),
                                 params_of=lambda base: asked.append(base) or SMALL)
    assert cfg.method == given.get("method", "lora") and "keep_checkpoints" not in _chosen(notes)
    assert not asked  # the base is not even measured when the rule cannot choose full


def test_full_fine_tuning_keeps_what_the_user_set_beside_it():
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", keep_checkpoints=5, epochs=2), _free_text(),
                                 params_of=lambda base: SMALL)
    assert (cfg.method, cfg.keep_checkpoints, cfg.epochs) == ("full", 5, 2)
    assert {"keep_checkpoints", "epochs"}.isdisjoint(_chosen(notes))


def test_a_full_run_the_user_asked_for_keeps_one_step_checkpoint_too():
    """--method full (or a resumed full run, whose method comes from its folder) holds whole-model checkpoints."""
    asked = []
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", method="full"), _free_text(),
                                 params_of=lambda base: asked.append(base) or LARGE)
    assert (cfg.method, cfg.keep_checkpoints) == ("full", defaults.FULL_KEEP_CHECKPOINTS)
    assert "keep_checkpoints" in _chosen(notes) and not asked


def test_the_rule_counts_a_base_folders_parameters_without_loading_it(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert defaults.base_parameters(str(tiny_model_dir)) == sum(p.numel() for p in model.parameters())


def test_what_the_user_set_is_never_overridden():
    given = TrainConfig(data="x.jsonl", epochs=2, lr=3e-4, method="full", variant_type="classification")
    cfg, notes = choose_defaults(given, _labels(200, 4))
    assert (cfg.epochs, cfg.lr, cfg.method) == (2, 3e-4, "full")
    assert not {"epochs", "lr", "method", "variant_type", "lora_r"} & _chosen(notes)


def test_set_through_the_cli_counts_as_set(tmp_path):
    """The CLI passes only the flags a user typed, so the config knows what was chosen by hand."""
    from tuneforge.cli.options import _config_function

    seen = {}
    _config_function(TrainConfig, lambda cfg: seen.setdefault("cfg", cfg))(config=None, data="x.jsonl", epochs=7)
    assert seen["cfg"].model_fields_set == {"data", "epochs"}


def test_dpo_and_explicit_generative_stay_generative():
    cfg, _ = choose_defaults(TrainConfig(data="x.jsonl", objective="dpo"), _labels(100, 4))
    assert cfg.variant_type == "generative"
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl", variant_type="generative"), _labels(100, 4),
                                 params_of=lambda base: SMALL)
    assert cfg.variant_type == "generative" and "variant_type" not in _chosen(notes)


def test_preference_pairs_under_the_default_objective_are_said_to_train_on_the_chosen_answers():
    """SFT reads a pair file's chosen answers; with no --objective the run says so, and how to learn the pairs."""
    pairs = [Example(e.messages, meta={"rejected": "label_x"}) for e in _labels(60, 4)]
    cfg, notes = choose_defaults(TrainConfig(data="x.jsonl"), pairs[:40] + _labels(20, 4))
    assert cfg.objective == "sft"
    said = next(n for n in notes if n.startswith("objective="))
    assert "40 of 60 rows are preference pairs" in said and "--objective dpo" in said
    for given in (TrainConfig(data="x.jsonl", objective="sft"), TrainConfig(data="x.jsonl", objective="dpo")):
        assert "objective" not in _chosen(choose_defaults(given, pairs)[1])
    assert "objective" not in _chosen(choose_defaults(TrainConfig(data="x.jsonl"), _labels(60, 4))[1])


def test_classification_of_free_text_is_refused_clearly():
    from tuneforge.train.classification import label_forms

    with pytest.raises(ValueError, match="--variant-type generative"):
        label_forms([f"a long free text answer number {i}" for i in range(20)])
