"""The CLI as a user drives it: subprocesses for start-up cost, CliRunner for the flows."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from tuneforge.cli.main import app

from conftest import chat_row, write_jsonl

runner = CliRunner()


def test_help_is_instant_and_imports_no_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tuneforge.cli.main import app\n"
        "for cmd in ([], ['train'], ['eval'], ['predict'], ['quickstart'], ['data', 'check'], ['models', 'list']):\n"
        "    r = CliRunner().invoke(app, cmd + ['--help'])\n"
        "    assert r.exit_code == 0, (cmd, r.output)\n"
        "    assert 'Example' in r.output or cmd == [], cmd\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'accelerate') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_data_check_names_broken_line(tmp_path):
    good = json.dumps(chat_row("dell laptop", "hardware"))
    bad = tmp_path / "BAD.jsonl"
    bad.write_text(f"{good}\n{good}\n{{\"messages\": [\n{good}\n", encoding="utf-8")
    r = runner.invoke(app, ["data", "check", str(bad)])
    assert r.exit_code == 1
    assert f"{bad}:3" in r.output and "bad JSON" in r.output


def test_data_check_ok(label_data):
    r = runner.invoke(app, ["data", "check", str(label_data)])
    assert r.exit_code == 0, r.output  # valid, with one warning: under 100 examples (warnings exit 0 without --strict)
    assert "15 examples" in r.output and "format: chat" in r.output and "warnings only" in r.output


def test_train_eval_predict_flow(label_data, tiny_model_dir, tmp_path):
    out = tmp_path / "DIR"
    r = runner.invoke(app, [
        "train", str(label_data), "--base", str(tiny_model_dir), "--variant-type", "generative", "--epochs", "1", "--batch-size", "8",
        "--lr", "2e-4", "--lora-r", "16", "--out", str(out), "--no-progress",
    ])
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["lora_r"] == 16 and run["config"]["lr"] == 2e-4 and run["config"]["epochs"] == 1
    assert (out / "adapter_model.safetensors").is_file() and (out / "tokenizer_config.json").is_file()

    r = runner.invoke(app, ["eval", "--model", str(out), "--eval-data", str(label_data), "--shots", "3"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "eval.json").read_text())
    assert list(report["systems"]) == [
        "base zero-shot", "base few-shot random (k=3)", "base few-shot similar (k=3)", "base zero-shot (constrained)",
        "fine-tuned", "fine-tuned (constrained)", "tf-idf + logistic regression", "embeddings + logistic regression",
    ]
    assert report["systems"]["embeddings + logistic regression"]["classical"]["encoder"] == "multilingual-e5-small"
    assert report["task"] == "classification" and len(report["examples"]) == 15
    assert all(set(ex["predictions"]) == set(report["systems"]) for ex in report["examples"])
    assert "accuracy" in r.output and "Recommendation" in r.output

    r = runner.invoke(app, ["predict", "--model", str(out), "--max-new-tokens", "4", "dell laptop"])
    assert r.exit_code == 0, r.output


def test_yaml_config_with_flag_override_and_unknown_key(label_data, tiny_model_dir, tmp_path):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"data: {label_data}\nbase: {tiny_model_dir}\nvariant-type: generative\nepochs: 3\nlora-r: 4\nprogress: false\n")
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--config", str(cfg), "--epochs", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    conf = json.loads((out / "run.json").read_text())["config"]
    assert conf["epochs"] == 1 and conf["lora_r"] == 4

    cfg.write_text(f"data: {label_data}\nlearning_rate: 0.1\n")
    r = runner.invoke(app, ["train", "--config", str(cfg)])
    assert r.exit_code == 2 and "learning_rate: unknown key" in r.output


def test_unknown_base_lists_what_was_tried(label_data, tmp_path):
    r = runner.invoke(app, ["train", str(label_data), "--base", "no-such-model", "--out", str(tmp_path / "x")])
    assert r.exit_code == 1
    assert "cannot resolve base model 'no-such-model'" in r.output and "bundled names" in r.output


def test_refused_data_trains_nothing(tmp_path, tiny_model_dir):
    bad = write_jsonl(tmp_path / "bad.jsonl", [chat_row("a", "b"), {"messages": []}])
    r = runner.invoke(app, ["train", str(bad), "--base", str(tiny_model_dir), "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "bad.jsonl:2" in r.output
    assert not (tmp_path / "x" / "run.json").exists()
