"""Exports answer like the adapter: merged safetensors and GGUF (loaded back with transformers), plus Modelfile."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.export.export import export_variant
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
    template = reader.fields["tokenizer.chat_template"]
    assert "<|im_start|>" in bytes(template.parts[template.data[0]]).decode()
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith(f"FROM ./gguf.{dtype}.gguf")
    assert "{{ .Role }}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "SYSTEM \"\"\"Categorise the invoice line" in modelfile


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
