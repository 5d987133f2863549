"""`tuneforge eval` as users run it, on tiny random models: every system, intervals, tests, leakage, cost,
the judge, `eval report` and `eval gate`; a fake OpenAI-compatible server plays the hosted model and the judge."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from conftest import FakeOpenAI, chat_row, write_jsonl
from tuneforge.cli.main import app

LINES = {
    "software": ["adobe licence", "microsoft 365 subscription", "github team plan", "slack annual", "jira cloud"],
    "travel": ["train ticket berlin", "klm flight amsterdam", "hotel room munich", "taxi airport", "rail pass"],
    "hardware": ["dell laptop", "lenovo monitor", "usb keyboard", "apple macbook", "logitech mouse"],
}


def _fake_respond(messages, model):
    """The hosted model always answers "travel"; the judge prefers the longer answer (tie when equal), so
    its verdicts do not depend on which side an answer is shown."""
    if model == "hosted":
        return "travel"
    m = re.search(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n\nWhich", messages[-1]["content"], re.S)
    a, b = m.group(1), m.group(2)
    return "tie" if len(a) == len(b) else ("A" if len(a) > len(b) else "B")


@pytest.fixture(scope="module")
def evaluated(tiny_model_dir, tmp_path_factory):
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    d = tmp_path_factory.mktemp("eval-cli")
    data = write_jsonl(d / "labels.jsonl", [chat_row(t, lab) for lab, ts in LINES.items() for t in ts])
    common = dict(data=str(data), base=str(tiny_model_dir), variant_type="generative", batch_size=4, lr=5e-3, lora_r=8, eval_split=0.2,
                  progress=False)
    run1 = train(TrainConfig(out=str(d / "run1"), epochs=4, **common), log=lambda *_: None)
    run2 = train(TrainConfig(out=str(d / "run2"), epochs=2, seed=7, **common), log=lambda *_: None)
    fake = FakeOpenAI()
    fake.respond = _fake_respond
    out = d / "eval" / "eval.json"
    result = CliRunner().invoke(app, [
        "eval", "--model", str(run1), "--variants", f"other={run2}", "--eval-data", str(data), "--shots", "2",
        "--endpoint-url", fake.url, "--endpoint-model", "hosted", "--price-in", "1000", "--price-out", "2000",
        "--judge-url", fake.url, "--judge-model", "judge", "--bootstrap", "200", "--out", str(out),
        "--embedder", "base",  # the tiny base's own hidden states; the packaged encoder has its unit test
    ])
    fake.close()
    assert result.exit_code == 0, result.output
    yield {"dir": d, "data": data, "runs": (run1, run2), "out": out, "output": result.output, "fake": fake,
           "report": json.loads(out.read_text())}


def test_every_system_is_evaluated_with_intervals(evaluated):
    report = evaluated["report"]
    assert report["task"] == "classification" and report["labels"] == ["hardware", "software", "travel"]
    assert list(report["systems"]) == [
        "base zero-shot", "base few-shot random (k=2)", "base few-shot similar (k=2)",
        "base zero-shot (constrained)", "fine-tuned", "fine-tuned (constrained)", "other", "other (constrained)",
        "endpoint hosted", "tf-idf + logistic regression", "embeddings + logistic regression",
    ]
    for name, s in report["systems"].items():
        assert s["n"] == 15 and set(s["metrics"]) >= {"accuracy", "macro_f1", "out_of_label_share"}
        for metric, value in s["metrics"].items():
            lo, hi = s["ci"][metric]
            assert lo <= value + 1e-9 and value <= hi + 1e-9, (name, metric)
        assert s["latency_p50_s"] <= s["latency_p95_s"]
        assert "confusion" in s["details"] and "per_class" in s["details"]
        if s["decoding"] == "constrained":
            assert s["metrics"]["out_of_label_share"] == 0.0
    # Few-shot prompts carry the shots: longer than zero-shot ones.
    assert report["systems"]["base few-shot random (k=2)"]["mean_tokens_in"] > report["systems"]["base zero-shot"]["mean_tokens_in"]
    ex = report["examples"][0]
    assert set(ex["predictions"]) == set(report["systems"]) and "reference" in ex and "scores" in ex
    # Each metric is stored once, under "metrics", and the file says which schema it follows.
    assert report["format"] == "tuneforge.eval/3" and "accuracy" not in report["systems"]["fine-tuned"]


def test_non_llm_baselines_are_systems_with_their_cost(evaluated):
    """Trained on run1's training split (12 of the 15 rows; eval_split 0.2), timed, tested against the variant,
    shown in the terminal, the HTML report and the recommendation."""
    report = evaluated["report"]
    for name in ("tf-idf + logistic regression", "embeddings + logistic regression"):
        s = report["systems"][name]
        assert s["kind"] == "classical" and s["decoding"] == "classifier"
        c = s["classical"]
        assert c["train_examples"] == 12 and c["fit_s"] > 0 and c["predict_ms_per_example"] > 0
        assert c["train_data"] == str(evaluated["data"].resolve())
        assert s["metrics"]["out_of_label_share"] == 0.0  # a classifier only ever answers a label
        assert any(t["a"] == "fine-tuned" and t["b"] == name for t in report["significance"])
    assert "mean-pooled hidden states" in report["systems"]["embeddings + logistic regression"]["classical"]["features"]
    # The eval data is the training file, so TF-IDF has seen 12 of the 15 inputs: it is near perfect.
    assert report["systems"]["tf-idf + logistic regression"]["metrics"]["accuracy"] >= 0.8
    assert "Best system overall: " in report["recommendation"]
    assert "non-LLM baselines" in evaluated["output"] and "ms/example" in evaluated["output"]
    html = (evaluated["out"].parent / "report.html").read_text()
    assert 'id="classical"' in html and "tf-idf + logistic regression" in html


def test_endpoint_cost_and_accuracy_by_hand(evaluated):
    s = evaluated["report"]["systems"]["endpoint hosted"]
    assert s["metrics"]["accuracy"] == pytest.approx(5 / 15)  # always "travel": right on the 5 travel lines
    requests = [r["body"] for r in evaluated["fake"].requests if r["body"]["model"] == "hosted"]
    mean_in = sum(sum(len(m["content"].split()) for m in b["messages"]) for b in requests) / len(requests)
    assert s["mean_tokens_in"] == pytest.approx(mean_in) and s["mean_tokens_out"] == 1
    # 1,000 requests x (mean_in tokens x 1000/1M + 1 token x 2000/1M)
    assert s["cost_per_1k_requests"] == pytest.approx(mean_in + 2)


def test_judge_counts_survive_the_random_order(evaluated):
    judge = evaluated["report"]["judge"]
    hosted = judge["results"]["endpoint hosted"]
    # "travel" (6 chars) against the reference: shorter than "software"/"hardware" (10 losses), equal to
    # "travel" (5 ties).
    assert (hosted["wins"], hosted["losses"], hosted["ties"]) == (0, 10, 5)
    assert hosted["win_rate"] == pytest.approx(2.5 / 15)
    sides = {v["candidate_first"] for v in hosted["verdicts"]}
    assert sides == {True, False}


def test_leakage_and_significance(evaluated):
    report = evaluated["report"]
    # The eval data is the training file itself: every input leaks, for both variants.
    assert report["leakage"]["fine-tuned"]["overlap"] == 15 and report["leakage"]["other"]["overlap"] == 15
    assert "leakage" in evaluated["output"] and "inflated" in report["recommendation"]
    tests = [t for t in report["significance"] if t["a"] == "fine-tuned"]
    assert {t["b"] for t in tests} == set(report["systems"]) - {"fine-tuned"}
    assert all(0 < t["p_value"] <= 1 for t in tests)
    assert all("mcnemar" in t for t in tests if t["metric"] == "accuracy")
    assert (evaluated["out"].parent / "report.html").is_file()


def test_variants_answer_with_their_own_adapter(evaluated, tiny_model_dir):
    import torch
    from peft import PeftModel

    from tuneforge.config import EvalConfig
    from tuneforge.eval.systems import activate, load_models, parse_variants
    from tuneforge.models.load import load_model

    run1, run2 = evaluated["runs"]
    cfg = EvalConfig(model=str(run1), data=str(evaluated["data"]), variants=f"other={run2}")
    variants = parse_variants(cfg)
    loaded = load_models(cfg, variants)
    ids = torch.tensor([[1, 5, 9, 12, 3]])
    with torch.no_grad():
        outputs = {}
        for name, adapter in (("base", None), ("run1", "default"), ("run2", "other")):
            with activate(loaded, adapter):
                outputs[name] = loaded.model(ids).logits
        for name, path in (("run1", run1), ("run2", run2)):
            alone = PeftModel.from_pretrained(load_model(tiny_model_dir), path).eval()
            assert torch.allclose(outputs[name], alone(ids).logits, atol=1e-5), name
        assert torch.allclose(outputs["base"], load_model(tiny_model_dir)(ids).logits, atol=1e-5)
    assert not torch.allclose(outputs["run1"], outputs["run2"])


def test_eval_report_command(evaluated, tmp_path):
    html = tmp_path / "again.html"
    result = CliRunner().invoke(app, ["eval", "report", str(evaluated["out"]), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "Recommendation" in result.output and "endpoint hosted" in result.output
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_gate_on_one_report(evaluated):
    out = str(evaluated["out"])
    runner = CliRunner()
    same = ["eval", "gate", "--report", out, "--candidate", "fine-tuned", "--incumbent", "fine-tuned", "--metric", "accuracy"]
    r = runner.invoke(app, same)  # equal is not better
    assert r.exit_code == 1 and "FAIL" in r.output
    # A tolerance allows a tie, once the significance test (a tie is never significant) is turned off.
    r = runner.invoke(app, same[:-2] + ["--metric", "accuracy", "--min-delta", "-0.01", "--confidence", "0"])
    assert r.exit_code == 0 and "PASS" in r.output
    r = runner.invoke(app, same[:-2] + ["--metric", "bleu"])
    assert r.exit_code == 1 and "no metric 'bleu'" in r.output


def test_old_spelling_still_works(tiny_model_dir, tmp_path):
    """`tuneforge eval --model BASE --data FILE` (issue 2), on a base model: prompted systems only."""
    data = write_jsonl(tmp_path / "d.jsonl", [chat_row(t, lab) for lab, ts in LINES.items() for t in ts[:2]])
    out = tmp_path / "eval.json"
    r = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data", str(data), "--shots", "0",
                                 "--bootstrap", "50", "--no-constrained", "--out", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert list(report["systems"]) == ["base zero-shot"] and "Only prompted systems" in report["recommendation"]
    r = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir)])
    assert r.exit_code == 2 and "data" in r.output


@pytest.mark.parametrize("task", ["structured", "text"])
def test_text_tasks_run_through_eval(task, tiny_model_dir, tmp_path):
    if task == "structured":
        answers = [f"## Profile\nperson {i}\n## Skills\nskill {i}" for i in range(4)]
        extra = ["--sections", "Profile,Skills", "--max-words", "20"]
    else:
        answers = ["the invoice is late", "please pay soon", "thank you for the order", "the goods arrived"]
        extra = []
    data = write_jsonl(tmp_path / "d.jsonl", [chat_row(f"write {i}", a) for i, a in enumerate(answers)])
    out = tmp_path / "eval.json"
    r = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data", str(data), "--shots", "0",
                                 "--bootstrap", "50", "--max-new-tokens", "6", "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["task"] == task
    s = report["systems"]["base zero-shot"]
    assert list(report["systems"]) == ["base zero-shot"]  # no constrained decoding for free-form text
    expected = {"format_ok", "sections_in_order", "rouge_l", "chrf"} if task == "structured" else {"rouge_l", "chrf"}
    assert expected <= set(s["metrics"]) and expected <= set(s["ci"])
    if task == "structured":
        assert report["task_spec"]["sections"] == ["Profile", "Skills"]
        # 6 new tokens cannot hold both sections: every answer misses at least one.
        assert s["metrics"]["format_ok"] == 0.0 and s["details"]["missing_sections"]


def test_unreachable_endpoint_is_a_clear_error(tiny_model_dir, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = write_jsonl(tmp_path / "d.jsonl", [chat_row(t, lab) for lab, ts in LINES.items() for t in ts[:2]])
    r = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--data", str(data), "--shots", "0",
                                 "--no-constrained", "--bootstrap", "0", "--out", str(tmp_path / "e.json"),
                                 "--endpoint-url", f"http://127.0.0.1:{port}/v1", "--endpoint-model", "m"])
    assert r.exit_code == 1 and f"endpoint http://127.0.0.1:{port}/v1/" in r.output and "model 'm'" in r.output
    assert not (tmp_path / "e.json").exists()


def test_half_configured_judge_fails_before_any_work(tmp_path):
    r = CliRunner().invoke(app, ["eval", "--model", "no-such-model", "--data", str(tmp_path / "none.jsonl"),
                                 "--judge-url", "http://127.0.0.1:1/v1"])
    assert r.exit_code == 1 and "--judge-url and --judge-model go together" in r.output
