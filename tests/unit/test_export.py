"""Exports answer like the adapter: merged safetensors and GGUF (loaded back with transformers), plus Modelfile."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.export.export import ExportOptions, export_variant
from tuneforge.export.modelfile import ollama_template


def test_merged_export_loads_with_transformers_and_matches_adapter(tiny_variants, tmp_path):
    from transformers import AutoModelForCausalLM

    folder, report = export_variant(tiny_variants["alpha"], tmp_path / "merged", "merged", parity_samples=4)
    assert report.passed and report.matches == 4, report.mismatches
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("adapter_*"))
    assert not list(folder.glob("*.bin"))  # safetensors only
    AutoModelForCausalLM.from_pretrained(folder)  # a plain transformers model now
    record = json.loads((folder / "tuneforge-export.json").read_text())
    assert record["kind"] == "merged-safetensors" and record["data_hash"] == "sha256:tiny-variant-1"
    assert json.loads((folder / "parity.json").read_text())["passed"] is True


def test_merged_model_answers_without_a_system_prompt_as_predict_does(tiny_variants, tmp_path):
    """A plain transformers user, no system prompt, no generation arguments: the trained behaviour."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.eval.generate import generate_batch
    from tuneforge.export.parity import sample_prompts
    from tuneforge.models.variant import load_for_inference

    folder, _ = export_variant(tiny_variants["alpha"], tmp_path / "merged", "merged", parity_samples=0)
    loaded = load_for_inference(str(tiny_variants["alpha"]))
    prompts = sample_prompts(loaded.run, 6)
    assert all(p[0]["content"] == loaded.default_system_prompt for p in prompts)
    expected = [g.text for g in generate_batch(loaded.model, loaded.tokenizer, prompts, 128)]  # tuneforge predict

    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    got = []
    for p in prompts:
        ids = tok.apply_chat_template([p[-1]], add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.inference_mode():
            out = model.generate(**ids)  # generation_config.json: greedy, stops at end of turn
        got.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    assert got == expected
    assert model.generation_config.do_sample is False and model.generation_config.max_new_tokens == 128


def test_merged_export_dtype_shards_permissions_and_portable_card(tiny_variants, tiny_model_dir, tmp_path):
    import stat

    folder, _ = export_variant(tiny_variants["beta"], tmp_path / "m16", options=ExportOptions(
        "merged", dtype="float16", max_shard_size="20KB", parity_samples=0))
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) > 1 and (folder / "model.safetensors.index.json").is_file()
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float16"
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o044 == 0o044, f"{path.name} is not readable by others: {oct(mode)}"  # umask 022 -> 0644/0755
    card = (folder / "README.md").read_text()
    assert "sha256:tiny-variant-2" in card and "## Intended use" in card and "## Limits" in card
    assert str(tiny_model_dir) not in card and "base_model:" not in card  # a local base has no public id
    # The run folder's card is refreshed too (PEFT leaves a blank template there).
    assert "sha256:tiny-variant-2" in (tiny_variants["beta"] / "README.md").read_text()


def test_model_card_names_the_public_base_and_evaluation_with_intervals(tmp_path):
    from tuneforge.export.model_card import card_text

    run = {"base": {"name": "smollm2-135m", "path": "/home/me/.cache/x"}, "method": "lora", "objective": "sft",
           "data": {"path": "/data/invoices.jsonl", "version": "invoices@abc123", "hash": "sha256:abc",
                    "train_examples": 422, "eval_examples": 48, "system_prompt": "Categorise."},
           "config": {"lr": 0.001, "lora_r": 16, "epochs": 2, "seed": 0}, "metrics": {"total_params": 135_000_000}}
    report = {"data": "/data/test.jsonl", "systems": {
        "base few-shot": {"kind": "prompted", "metrics": {"accuracy": 0.454}, "ci": {"accuracy": [0.36, 0.55]}},
        "fine-tuned": {"kind": "variant", "metrics": {"accuracy": 0.63}, "ci": {"accuracy": [0.55, 0.71]}}}}
    card = card_text(run, report)
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "license: apache-2.0" in card
    assert "| fine-tuned | variant | 63.0% [55.0%–71.0%] |" in card and "| base few-shot | prompted | 45.4%" in card
    assert "invoices@abc123" in card and "sha256:abc" in card and "| lora_r | 16 |" in card
    assert "/home/me" not in card and "/data/" not in card
    assert "library_name: peft" in card and "a LoRA adapter (PEFT format)" in card
    # A full fine-tune's run folder holds whole weights: its card must not call them an adapter.
    full = card_text({**run, "method": "full"}, report)
    assert "library_name: transformers" in full and "the fully fine-tuned weights (safetensors)" in full
    assert "adapter" not in full.lower()


def test_a_full_fine_tunes_run_card_sends_other_servers_to_an_export(extraction_run, tiny_variants, tmp_path):
    """A full run folder is whole weights without the trained system prompt in its chat template: its card must
    say so, and name the export that carries it (and, for extraction, the grammar)."""
    from tuneforge.export.model_card import write_model_card

    for source, grammar in ((extraction_run, True), (tiny_variants["alpha"], False)):
        folder = tmp_path / source.name
        folder.mkdir()
        run = json.loads((source / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps({**run, "method": "full"}))
        card = write_model_card(folder).read_text(encoding="utf-8")
        assert "tuneforge models export PATH_TO_THIS_FOLDER --format merged" in card
        assert "vllm serve" not in card and "adapter" not in card.lower()
        assert ("answer grammar" in card) is grammar
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "run.json"]  # nothing else written


