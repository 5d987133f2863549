"""Methods (DoRA, full, QLoRA's up-front refusal), DPO, auto settings, early stopping, trackers, estimate."""

from __future__ import annotations

import functools
import json

import pytest

from conftest import chat_row, tiny_lora_config, write_jsonl
from tuneforge.errors import UserError
from tuneforge.train.sft import train


pytestmark = pytest.mark.usefixtures("one_torch_thread")


_cfg = functools.partial(tiny_lora_config, epochs=3)


def _run(tmp_path, name="run"):
    return json.loads((tmp_path / name / "run.json").read_text())


def test_dora_trains_a_dora_adapter(label_data, tiny_model_dir, tmp_path):
    out = train(_cfg(label_data, tiny_model_dir, tmp_path / "run", method="dora"), log=lambda *_: None)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["use_dora"] is True
    m = _run(tmp_path)["metrics"]
    assert m["final_train_loss"] < m["first_loss"]


def test_full_fine_tuning_saves_a_model_that_loads_as_a_variant(label_data, tiny_model_dir, tmp_path):
    import torch

    from tuneforge.models.load import load_model
    from tuneforge.models.variant import load_for_inference

    out = train(_cfg(label_data, tiny_model_dir, tmp_path / "run", method="full", lr=1e-3), log=lambda *_: None)
    run = _run(tmp_path)
    assert run["method"] == "full" and run["metrics"]["trainable_params"] == run["metrics"]["total_params"]
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    variant = load_for_inference(str(out))
    base = load_model(tiny_model_dir)
    ids = torch.tensor([[1, 5, 9, 12]])
    assert not torch.allclose(base(ids).logits, variant.model(ids).logits)


def test_a_full_fine_tune_is_evaluated_from_its_own_weights_beside_an_adapter_and_the_base(label_data, tiny_model_dir,
                                                                                            tmp_path, monkeypatch):
    """A full fine-tune holds whole weights, not an adapter: eval must answer it from its own model, the LoRA
    variant from its adapter and the prompted baseline from the base. The tiny model's answers are empty text, so
    each system "answers" with a fingerprint of the logits of the model it was handed, as it stood then."""
    import torch

    from tuneforge.config import EvalConfig
    from tuneforge.eval import generate
    from tuneforge.eval.compare import run_eval
    from tuneforge.models.variant import load_for_inference

    probe = torch.tensor([[1, 5, 9, 12]])

    def fingerprint(model) -> str:
        with torch.no_grad():
            return f"{float(model(probe).logits.double().abs().sum()):.6g}"

    def answers_with_fingerprint(model, tokenizer, prompts, max_new_tokens, batch_size=16):
        return [generate.Generation(fingerprint(model), 0.0, 1, 1) for _ in prompts]

    full = train(_cfg(label_data, tiny_model_dir, tmp_path / "full", method="full", lr=1e-3), log=lambda *_: None)
    lora = train(_cfg(label_data, tiny_model_dir, tmp_path / "lora"), log=lambda *_: None)
    monkeypatch.setattr(generate, "generate_batch", answers_with_fingerprint)
    report = run_eval(EvalConfig(model=str(full), variants=f"lora={lora}", eval_data=str(label_data), shots=0,
                                 classical=False, constrained=False, max_new_tokens=6, html="none",
                                 out=str(tmp_path / "eval.json")), log=lambda *_: None)
    got = {name: {ex["predictions"][name] for ex in report["examples"]} for name in report["systems"]}
    want = {name: {fingerprint(load_for_inference(str(folder)).model)}
            for name, folder in (("fine-tuned", full), ("lora", lora), ("base zero-shot", tiny_model_dir))}
    assert got == want and len(set.union(*want.values())) == 3
    assert report["base"] == str(tiny_model_dir)


def test_qlora_without_cuda_fails_before_loading_anything(label_data, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="qlora' needs a CUDA GPU"):
        train(_cfg(label_data, "no-such-model-is-ever-loaded", tmp_path / "run", method="qlora"))
    assert not (tmp_path / "run").exists()


def _pairs(tmp_path):
    rows = []
    # One consistent preference, so a tiny random model can learn it in a few steps.
    for i, (good, bad) in enumerate([("software licence", "travel")] * 12):
        if i % 2:
            rows.append({"prompt": f"line {i}: item", "chosen": good, "rejected": bad})
        else:
            rows.append({
                "input": {"messages": [{"role": "user", "content": f"line {i}: item"}]},
                "preferred_output": [{"role": "assistant", "content": good}],
                "non_preferred_output": [{"role": "assistant", "content": bad}],
            })
    return write_jsonl(tmp_path / "pairs.jsonl", rows)


