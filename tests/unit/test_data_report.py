"""`tuneforge data report`: verdicts with reasons, a time/memory estimate, and a self-contained HTML file."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest
from conftest import chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.chat_encoding import MIN_SHARED_PREFIX
from tuneforge.cli.main import app
from tuneforge.data import estimate
from tuneforge.data.formats import LoadResult
from tuneforge.data.readiness import assess
from tuneforge.models.tiny import build_tiny_model

LABELS = ["software", "travel", "hardware", "telecom"]


def _rows(n_per_label: int) -> list[dict]:
    return [chat_row(f"{label} invoice line number {k} ref {k * 37 % 101}", label)
            for label in LABELS for k in range(n_per_label)]


def _assess(rows, **kw):
    from tuneforge.data.formats import parse_data

    raw = "\n".join(json.dumps(r) for r in rows).encode()
    return assess(parse_data(raw, "d.jsonl"), "d.jsonl", **kw)


def test_enough_consistent_data_gets_fine_tune():
    r = _assess(_rows(40))
    assert r.verdict == "fine-tune" and r.reasons[0] == "160 valid examples over 4 labels"


def test_under_100_examples_says_try_prompting_first():
    r = _assess(_rows(10))
    assert r.verdict == "try prompting first" and "40 examples: under 100" in r.reasons[0]


def test_under_10_examples_says_collect_more_data():
    assert _assess(_rows(2)).verdict == "collect more data"


def test_contradictory_answers_say_try_prompting_first():
    rows = _rows(40)
    rows += [chat_row(r["messages"][1]["content"], "travel") for r in rows[:30]]  # same inputs, other label
    r = _assess(rows)
    assert r.verdict == "try prompting first" and "no stable behaviour to learn" in r.reasons[0]


def test_every_suspicious_label_is_counted():
    # A sixth of 300 labels moved to another category: more suspects than the 20 a review list once kept, and
    # the reason must count them all.
    rows = _rows(75)
    for j, k in enumerate(range(0, len(rows), 6)):
        text, label = rows[k]["messages"][1]["content"], rows[k]["messages"][2]["content"]
        rows[k] = chat_row(text, LABELS[(LABELS.index(label) + 1 + j % 3) % 4])
    r = _assess(rows)
    suspects = r.found("suspicious_labels")
    assert suspects > 20 and len(r.clean.step("suspicious_labels").findings) == suspects
    assert f"review {suspects} suspicious label(s)" in r.reasons


def test_small_label_class_says_collect_more_data():
    rows = _rows(40) + [chat_row("bank fee", "bank_fees"), chat_row("bank charge", "bank_fees")]
    r = _assess(rows)
    assert r.verdict == "collect more data" and "bank_fees (2)" in r.reasons[0]


def test_mostly_invalid_rows_say_fix_the_data_first():
    from tuneforge.data.formats import parse_data

    raw = ("\n".join(json.dumps(r) for r in _rows(30)) + "\n" + "{bad\n" * 30).encode()
    r = assess(parse_data(raw, "d.jsonl"), "d.jsonl")
    assert r.verdict == "fix the data first"


def test_estimate_scales_with_parameters_and_method(tmp_path, tiny_model_dir):
    from tuneforge.config import TrainConfig

    small = estimate.model_shape(tiny_model_dir)
    bigger = estimate.model_shape(build_tiny_model(tmp_path / "bigger", hidden=64, layers=4))
    tokens = [100] * 50
    cfg = TrainConfig(data="d.jsonl", epochs=2)
    a = estimate.estimate_training(small, tokens, cfg)
    b = estimate.estimate_training(bigger, tokens, cfg)
    full = estimate.estimate_training(small, tokens, cfg.model_copy(update={"method": "full"}))
    assert a.train_tokens == 10_000
    assert b.seconds / a.seconds == pytest.approx(bigger.params / small.params)
    assert full.tokens_per_s == pytest.approx(a.tokens_per_s / estimate.FULL_FINETUNE_SLOWDOWN)
    assert full.seconds == pytest.approx((full.computed_tokens + full.fixed_tokens) / full.tokens_per_s)
    assert full.fixed_tokens == round(14 * estimate.step_tokens("full", estimate.cpu_threads()))  # 7 steps x 2 epochs
    assert a.fixed_tokens == round(14 * estimate.step_tokens("adapter", estimate.cpu_threads()))
    assert full.memory_parts["gradients + AdamW state (fp32)"] == 12 * small.params
    assert b.memory_bytes > a.memory_bytes
    short_answers = estimate.estimate_training(small, tokens, cfg, answer_tokens=[3] * 50)
    assert short_answers.memory_parts["logits"] == 3 * 4 * 8 * 3 * small.vocab  # batch 8 x 3 answer tokens
    # The LoRA rank the run will use, not a fixed 16.
    r4 = estimate.estimate_training(small, tokens, cfg.model_copy(update={"lora_r": 4}))
    assert r4.memory_parts["gradients + AdamW state (fp32)"] == 12 * estimate.lora_parameters(small, 4)
    assert r4.memory_bytes < a.memory_bytes
    # Gradient checkpointing and bf16 shrink the activations.
    ckpt = estimate.estimate_training(small, tokens, cfg.model_copy(update={"gradient_checkpointing": True}))
    bf16 = estimate.estimate_training(small, tokens, cfg, precision="bf16")
    assert ckpt.memory_parts["activations"] < a.memory_parts["activations"]
    assert bf16.memory_parts["activations"] == a.memory_parts["activations"] // 2
    # --max-steps caps the tokens at steps x batch x grad_accum examples (each 100 tokens here).
    capped = estimate.estimate_training(small, tokens, cfg.model_copy(update={"max_steps": 3, "batch_size": 4,
                                                                              "grad_accum": 2}))
    assert capped.train_tokens == 3 * 4 * 2 * 100


def test_data_report_and_train_print_the_same_estimate(tmp_path, tiny_model_dir, one_torch_thread):
    """One estimator fed the same config: the report's estimate is the line training prints."""
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import inspect_file
    from tuneforge.data.readiness import BaseModelInfo
    from tuneforge.models.load import load_length_tokenizer
    from tuneforge.train.sft import train

    data = write_jsonl(tmp_path / "d.jsonl", _rows(6))
    cfg = TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=1, batch_size=4,
                      lora_r=4, max_seq_len=256, max_steps=2, progress=False, precision="fp32",
                      variant_type="generative")
    tok, limit, folder, note = load_length_tokenizer(cfg.base, cfg.max_seq_len)
    report = assess(inspect_file(data), str(data), None, BaseModelInfo(cfg.base, tok, limit, folder, note), cfg)
    lines = []
    train(cfg, log=lines.append)
    printed = [line for line in lines if line.startswith("estimate:")]
    assert printed == [report.estimate.describe()]