def test_merged_export_defaults_to_the_base_dtype(tiny_variants, tmp_path):
    folder, _ = export_variant(tiny_variants["beta"], tmp_path / "m", options=ExportOptions("merged", parity_samples=0))
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float32"  # the tiny base is float32
    with pytest.raises(ValueError, match="--dtype"):
        export_variant(tiny_variants["beta"], tmp_path / "x", options=ExportOptions("merged", dtype="int8", parity_samples=0))


def test_gguf_export_matches_adapter_and_carries_template(tiny_variants, tmp_path):
    # F32 so parity is exact; F16 (the default) rounds weights, which a random tiny model's near-ties can expose.
    dtype = "f32"
    folder, report = export_variant(tiny_variants["alpha"], tmp_path / "gguf", "gguf", gguf_dtype=dtype, parity_samples=4)
    assert report.passed, report.mismatches
    gguf_file = folder / f"gguf.{dtype}.gguf"
    assert gguf_file.is_file()
    import gguf

    reader = gguf.GGUFReader(str(gguf_file))
    assert "blk.0.attn_q.weight" in {t.name for t in reader.tensors}
    template = reader.fields["tokenizer.chat_template"].contents()
    assert "<|im_start|>" in template and "Categorise the invoice line" in template  # the trained system prompt
    assert reader.fields["tokenizer.ggml.pre"].contents() == "gpt-2"  # the tiny tokenizer's split
    assert reader.fields["general.name"].contents() == "gguf"  # the export's name, not a scratch folder's
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith(f"FROM ./gguf.{dtype}.gguf")
    assert "{{ .Role }}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "SYSTEM \"\"\"Categorise the invoice line" in modelfile
    assert "PARAMETER temperature 0" in modelfile.splitlines()  # greedy, as the variant was evaluated


def test_parity_failure_is_reported(tiny_variants, tmp_path, monkeypatch):
    """A broken export must fail its parity check (here: GGUF written without the q/k permutation)."""
    import tuneforge.export.gguf_writer as writer

    monkeypatch.setattr(writer, "_permute_for_gguf", lambda w, n: w)
    _, report = export_variant(tiny_variants["beta"], tmp_path / "broken", "gguf", gguf_dtype="f32", parity_samples=2)
    assert not report.passed and report.mismatches


def test_export_cli_from_registry_reference(tiny_variants, tmp_path):
    from tuneforge.registry.store import Registry

    Registry().register(tiny_variants["beta"], "beta")
    r = CliRunner().invoke(app, ["models", "export", "beta:1", "--out", str(tmp_path / "m"), "--parity-samples", "1"])
    assert r.exit_code == 0, r.output
    assert "parity: 1/1" in r.output
    r = CliRunner().invoke(app, ["models", "export", "beta:1", "--out", str(tmp_path / "m")])
    assert r.exit_code == 1 and "already exists" in r.output


def test_only_chatml_templates_translate_to_ollama():
    assert ollama_template("<|im_start|>{{ x }}<|im_end|>")[1] == ["<|im_end|>"]
    with pytest.raises(ValueError, match="only ChatML"):
        ollama_template("[INST] {{ x }} [/INST]")


def test_a_merged_extraction_export_carries_the_grammar_its_evaluation_decoded_under(extraction_run, tiny_variants,
                                                                                     tmp_path):
    """answer.lark is the text `eval`, `predict` and the server compile; vLLM's guidance backend compiles a
    request's grammar with llguidance.grammar_from("grammar", text), which must give the same grammar."""
    import llguidance
    from llguidance import LLMatcher

    from tuneforge.data.answer_schema import run_answer_schema
    from tuneforge.models.answer_grammar import answer_format
    from tuneforge.run_record import read_run

    folder, _ = export_variant(extraction_run, tmp_path / "extract", "merged", parity_samples=0)
    fmt = answer_format(run_answer_schema(read_run(extraction_run)))
    text = (folder / "answer.lark").read_text(encoding="utf-8")
    assert text == str(fmt.grammar) and '"\\"supplier\\""' in text
    assert llguidance.grammar_from("grammar", text) == LLMatcher.grammar_from_lark(text)
    assert json.loads((folder / "tuneforge-export.json").read_text())["answer_grammar"] == "answer.lark"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "vllm serve extract --structured-outputs-config.backend guidance" in card
    assert f"max_tokens={fmt.max_tokens}" in card and '{"structured_outputs": {"grammar": grammar}}' in card
    # The run folder is the LoRA adapter vLLM serves with --enable-lora: its card and grammar say the same.
    assert (extraction_run / "answer.lark").read_text(encoding="utf-8") == text
    run_card = (extraction_run / "README.md").read_text(encoding="utf-8")
    assert "--enable-lora" in run_card and "--structured-outputs-config.backend guidance" in run_card
    assert f'model="{extraction_run.name}"' in run_card and "PATH_TO_THIS_FOLDER/answer.lark" in run_card
    # A variant whose answers are not JSON objects was evaluated free: no grammar, no such note.
    plain, _ = export_variant(tiny_variants["alpha"], tmp_path / "plain", "merged", parity_samples=0)
    assert not (plain / "answer.lark").exists() and "structured_outputs" not in (plain / "README.md").read_text()
    run_card = (tiny_variants["alpha"] / "README.md").read_text()
    assert not (tiny_variants["alpha"] / "answer.lark").exists() and "guidance" not in run_card
