"""Exports answer exactly as the variant did in evaluation by default (float32, the precision predict and eval run
in); a smaller precision is the user's choice, and its check names each differing answer with the logit margin it
came down to."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tuneforge.export.divergence import first_divergence
from tuneforge.export.export import ExportOptions, export_variant


class _Chars:
    def decode(self, ids):
        return "".join(chr(ord("a") + i) for i in ids)


def test_first_divergence_finds_the_step_and_both_margins():
    variant = np.array([[0.0, 5.0, 4.9], [1.0, 2.0, 3.0], [2.0, 0.5, 0.0]])
    export = np.array([[0.0, 5.0, 4.8], [1.0, 3.05, 2.95], [2.0, 0.5, 0.0]])
    path = [1, 2, 0]  # the variant's tokens: b, c, then its stop token a
    d = first_divergence(variant, export, path, _Chars())
    assert (d.step, d.variant_token, d.export_token) == (1, "c", "b")  # step 0 agrees; step 1 is where it parts
    assert d.variant_margin == pytest.approx(1.0)  # the variant: c 3.0 over b 2.0
    assert d.export_margin == pytest.approx(0.1)  # the export: b 3.05 over c 2.95
    assert d.relative_margin == pytest.approx(1.0 / 3.0)


def test_no_divergence_when_the_export_keeps_every_token():
    logits = np.array([[0.0, 5.0, 4.9], [1.0, 0.0, 3.0]])
    assert first_divergence(logits, logits + 1e-3, [1, 2], _Chars()) is None


@pytest.fixture(scope="module")
def bf16_published_variant(tmp_path_factory, tiny_variants):
    """A variant whose base says it is published in bfloat16 (as SmolLM2 is), evaluated, like every variant, in
    float32."""
    from tuneforge.models.tiny import build_tiny_model
    from tuneforge.models.tiny_variant import build_tiny_variant

    root = tmp_path_factory.mktemp("bf16-base")
    base = build_tiny_model(root / "base")
    config = json.loads((base / "config.json").read_text())
    config["dtype"] = "bfloat16"
    (base / "config.json").write_text(json.dumps(config))
    data = json.loads((tiny_variants["alpha"] / "run.json").read_text())["data"]
    return build_tiny_variant(root / "run", base, seed=5, system_prompt=data["system_prompt"], data_path=data["path"])


def test_merged_export_defaults_to_the_evaluation_precision(bf16_published_variant, tmp_path):
    folder, report = export_variant(bf16_published_variant, tmp_path / "m",
                                    options=ExportOptions("merged", parity_samples=15))
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float32"
    record = json.loads((folder / "tuneforge-export.json").read_text())
    assert (record["dtype"], record["base_dtype"]) == ("float32", "bfloat16")
    assert report.exact and report.passed and report.matches == report.prompts == 15, report.lines()


def test_gguf_export_defaults_to_f32():
    assert ExportOptions().gguf_dtype == "f32"


def test_a_smaller_precision_names_each_differing_answer_and_its_margin(tiny_variants, tmp_path):
    """bfloat16 rounding flips some of a random tiny model's near-ties: the check says which, and by how much."""
    folder, report = export_variant(tiny_variants["alpha"], tmp_path / "bf16", options=ExportOptions(
        "merged", dtype="bfloat16", parity_samples=15, max_new_tokens=8))
    assert not report.exact and report.passed  # the user chose bfloat16; differences are reported, not failed
    assert report.mismatches, "expected bfloat16 to flip at least one answer of a random tiny model"
    saved = json.loads((folder / "parity.json").read_text())
    assert saved["exact"] is False and saved["matches"] == report.matches
    assert any("variant_margin" in m["divergence"] for m in saved["mismatches"])
    for m, line in zip(saved["mismatches"], report.lines()):
        d = m["divergence"]
        assert d.get("teacher_forced_identical") or (d["variant_margin"] >= 0 and d["export_margin"] > 0), d
        assert repr(m["prompt"]) in line and repr(m["adapter"]) in line
        if "variant_margin" in d:
            assert f"by {d['variant_margin']:.4f} logits" in line