def test_dpo_starts_at_log2_and_learns_the_preference(tiny_model_dir, tmp_path):
    """At step 0 the adapter is zero, so policy == reference (adapter disabled) and the loss is exactly log 2."""
    import math

    cfg = _cfg(_pairs(tmp_path), tiny_model_dir, tmp_path / "run", objective="dpo", epochs=6, lr=2e-2,
               dpo_beta=0.5, lora_dropout=0.0, eval_split=0.0)
    train(cfg, log=lambda *_: None)
    run = _run(tmp_path)
    assert run["objective"] == "dpo"
    assert run["metrics"]["first_loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert run["metrics"]["final_train_loss"] < 0.6
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("reward_accuracy", 0) > 0.5 for r in records)
    # The trainer's own loss and reward accuracy would agree with each other if it learnt the pair backwards; the
    # saved adapter, read by plain transformers and PEFT, must raise the chosen answer over the rejected one.
    assert _implicit_reward_margin(tiny_model_dir, tmp_path / "run", "line 3: item", "software licence",
                                   "travel") > 0


def _implicit_reward_margin(base, run, prompt: str, chosen: str, rejected: str) -> float:
    """DPO's implicit reward margin: (log pi - log ref)(chosen) - (log pi - log ref)(rejected), answer tokens only."""
    from peft import PeftModel

    from conftest import answer_logprob
    from tuneforge.models.load import load_model, load_tokenizer

    tok = load_tokenizer(run)
    model = PeftModel.from_pretrained(load_model(base), str(run)).eval()

    def margin() -> float:
        logp = {a: answer_logprob(model, tok, [{"role": "user", "content": prompt},
                                               {"role": "assistant", "content": a}])[0] for a in (chosen, rejected)}
        return logp[chosen] - logp[rejected]

    policy = margin()
    with model.disable_adapter():
        reference = margin()
    return policy - reference


PAIR_FILES = {
    "list answers": [{"prompt": "q", "chosen": [{"role": "assistant", "content": "a"}],
                      "rejected": [{"role": "assistant", "content": "b"}]}],
    "TRL prompt-less": [{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                         "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}],
    "OpenAI": [{"input": {"messages": [{"role": "user", "content": "q"}]},
                "preferred_output": [{"role": "assistant", "content": "a"}],
                "non_preferred_output": [{"role": "assistant", "content": "b"}]}],
    "chosen == rejected": [{"prompt": "q", "chosen": "same", "rejected": "same"}],
    "empty chosen": [{"prompt": "q", "chosen": "", "rejected": "b"}],
    "not a pair": [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}],
}


@pytest.mark.parametrize("name", list(PAIR_FILES))
def test_data_check_and_dpo_training_accept_the_same_pair_files(name, tmp_path):
    """One reader: what `data check` calls an error, DPO training refuses on the same line, and the reverse."""
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import dataset_hash, inspect_file, load_preference_pairs
    from tuneforge.data.problems import DataError
    from tuneforge.train.sft import prepare_data

    rows = [{"prompt": "warm-up", "chosen": "yes", "rejected": "no"}] + PAIR_FILES[name]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    check_errors = {p.line for p in inspect_file(path).problems if p.severity == "error"}
    cfg = TrainConfig(data=str(path), objective="dpo", eval_split=0.0)
    try:
        pairs = load_preference_pairs(path, cfg)
    except DataError as err:
        train_errors = {p.line for p in err.problems if p.severity == "error"}
    else:
        train_errors = set()
        assert [p.meta["rejected"] for p in pairs][1] == "b" and pairs[1].messages[-1]["content"] == "a"
        # Hashed once, like every dataset: the version store and training agree on the content hash.
        assert prepare_data(cfg).data_hash == dataset_hash(pairs)
    refused = name in ("chosen == rejected", "empty chosen", "not a pair")  # a chat row in a pair file is refused too
    assert train_errors == check_errors == ({2} if refused else set())


def test_dpo_pairs_are_checked_line_by_line(tmp_path):
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import load_preference_pairs
    from tuneforge.data.problems import DataError

    bad = write_jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "q", "chosen": "a", "rejected": "b"},
        {"prompt": "q", "chosen": "", "rejected": "b"},
        {"input": {"messages": [{"role": "robot", "content": "x"}]}, "preferred_output": "a",
         "non_preferred_output": "b"},
        {"question": "q"},
    ])
    with pytest.raises(DataError) as err:
        load_preference_pairs(bad, TrainConfig(data=str(bad), objective="dpo"))
    lines = {(p.line, p.field) for p in err.value.problems}
    assert {2, 3, 4} == {line for line, _ in lines}
    assert (2, "chosen") in lines and any(line == 3 and "role" in (f or "") for line, f in lines)