def test_a_shared_prompt_start_is_counted_once_per_batch(tiny_model_dir):
    """The estimate divides the work training computes, not the data's tokens: a system prompt every row shares runs
    once per micro-batch (train/collate.py), so on short inputs under a long prompt the time is a fraction."""
    from tuneforge.config import TrainConfig

    shape = estimate.model_shape(tiny_model_dir)
    cfg = TrainConfig(data="d.jsonl", epochs=2, batch_size=8)
    tokens = [100] * 16  # two micro-batches an epoch
    plain = estimate.estimate_training(shape, tokens, cfg)
    shared = estimate.estimate_training(shape, tokens, cfg, shared_prefix=60)
    assert plain.computed_tokens == plain.train_tokens == 3_200
    assert shared.train_tokens == 3_200 and shared.computed_tokens == 3_200 - 2 * (16 - 2) * 60
    assert shared.fixed_tokens == plain.fixed_tokens  # the same optimizer steps
    assert shared.seconds == pytest.approx(plain.seconds * (shared.computed_tokens + shared.fixed_tokens)
                                           / (3_200 + plain.fixed_tokens))
    assert "60-token prompt start" in shared.describe() and "computed" not in plain.describe().split(" at ")[0]
    # Where the trainer shares nothing, neither does the estimate.
    for off in ({"share_prefix": False}, {"gradient_checkpointing": True}, {"packing": True}, {"batch_size": 1}):
        assert estimate.estimate_training(shape, tokens, cfg.model_copy(update=off), shared_prefix=60).computed_tokens \
            == 3_200, off
    short = estimate.estimate_training(shape, tokens, cfg, shared_prefix=MIN_SHARED_PREFIX - 1)
    assert short.computed_tokens == 3_200
    # A DPO item is a chosen and a rejected row (50 tokens each here) under one prompt: the 16 rows of a micro-batch
    # run it once, and so do the two rows of one pair alone.
    dpo = cfg.model_copy(update={"objective": "dpo"})
    pairs = estimate.estimate_training(shape, tokens, dpo, shared_prefix=30)
    assert pairs.computed_tokens == 3_200 - 2 * (2 * 16 - 2) * 30 and any("batch of 16 rows" in a for a in pairs.assumptions)
    one = estimate.estimate_training(shape, tokens, dpo.model_copy(update={"batch_size": 1}), shared_prefix=30)
    assert one.computed_tokens == 3_200 - 2 * 16 * 30


