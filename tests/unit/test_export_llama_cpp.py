"""GGUF exports in llama.cpp itself (llama-cpp-python): token ids, greedy answers, quantized files.

Skipped (visibly, with the reason) when llama-cpp-python is not installed; `make check-export` installs it and
sets TUNEFORGE_REQUIRE_LLAMA_CPP=1, which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

if os.environ.get("TUNEFORGE_REQUIRE_LLAMA_CPP"):
    import llama_cpp  # noqa: F401  (the check-export lane must run these tests, not skip them)
else:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed; `make check-export` runs these")

from tuneforge.cli.main import app  # noqa: E402
from tuneforge.export.export import ExportOptions, check_exported_gguf, export_variant  # noqa: E402

pytestmark = pytest.mark.llama_cpp


@pytest.fixture(scope="module")
def digit_variant(tmp_path_factory, tiny_variants):
    """A tiny model whose tokenizer splits digits one by one (llama.cpp's `smollm`, as SmolLM2 does)."""
    from tuneforge.models.tiny import build_tiny_model
    from tuneforge.models.tiny_variant import build_tiny_variant

    root = tmp_path_factory.mktemp("digits")
    base = build_tiny_model(root / "base", split_digits=True)
    data = json.loads((tiny_variants["alpha"] / "run.json").read_text())["data"]
    return build_tiny_variant(root / "run", base, seed=3, system_prompt=data["system_prompt"], data_path=data["path"])


def _gguf_meta(path, key):
    import gguf

    return gguf.GGUFReader(str(path)).fields[key].contents()


def test_cli_check_runs_f32_and_quantized_files_in_llama_cpp(tiny_variants, tmp_path):
    out = tmp_path / "invoice-tiny"
    # No --gguf-dtype: F32 by default, the precision the variant is evaluated in.
    r = CliRunner().invoke(app, ["models", "export", str(tiny_variants["alpha"]), "--format", "gguf",
                                 "--quantize", "f16,q8_0,q4_k_m", "--check", "--out", str(out),
                                 "--parity-samples", "2"])
    assert r.exit_code == 0, r.output
    assert "llama.cpp f32: token ids 9/9 probes, 15/15 prompts identical; greedy answers 15/15" in r.output
    assert "llama.cpp q8_0:" in r.output and "llama.cpp q4_k_m:" in r.output
    check = json.loads((out / "llama_cpp_check.json").read_text())
    by_type = {f["type"]: f for f in check["files"]}
    assert set(by_type) == {"f32", "f16", "q8_0", "q4_k_m"} and check["passed"] is True
    assert all(0.0 <= f["agreement"] <= 1.0 for f in check["files"])  # smaller types: recorded, not required
    # Every differing answer of a smaller type is named with the logit margin it came down to.
    differing = [m for f in check["files"] for m in f["mismatches"] if "predict" in m]
    assert differing, "a random tiny model's Q4_K_M answers should differ somewhere"
    for m in differing:
        assert "variant_margin" in m["divergence"] or m["divergence"]["teacher_forced_identical"], m
        assert f"differs on {m['prompt']!r}" in r.output
    # Quantized by llama.cpp's own quantizer: the file types llama.cpp wrote.
    assert _gguf_meta(out / "invoice-tiny.f16.gguf", "general.file_type") == 1
    assert _gguf_meta(out / "invoice-tiny.q8_0.gguf", "general.file_type") == 7
    assert _gguf_meta(out / "invoice-tiny.q4_k_m.gguf", "general.file_type") == 15
    assert _gguf_meta(out / "invoice-tiny.f32.gguf", "general.name") == "invoice-tiny"


def test_digit_splitting_tokenizer_exports_as_smollm_and_matches(digit_variant, tmp_path):
    # F32 and 4-token answers: a random tiny model's logits have near-ties that a different summation order (or
    # F16 rounding) flips somewhere in a long answer; F16 on the real model is measured in docs/deploy.md.
    options = ExportOptions("gguf", "f32", parity_samples=0, max_new_tokens=4)
    folder, _ = export_variant(digit_variant, tmp_path / "digits", options=options)
    assert _gguf_meta(folder / "digits.f32.gguf", "tokenizer.ggml.pre") == "smollm"
    result = check_exported_gguf(digit_variant, folder, options)
    f32 = result.files[0]
    assert (f32.probes_identical, f32.prompt_ids_identical) == (f32.probes, f32.prompts), f32.mismatches
    assert f32.answers_identical == f32.answers, f32.mismatches


def test_wrong_pre_tokenizer_fails_the_check(digit_variant, tmp_path, monkeypatch):
    """The defect this check exists for: a GGUF that names another split than the one trained with."""
    import tuneforge.models.pretokenizers as pre

    # llama.cpp's "default" split (what the first exporter wrote) isolates punctuation: apostrophes and dashes differ.
    monkeypatch.setattr(pre, "llama_cpp_pre_name", lambda spec: "default")
    options = ExportOptions("gguf", "f32", parity_samples=0)
    folder, _ = export_variant(digit_variant, tmp_path / "wrong", options=options)
    result = check_exported_gguf(digit_variant, folder, options)
    assert not result.passed
    assert any("probe" in m for m in result.failures())


def test_gguf_template_carries_the_trained_system_prompt(tiny_variants, tmp_path):
    """A llama.cpp user who sends only the input gets the prompt the variant was trained on."""
    from tuneforge.export.llama_cpp_check import _LlamaChat, _open
    from tuneforge.models.load import load_tokenizer
    from tuneforge.chat_encoding import encode_prompt

    folder, _ = export_variant(tiny_variants["alpha"], tmp_path / "g", options=ExportOptions("gguf", "f32", parity_samples=0))
    system = json.loads((tiny_variants["alpha"] / "run.json").read_text())["data"]["system_prompt"]
    tok = load_tokenizer(tiny_variants["alpha"])
    llm = _open(folder / "g.f32.gguf", 512, kv_cache="f32")
    try:
        bare = [{"role": "user", "content": "dell laptop"}]
        full = [{"role": "system", "content": system}, *bare]
        assert _LlamaChat(llm).prompt_ids(bare) == encode_prompt(tok, full)
        other = [{"role": "system", "content": "Be brief."}, *bare]  # a user's own system prompt wins
        assert _LlamaChat(llm).prompt_ids(other) == encode_prompt(tok, other)
    finally:
        llm.close()


def test_the_check_judges_the_file_with_an_f32_kv_cache(tiny_variants, tmp_path, monkeypatch):
    """llama.cpp's default F16 KV cache rounds keys and values by itself and can decide a near-tie even for an F32
    file; `export --check` must open files with an F32 cache so that a difference is the file's (docs/export.md)."""
    import llama_cpp

    opened = []

    class Recording(llama_cpp.Llama):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append((self.context_params.type_k, self.context_params.type_v))

    monkeypatch.setattr(llama_cpp, "Llama", Recording)
    out = tmp_path / "kv"
    r = CliRunner().invoke(app, ["models", "export", str(tiny_variants["alpha"]), "--format", "gguf",
                                 "--quantize", "q4_k_m", "--check", "--out", str(out), "--parity-samples", "0"])
    assert r.exit_code == 0, r.output
    assert opened and set(opened) == {(llama_cpp.GGML_TYPE_F32, llama_cpp.GGML_TYPE_F32)}, opened


def test_an_extraction_export_answers_in_llama_cpp_as_evaluated(extraction_run, tmp_path):
    """An extraction variant's answers are decoded under its learned keys' grammar in `eval` and `predict`; the GGUF
    export carries that grammar as answer.gbnf, and llama.cpp decoding under it gives the same answers. A barely
    trained tiny model writes whitespace and digits to the grammar's bounds, so those bounds must be the same in
    both (its strings stay empty: test_answer_grammar_gbnf.py pins the string rule); without the file llama.cpp
    answers freely, and the check must say so."""
    from tuneforge.export.file_names import ANSWER_GRAMMAR_FILE

    options = ExportOptions("gguf", "f32", parity_samples=0, check_samples=3)
    folder, _ = export_variant(extraction_run, tmp_path / "extract", options=options)
    grammar = (folder / ANSWER_GRAMMAR_FILE).read_text(encoding="utf-8")
    assert grammar.startswith('root ::= "{" ws "\\"supplier\\"" ws ":" ws string ws "," ws "\\"total\\"" ws ":" '
                              'ws number ws "," ws "\\"currency\\"" ws ":" ws string ws "}"\n')
    assert json.loads((folder / "tuneforge-export.json").read_text())["answer_grammar"] == ANSWER_GRAMMAR_FILE
    assert f"--grammar-file {ANSWER_GRAMMAR_FILE}" in (folder / "README.md").read_text()

    f32 = check_exported_gguf(extraction_run, folder, options).files[0]
    assert f32.answers == 3 and f32.answers_identical == 3, f32.mismatches
    (folder / ANSWER_GRAMMAR_FILE).unlink()
    free = check_exported_gguf(extraction_run, folder, options).files[0]
    assert free.answers_identical < 3


def test_the_check_loads_without_extra_buffer_types_on_an_amx_cpu(tiny_variants, tmp_path, monkeypatch):
    """On an AMX CPU a natively built llama.cpp crashed decoding the tiny export in its AMX buffers: the check then
    loads files without the extra buffer types. Elsewhere it keeps llama.cpp's default, and the binding's own
    defaults are left as they were either way."""
    import llama_cpp as binding

    from tuneforge.export import llama_cpp_check

    folder, _ = export_variant(tiny_variants["alpha"], tmp_path / "x", fmt="gguf", parity_samples=1)
    [gguf] = sorted(folder.glob("*.gguf"))
    for amx in (True, False):
        monkeypatch.setattr(llama_cpp_check, "amx_cpu", lambda: amx)
        llm = llama_cpp_check._open(gguf, 256, "f32")
        assert llm.model_params.use_extra_bufts is (not amx)
        llm.eval([1, 2])  # it decodes (the AMX buffers crashed here)
        assert llm.n_tokens == 2
        llm.close()
    assert binding.llama_cpp.llama_model_default_params().use_extra_bufts is True