def test_dpo_refuses_full_fine_tuning(tmp_path):
    with pytest.raises(ValueError, match="needs an adapter method"):
        train(_cfg(tmp_path / "x.jsonl", "none", tmp_path / "run", objective="dpo", method="full"))


def test_auto_settings_follow_the_documented_rule():
    from tuneforge.train.auto import auto_batch_size, auto_epochs, auto_lr

    assert auto_batch_size(12) == 4 and auto_batch_size(1000) == 16 and auto_batch_size(100_000) == 32
    assert auto_epochs(20, 4) == 12  # OpenAI's rule gives 5 (100 examples seen); 60 steps need 12
    assert auto_epochs(1000, 16) == 3  # 63 steps per epoch: OpenAI's 3 epochs stand
    assert auto_epochs(20_000, 32) == 1  # at most 25,000 examples seen
    # Steps counted as the trainer plans them: 49 rows at batch 4 on two processes make 6 steps an epoch (the last
    # row, too few to give each process one, is dropped), so 60 steps take 10 epochs, not the 9 of ceil(49 / 8).
    assert auto_epochs(49, 4, world=2) == 10
    assert auto_lr("lora", "sft", 16) == 4e-4 and auto_lr("lora", "sft", 4) == 2e-4
    assert auto_lr("full", "sft", 64) == 1.6e-4 and auto_lr("full", "sft", 4) == 4e-5
    assert auto_lr("full", "dpo", 16) == 2e-6
    assert auto_lr("lora", "dpo", 16) == 2e-5


def test_auto_settings_are_applied_and_recorded(label_data, tiny_model_dir, tmp_path):
    logs = []
    train(_cfg(label_data, tiny_model_dir, tmp_path / "run", auto_epochs=True, auto_batch_size=True, auto_lr=True,
               epochs=1, batch_size=64, lr=0.5), log=logs.append)
    config = _run(tmp_path)["config"]
    assert (config["epochs"], config["batch_size"], config["lr"]) == (20, 4, 2e-4)
    assert any(line.startswith("chose epochs=20") for line in logs)
    assert any(line.startswith("estimate: ~") and "MiB" in line for line in logs)


def test_early_stopping_keeps_the_best_weights_and_warns_of_overfitting(label_data, tiny_model_dir, tmp_path):
    """Eval answers contradict the training answers, so learning the training set makes eval loss rise."""
    import torch
    from safetensors.torch import load_file

    lines = [json.loads(x) for x in label_data.read_text().splitlines()]
    flipped = [chat_row(r["messages"][1]["content"], "hardware" if r["messages"][2]["content"] != "hardware"
                        else "travel") for r in lines]
    evals = write_jsonl(tmp_path / "eval.jsonl", flipped)
    logs = []
    out = train(_cfg(label_data, tiny_model_dir, tmp_path / "run", eval_data=str(evals), epochs=30, lr=3e-2,
                     early_stopping_patience=2, lora_dropout=0.0), log=logs.append)
    m = _run(tmp_path)["metrics"]
    assert m["stopped_early"] and len(m["epochs"]) < 30
    assert m["best_eval_loss"] == min(e[1] for e in m["evals"])
    assert m["best_step"] < m["steps"]
    assert any("possible overfitting" in line for line in logs)
    best = load_file(out / "checkpoints" / "best" / "trainable.safetensors")
    final = load_file(out / "adapter_model.safetensors")
    b_keys = sorted(k for k in best if "lora_B" in k)
    f_keys = sorted(k for k in final if "lora_B" in k)
    assert len(b_keys) == len(f_keys) > 0
    for bk, fk in zip(b_keys, f_keys):
        assert torch.equal(best[bk], final[fk])
    # The saved best is the best evaluation's step (not the last evaluation's, which the final weights would match
    # too if every evaluation overwrote it), and training stopped exactly `patience` evaluations after it.
    from safetensors import safe_open

    with safe_open(str(out / "checkpoints" / "best" / "trainable.safetensors"), "pt") as f:
        assert f.metadata()["step"] == str(m["best_step"])
    losses = [e[1] for e in m["evals"]]
    assert len(losses) - 1 - losses.index(min(losses)) == 2


def test_tensorboard_events_and_missing_tracker_error(label_data, tiny_model_dir, tmp_path, monkeypatch):
    import importlib.util

    train(_cfg(label_data, tiny_model_dir, tmp_path / "run", epochs=1, report_to="tensorboard"), log=lambda *_: None)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    # "Not installed" is simulated, so the test means the same whether or not mlflow and wandb are installed here.
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(UserError, match="report_to: mlflow requested but not installed"):
        train(_cfg(label_data, tiny_model_dir, tmp_path / "r2", report_to="tensorboard,mlflow"))
    assert not (tmp_path / "r2").exists()  # refused before anything was written