@pytest.mark.parametrize("objective, pairs", [("sft", False), ("dpo", True), ("sft", True)])
def test_the_estimate_counts_the_tokens_the_trainer_computes(objective, pairs, tmp_path, tiny_model_dir,
                                                             one_torch_thread):
    """What the report predicts as computed tokens is what the run records having computed (run.json), and the
    throughput a later estimate reads back is in the same unit; for preference pairs too, under DPO (both answers of
    a pair) and under SFT (the chosen answer alone)."""
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import inspect_file
    from tuneforge.data.readiness import BaseModelInfo
    from tuneforge.models.load import load_length_tokenizer
    from tuneforge.train.sft import train

    # Twelve rows under one system prompt, each user text starting with its own word: batches share the prompt only.
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
             "lima"]
    rows = [chat_row(f"{w} invoice line {k}", LABELS[k % 4], system="Answer with the ledger category of the line. "
                     "The categories are software, travel, hardware and telecom; answer with one of them only.")
            for k, w in enumerate(words)]
    if pairs:  # each row's label chosen over the next label
        rows = [{"prompt": r["messages"][:-1], "chosen": LABELS[k % 4], "rejected": LABELS[(k + 1) % 4]}
                for k, r in enumerate(rows)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    cfg = TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=2, batch_size=4,
                      lora_r=4, max_seq_len=256, eval_split=0.0, progress=False, precision="fp32",
                      variant_type="generative", report_to="none", objective=objective)
    tok, limit, folder, note = load_length_tokenizer(cfg.base, cfg.max_seq_len)
    predicted = assess(inspect_file(data), str(data), None, BaseModelInfo(cfg.base, tok, limit, folder, note),
                       cfg).estimate
    assert predicted.shared_prefix >= MIN_SHARED_PREFIX
    run = json.loads((train(cfg, log=lambda *_: None) / "run.json").read_text())
    assert run["trained_tokens"] == predicted.train_tokens
    assert run["computed_tokens"] == predicted.computed_tokens < predicted.train_tokens
    # wall_time_s is rounded to 10 ms, a share of a run this short
    assert run["computed_tokens_per_s"] == pytest.approx(run["computed_tokens"] / run["wall_time_s"], rel=0.1)
    import torch

    assert run["cpu_threads"] == torch.get_num_threads()  # what the rate above holds for


def test_parameter_count_matches_the_loaded_model(tiny_model_dir):
    from tuneforge.models.load import load_model

    model = load_model(tiny_model_dir)
    # Tied embeddings are stored once, as in the safetensors file.
    assert estimate.count_parameters(tiny_model_dir) == sum(p.numel() for p in model.parameters())


def test_lora_parameter_formula_matches_peft(tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    from tuneforge.models.load import load_model

    model = get_peft_model(load_model(tiny_model_dir), LoraConfig(r=4, target_modules="all-linear"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert estimate.lora_parameters(estimate.model_shape(tiny_model_dir), rank=4) == trainable


def test_throughput_comes_from_a_run_on_this_machine_when_there_is_one(tiny_model_dir):
    from tuneforge.paths import runs_dir

    shape = estimate.model_shape(tiny_model_dir)
    from tuneforge.config import TrainConfig

    cfg = TrainConfig(data="d.jsonl", epochs=1)
    reference = estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase")
    assert "development machine" in reference.assumptions[0]
    run = runs_dir() / "r1"
    run.mkdir()
    # A run from before computed tokens were recorded: its tokens/s counted shared prompt starts as work.
    (run / "run.json").write_text(json.dumps({"base": {"name": "mybase"}, "method": "lora", "tokens_per_s": 250.0,
                                              "created_at": "2026-01-01T00:00:00+00:00"}))
    assert estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase").seconds == reference.seconds
    (run / "run.json").write_text(json.dumps({"base": {"name": "mybase"}, "method": "lora", "tokens_per_s": 500.0,
                                              "computed_tokens_per_s": 250.0,
                                              "created_at": "2026-01-01T00:00:00+00:00"}))
    measured = estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase")
    assert measured.tokens_per_s == 250.0 and measured.seconds == pytest.approx((1000 + measured.fixed_tokens) / 250)
    assert "measured in run r1 on this machine" in measured.assumptions[0]


def test_a_full_fine_tune_is_estimated_from_a_full_run_else_from_an_adapter_run_converted(tiny_model_dir):
    from tuneforge.config import TrainConfig
    from tuneforge.paths import runs_dir

    shape = estimate.model_shape(tiny_model_dir)
    lora, full = TrainConfig(data="d.jsonl", epochs=1), TrainConfig(data="d.jsonl", epochs=1, method="full")

    def record(name, method, tps, when, objective="sft"):
        (runs_dir() / name).mkdir()
        (runs_dir() / name / "run.json").write_text(json.dumps({"base": {"name": "mybase"}, "method": method,
                                                                "objective": objective,
                                                                "computed_tokens_per_s": tps, "created_at": when}))

    # A classification head's run is another kind of work: it feeds only a head's estimate, and is fed by no other.
    record("head", "full", 999.0, "2026-01-03T00:00:00+00:00", "classification")
    head = full.model_copy(update={"variant_type": "classification"})
    assert estimate.estimate_training(shape, [10] * 10, head, base_name="mybase").tokens_per_s == 999.0
    reference = estimate.estimate_training(shape, [100] * 10, full, base_name="mybase")
    assert "development machine" in reference.assumptions[0]
    record("adapter", "lora", 100.0, "2026-01-02T00:00:00+00:00")
    converted = estimate.estimate_training(shape, [100] * 10, full, base_name="mybase")
    assert converted.tokens_per_s == pytest.approx(100.0 / estimate.FULL_FINETUNE_SLOWDOWN)
    assert "run adapter (an adapter)" in converted.assumptions[0]
    record("whole", "full", 60.0, "2026-01-01T00:00:00+00:00")  # older than the adapter run, but the same method
    assert estimate.estimate_training(shape, [100] * 10, full, base_name="mybase").tokens_per_s == 60.0
    assert estimate.estimate_training(shape, [100] * 10, lora, base_name="mybase").tokens_per_s == 100.0
    (runs_dir() / "adapter" / "run.json").unlink()
    assert estimate.estimate_training(shape, [100] * 10, lora, base_name="mybase").tokens_per_s == pytest.approx(
        60.0 * estimate.FULL_FINETUNE_SLOWDOWN)
    (runs_dir() / "head" / "run.json").unlink()
    unmeasured = estimate.estimate_training(shape, [10] * 10, head, base_name="mybase")
    assert "development machine" in unmeasured.assumptions[0]


def test_an_optimizer_steps_own_time_is_counted_whatever_its_tokens(monkeypatch, tiny_model_dir):
    """A step takes time its tokens do not drive (the optimizer, clipping, the loop's own work): STEP_TOKENS of the
    method's one-thread pace a step, no less on two threads. The same tokens in four times the steps take longer,
    for LoRA and for full fine-tuning. A measured run's pace leaves its steps' time out, so it converts to another
    batch size."""
    from tuneforge.config import TrainConfig
    from tuneforge.paths import runs_dir

    shape = estimate.model_shape(tiny_model_dir)
    tokens = [100] * 64
    for method, kind in (("lora", "adapter"), ("full", "full")):
        cfg = TrainConfig(data="d.jsonl", epochs=2, method=method, batch_size=16)
        seconds = {}
        for threads in (1, 2):
            monkeypatch.setattr(estimate, "cpu_threads", lambda threads=threads: threads)
            for batch in (4, 16):
                e = estimate.estimate_training(shape, tokens, cfg.model_copy(update={"batch_size": batch}))
                assert e.fixed_tokens == round(2 * 64 // batch * estimate.step_tokens(kind, threads))
                assert e.seconds == pytest.approx((12_800 + e.fixed_tokens) / e.tokens_per_s)
                assert f"{2 * 64 // batch} optimizer steps" in e.assumptions[-2]
                # from the reference rate, what it leaves out is said (a measured run's pace holds it: below)
                assert e.assumptions[-1].startswith("not counted: loading the model, the held-out evaluation")
                seconds[threads, batch] = e.seconds
            # 24 more steps at batch 4, each as long on two threads as on one
            one_thread_pace = estimate.estimate_training(shape, tokens, cfg).tokens_per_s / estimate.thread_speedup(
                "generative", threads)
            assert seconds[threads, 4] - seconds[threads, 16] == pytest.approx(
                24 * estimate.STEP_TOKENS[kind] / one_thread_pace, rel=1e-3)  # the step tokens are rounded
        assert seconds[1, 4] - seconds[1, 16] == pytest.approx(seconds[2, 4] - seconds[2, 16], rel=1e-3)
        assert seconds[1, 4] > seconds[1, 16]
        assert "in optimizer steps" in estimate.estimate_training(shape, tokens, cfg).work()
    # A full run on this machine: 5,000 computed tokens and 40 steps in 100 s on one thread.
    full = TrainConfig(data="d.jsonl", epochs=2, method="full", batch_size=16)
    (runs_dir() / "whole").mkdir()
    (runs_dir() / "whole" / "run.json").write_text(json.dumps({
        "base": {"name": "mybase"}, "method": "full", "objective": "sft", "cpu_threads": 1, "wall_time_s": 100.0,
        "computed_tokens_per_s": 50.0, "metrics": {"steps": 40}, "created_at": "2026-01-01T00:00:00+00:00"}))
    monkeypatch.setattr(estimate, "cpu_threads", lambda: 1)
    measured = estimate.estimate_training(shape, tokens, full, base_name="mybase")
    assert measured.tokens_per_s == pytest.approx(50.0 + 40 * estimate.STEP_TOKENS["full"] / 100.0)
    assert measured.fixed_tokens == round(8 * estimate.STEP_TOKENS["full"])  # 4 steps x 2 epochs at batch 16
    assert measured.seconds == pytest.approx((12_800 + measured.fixed_tokens) / measured.tokens_per_s)
    assert not any(a.startswith("not counted:") for a in measured.assumptions)


def test_a_dpo_token_is_estimated_dearer_than_an_sft_token_and_either_run_measures_both(tiny_model_dir):
    """DPO runs a reference pass besides the policy's: the same tokens take DPO_TOKEN_COST x SFT's time, and a run
    of one objective on this machine sets the other's rate through the same factor."""
    from tuneforge.config import TrainConfig
    from tuneforge.paths import runs_dir

    shape = estimate.model_shape(tiny_model_dir)
    sft = TrainConfig(data="d.jsonl", epochs=1)
    dpo = sft.model_copy(update={"objective": "dpo"})
    assert estimate.DPO_TOKEN_COST > 1
    reference = {name: estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase")
                 for name, cfg in (("sft", sft), ("dpo", dpo))}
    assert reference["dpo"].tokens_per_s == pytest.approx(reference["sft"].tokens_per_s / estimate.DPO_TOKEN_COST)
    # The same optimizer steps take the same seconds under either objective, up to fixed_tokens' rounding to whole
    # tokens (half a token each side; on one thread that is 0.3% here, so an exact comparison failed there).
    steps = {k: e.fixed_tokens / e.tokens_per_s for k, e in reference.items()}
    rounding = sum(0.5 / e.tokens_per_s for e in reference.values())
    assert steps["dpo"] == pytest.approx(steps["sft"], abs=rounding) and steps["sft"] > 0
    assert "a DPO token taken as" in reference["dpo"].assumptions[0]
    assert "DPO" not in reference["sft"].assumptions[0]
    (runs_dir() / "pairs").mkdir()
    (runs_dir() / "pairs" / "run.json").write_text(json.dumps({
        "base": {"name": "mybase"}, "method": "lora", "objective": "dpo", "computed_tokens_per_s": 60.0,
        "created_at": "2026-01-01T00:00:00+00:00"}))
    assert estimate.estimate_training(shape, [100] * 10, dpo, base_name="mybase").tokens_per_s == pytest.approx(60.0)
    assert estimate.estimate_training(shape, [100] * 10, sft, base_name="mybase").tokens_per_s == pytest.approx(
        60.0 * estimate.DPO_TOKEN_COST)


def test_a_heads_estimate_counts_the_layers_it_trains(monkeypatch):
    """A head on a decoder trains the top classifier_layers of the classifier_depth it keeps (the rest run once); a
    sentence encoder trains whole. The reference is measured on e5: 453 tokens/s on its 21.5M layer weights, plus
    fixed costs worth 13,600 tokens (30 s)."""
    from tuneforge.config import TrainConfig

    monkeypatch.setattr(estimate, "cpu_threads", lambda: 1)  # the reference's own thread count

    e5 = estimate.ModelShape(params=117_505_920, hidden=384, layers=12, vocab=250_037, intermediate=1536, heads=12,
                             kv_heads=12)
    head = TrainConfig(data="d.jsonl", variant_type="classification", method="full", epochs=10, batch_size=16,
                       classifier_freeze_embeddings=True)
    on_e5 = estimate.estimate_training(e5, [20] * 100, head, encoder=True)
    assert on_e5.tokens_per_s == pytest.approx(453.2, rel=1e-3) and on_e5.train_tokens == 20_000
    assert on_e5.seconds == pytest.approx((20_000 + 13_600) / 453.2, rel=1e-3)  # 30 s of it fixed
    assert on_e5.work().startswith("~74 s (~30 s of it fixed) for 20,000 tokens at 453 tokens/s")
    assert on_e5.memory_parts["gradients + AdamW state (fp32)"] == 12 * 21_491_712  # frozen embeddings: no state
    smollm2 = estimate.ModelShape(params=134_515_008, hidden=576, layers=30, vocab=49_152, intermediate=1536, heads=9,
                                  kv_heads=3)
    decoder = head.model_copy(update={"method": "lora", "classifier_depth": 8, "classifier_layers": 8})
    eight = estimate.estimate_training(smollm2, [20] * 100, decoder)
    four = estimate.estimate_training(smollm2, [20] * 100, decoder.model_copy(update={"classifier_layers": 4}))
    per_layer = (134_515_008 - 49_152 * 576) // 30
    assert eight.tokens_per_s == pytest.approx(estimate.MEASURED_CLS_PARAM_TOKENS_PER_S / (8 * per_layer))
    assert four.tokens_per_s == pytest.approx(2 * eight.tokens_per_s)


def test_a_measured_heads_pace_counts_its_fixed_costs_as_tokens(monkeypatch, tiny_model_dir):
    """A head's run on this machine gives the pace of its tokens and fixed costs together: (tokens + 13,600) over
    its whole time, so a run on a small file does not make the next estimate for a large one long."""
    from tuneforge.config import TrainConfig
    from tuneforge.paths import runs_dir

    monkeypatch.setattr(estimate, "cpu_threads", lambda: 1)
    (runs_dir() / "small").mkdir()
    (runs_dir() / "small" / "run.json").write_text(json.dumps({
        "base": {"name": "mybase"}, "method": "full", "objective": "classification", "cpu_threads": 1,
        "trained_tokens": 6_400, "wall_time_s": 50.0, "computed_tokens_per_s": 128.0,
        "created_at": "2026-01-01T00:00:00+00:00"}))
    head = TrainConfig(data="d.jsonl", variant_type="classification", method="full", epochs=1, batch_size=16)
    big = estimate.estimate_training(estimate.model_shape(tiny_model_dir), [100] * 1000, head, base_name="mybase",
                                     encoder=True)
    assert big.tokens_per_s == pytest.approx(400.0)  # (6,400 + 13,600) / 50 s, not the 128 tokens/s it read
    assert big.seconds == pytest.approx((100_000 + 13_600) / 400.0)


def test_the_reference_rates_are_for_one_thread_and_scaled_to_the_threads_training_takes(monkeypatch,
                                                                                         tiny_model_dir):
    """The reference figures were measured on one core; a run takes every core (measured 1.69x for LoRA, 1.25x for
    a head's whole run on two threads). More threads than two were not measured and count as two."""
    from tuneforge.config import TrainConfig

    shape = estimate.model_shape(tiny_model_dir)
    lora = TrainConfig(data="d.jsonl", epochs=1, method="lora")
    head = TrainConfig(data="d.jsonl", variant_type="classification", method="full", epochs=1, batch_size=16)
    rates = {}
    for threads in (1, 2, 16):
        monkeypatch.setattr(estimate, "cpu_threads", lambda threads=threads: threads)
        rates[threads] = (estimate.estimate_training(shape, [100] * 10, lora, base_name="mybase"),
                          estimate.estimate_training(shape, [20] * 10, head, base_name="mybase", encoder=True))
    one, two, many = rates[1], rates[2], rates[16]
    assert two[0].tokens_per_s == pytest.approx(1.69 * one[0].tokens_per_s)
    assert two[1].tokens_per_s == pytest.approx(1.25 * one[1].tokens_per_s)
    assert [e.tokens_per_s for e in many] == [e.tokens_per_s for e in two]
    assert "one idle CPU core" in one[0].assumptions[0] and "threads" not in one[0].assumptions[0]
    assert "x1.69 on 2 CPU threads (measured on two)" in two[0].assumptions[0]
    assert "x1.25 on 16 CPU threads (measured on two; more count as two)" in many[1].assumptions[0]


def test_a_measured_run_is_converted_to_the_threads_training_takes_now(monkeypatch, tiny_model_dir):
    """A run's rate holds for its own thread count (run.json `cpu_threads`); a GPU run records none and is taken as
    it is, as are runs from before the count was recorded."""
    from tuneforge.config import TrainConfig
    from tuneforge.paths import runs_dir

    shape = estimate.model_shape(tiny_model_dir)
    cfg = TrainConfig(data="d.jsonl", epochs=1, method="lora")
    run = runs_dir() / "r1"
    run.mkdir()

    def record(threads):
        (run / "run.json").write_text(json.dumps({"base": {"name": "mybase"}, "method": "lora", "objective": "sft",
                                                  "computed_tokens_per_s": 100.0, "cpu_threads": threads,
                                                  "created_at": "2026-01-01T00:00:00+00:00"}))

    monkeypatch.setattr(estimate, "cpu_threads", lambda: 2)
    record(1)
    faster = estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase")
    assert faster.tokens_per_s == pytest.approx(169.0)
    assert "run r1 on this machine, converted from its 1 CPU thread(s) to 2" in faster.assumptions[0]
    for same in (2, 8, None):  # eight count as two; None: a GPU run, or one from before the count was recorded
        record(same)
        assert estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase").tokens_per_s == 100.0
    monkeypatch.setattr(estimate, "cpu_threads", lambda: 1)
    record(2)
    assert estimate.estimate_training(shape, [100] * 10, cfg, base_name="mybase").tokens_per_s == pytest.approx(
        100.0 / 1.69)


def test_the_thread_count_comes_from_torch_once_imported_else_from_the_environment(monkeypatch):
    import sys

    import torch

    assert estimate.cpu_threads() == torch.get_num_threads()
    monkeypatch.delitem(sys.modules, "torch")  # as in `data report`, which does not import torch
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert estimate.cpu_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert estimate.cpu_threads() == len(__import__("os").sched_getaffinity(0))


def test_report_command_prints_a_summary_and_writes_self_contained_html(tmp_path, tiny_model_dir):
    rows = _rows(40)
    rows[3] = chat_row(rows[3]["messages"][1]["content"] + " mail a.b@example.com", "software")
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    html_path = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["data", "report", str(data), "--base", str(tiny_model_dir),
                                      "--variant-type", "generative", "--method", "lora", "--html", str(html_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "160 valid examples of 160 rows" in out and "labels (4)" in out
    assert "Personal data (e-mail, phone, IBAN, card): 1" in out
    assert re.search(r"estimate \(lora\): .+ for [\d,]+ tokens.+ at [\d,.]+ tokens/s, memory ~[\d.]+ MiB", out, re.S)
    assert "verdict: fine-tune" in out
    page = html_path.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "Verdict: fine-tune" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<link" not in page  # nothing to download
    assert "Label balance (4 labels)" in page and "Training estimate (lora)" in page
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 4  # labels, answer lengths, example lengths, memory
    for svg in charts:
        ElementTree.fromstring(svg)  # well-formed, so browsers draw it


def _free_text_rows(n: int) -> list[dict]:
    return [chat_row(f"customer question {k} about order {k * 37 % 101}",
                     f"Thank you for asking about order {k * 37 % 101}; it ships in {k % 5 + 2} days.")
            for k in range(n)]


def _said(text: str) -> str:
    return " ".join(text.split())


def test_with_no_flags_the_report_estimates_the_run_train_would_make(tmp_path, tiny_model_dir, one_torch_thread):
    """`data report` and `train` with no settings choose alike (train/defaults.py): the same lines, the same method."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    data = write_jsonl(tmp_path / "d.jsonl", _free_text_rows(120))
    report = CliRunner().invoke(app, ["data", "report", str(data), "--base", str(tiny_model_dir)])
    assert report.exit_code == 0, report.output
    out = report.output.splitlines()
    start = out.index("`tuneforge train` with the settings given here would choose:") + 1
    would = sorted(line.strip() for line in out[start:] if line.startswith("  ") and "=" in line.split()[0])
    lines = []
    train(TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(tmp_path / "run"), max_steps=1,
                      progress=False), log=lines.append)
    # precision is chosen from the device when the model loads, not from the data: the report leaves it to train.
    chose = sorted(line.removeprefix("chose ") for line in lines
                   if line.startswith("chose ") and not line.startswith("chose precision="))
    assert would == chose and any(c.startswith("method=full") for c in chose)  # the tiny base is a small base
    assert "estimate (full): " in report.output
    # A setting given to the report is kept, as train keeps it.
    lora = CliRunner().invoke(app, ["data", "report", str(data), "--base", str(tiny_model_dir),
                                    "--method", "lora", "--epochs", "1"]).output
    assert "estimate (lora): " in lora and "  method=" not in lora and "  epochs=" not in lora
    assert "  lr=0.0002 (lora/sft" in lora  # the rate rule follows the given method


@pytest.mark.parametrize("encoder", [False, True])
def test_for_labels_the_report_estimates_the_classification_run_train_makes(tmp_path, tiny_model_dir, tiny_encoder_dir,
                                                                           encoder, one_torch_thread):
    """Label data: `train` fits a head, and the report's estimate is the line that run prints (the head's own
    tokenizer, trained layers and epochs), on a decoder's bottom layers or a whole sentence encoder."""
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import inspect_file
    from tuneforge.data.readiness import BaseModelInfo
    from tuneforge.models.classifier import head_token_counts
    from tuneforge.models.load import load_length_tokenizer
    from tuneforge.train.defaults import choose_defaults
    from tuneforge.train.sft import train

    base = str(tiny_encoder_dir if encoder else tiny_model_dir)
    data = write_jsonl(tmp_path / "d.jsonl", _rows(40))
    asked = TrainConfig(data=str(data), base=base)
    tok, limit, folder, note = load_length_tokenizer(str(tiny_model_dir), 1024)  # the report's token counter
    report = assess(inspect_file(data), str(data), None, BaseModelInfo(str(tiny_model_dir), tok, limit, folder, note),
                    asked, plan=choose_defaults, head_tokens=head_token_counts)
    assert any(p.startswith("variant_type=classification (4 labels") for p in report.plan)
    lines = []
    train(TrainConfig(data=str(data), base=base, out=str(tmp_path / "run"), progress=False),
          log=lines.append)
    assert [line for line in lines if line.startswith("estimate:")] == [report.estimate.describe()]
    assert report.estimate.method.endswith("classification head")
    import torch

    assert json.loads((tmp_path / "run" / "run.json").read_text())["cpu_threads"] == torch.get_num_threads()
    # The command with --base: a sentence encoder has no chat template to count answers with, and is planned all
    # the same (it was once left with no plan and no estimate).
    said = _said(CliRunner().invoke(app, ["data", "report", str(data), "--base", base]).output)
    assert "would choose: variant_type=classification (4 labels" in said and "verdict: fine-tune" in said
    assert f"estimate ({'full' if encoder else 'lora'}, classification head): " in said


def test_a_sentence_encoder_given_free_text_is_refused_by_train_and_said_so_by_the_report(tmp_path, tiny_encoder_dir):
    """An encoder learns labels only: `train` refuses free-text answers before loading anything, naming --base,
    and the report gives the same reason beside its verdict on the data instead of a plan."""
    data = write_jsonl(tmp_path / "d.jsonl", _free_text_rows(120))
    trained = CliRunner().invoke(app, ["train", str(data), "--base", str(tiny_encoder_dir), "--out",
                                       str(tmp_path / "run")])
    assert trained.exit_code != 0 and not (tmp_path / "run").exists()
    assert "base: " in trained.output and "is a sentence encoder: it can only learn a classification" in _said(
        trained.output)
    said = _said(CliRunner().invoke(app, ["data", "report", str(data), "--base", str(tiny_encoder_dir)]).output)
    assert "verdict: fine-tune" in said and "would choose:" not in said and "estimate (" not in said
    assert "`tuneforge train` refuses the settings given: base: " in said and "these answers are not labels" in said
    # `data check` says why it counts no chat tokens for an encoder instead of blaming a missing chat template.
    checked = _said(CliRunner().invoke(app, ["data", "check", str(data), "--base", str(tiny_encoder_dir)]).output)
    assert ("is a sentence encoder: it reads the inputs only, so the tokens counted are those of the user text"
            in checked)
    assert "chat template" not in checked


def test_data_check_on_a_sentence_encoder_names_the_rows_whose_user_text_it_cuts(tmp_path, tiny_encoder_dir):
    """A head on an encoder reads the first max_seq_len tokens of the user text (at most the encoder's own limit):
    `data check --base ENCODER` counts those tokens and warns, by line, where the rest is dropped; it refuses
    nothing, since training cuts rather than refuses."""
    rows = _rows(6)
    rows[3] = chat_row(" ".join(f"word{k}" for k in range(40)), rows[3]["messages"][-1]["content"])
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    checked = CliRunner().invoke(app, ["data", "check", str(data), "--base", str(tiny_encoder_dir),
                                       "--max-seq-len", "64"])
    said = _said(checked.output)
    assert checked.exit_code == 0, said
    assert f"{data}:4: warning [messages]: the user text is " in said
    assert "the sentence encoder reads the first 64 and drops the rest" in said
    assert said.count("drops the rest") == 1  # the short lines are read whole
    longest = int(said.split("tokens: longest example ")[1].split(",")[0])
    assert longest > 64  # the long line's user text, counted in the encoder's tokens (no chat around it)


def test_the_report_and_train_say_how_many_inputs_a_head_on_an_encoder_cuts(tmp_path, tiny_encoder_dir,
                                                                           one_torch_thread):
    """Training cuts a user text longer than the head reads; the report's plan and `train` say how many."""
    rows = _rows(6)
    for k in range(0, 24, 4):  # one long text per label and then some, so the training split holds some
        rows[k] = chat_row(" ".join(f"word{j}" for j in range(40)), rows[k]["messages"][-1]["content"])
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    base = ["--base", str(tiny_encoder_dir), "--max-seq-len", "64"]
    said = _said(CliRunner().invoke(app, ["data", "report", str(data), *base]).output)
    cut = said.split(" training inputs are longer than the classification head reads (64 tokens)")[0].split()
    assert 0 < int(cut[-3]) <= 6 and cut[-2] == "of", said  # "K of N training inputs ..."
    trained = CliRunner().invoke(app, ["train", str(data), *base, "--epochs", "1", "--out", str(tmp_path / "run")])
    assert trained.exit_code == 0, trained.output
    told = f"warning: {cut[-3]} of {cut[-1]} training inputs are longer than the classification head reads (64 tokens)"
    assert told in _said(trained.output)


def test_report_without_tokenizer_still_reports(tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", _rows(40))
    result = CliRunner().invoke(app, ["data", "report", str(data), "--base", "none"])
    assert result.exit_code == 0 and "verdict: fine-tune" in result.output
    assert (tmp_path / "train.report.html").is_file()


def test_report_accepts_an_empty_load():
    r = assess(LoadResult([], [], "chat"), "empty.jsonl")
    assert r.verdict == "collect more data"


def test_the_report_estimates_dpo_on_a_pair_file_when_asked(tmp_path, tiny_model_dir, one_torch_thread):
    """`data report --objective dpo` plans and estimates the run `train --objective dpo` makes: both answers of each
    pair, priced as DPO; with no --objective it plans SFT on the chosen answers, as `train` does, and says so."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    pairs = [{"prompt": r["messages"][:-1], "chosen": r["messages"][-1]["content"],
              "rejected": LABELS[(LABELS.index(r["messages"][-1]["content"]) + 1) % 4]} for r in _rows(6)]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    report = CliRunner().invoke(app, ["data", "report", str(data), "--base", str(tiny_model_dir)])
    assert report.exit_code == 0, report.output
    assert "20 of 20 rows are preference pairs: SFT learns their chosen answers" in _said(report.output)  # 4 held out
    given = ["--base", str(tiny_model_dir), "--objective", "dpo", "--epochs", "1", "--batch-size", "4"]
    dpo = CliRunner().invoke(app, ["data", "report", str(data), *given])
    assert dpo.exit_code == 0, dpo.output
    assert "preference pairs" not in dpo.output and "  objective=" not in dpo.output  # given, as train keeps it
    assert "variant_type=generative (DPO learns preferences between texts)" in _said(dpo.output)
    sft = CliRunner().invoke(app, ["data", "report", str(data), *given[:2], *given[4:], "--variant-type",
                                   "generative"]).output
    tokens = [int(re.search(r"for ([\d,]+) tokens", _said(out))[1].replace(",", "")) for out in (sft, dpo.output)]
    assert tokens[1] > 1.5 * tokens[0]  # each pair's two answers, not the chosen one alone
    estimated = re.search(r"estimate \(\w+\): (.*?), memory", _said(dpo.output))[1]
    lines = []
    train(TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(tmp_path / "run"), objective="dpo", epochs=1,
                      batch_size=4, progress=False), log=lines.append)
    assert f"estimate: {estimated}," in _said(next(line for line in lines if line.startswith("estimate:")))
