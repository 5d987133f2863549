"""The real bundled base model (SmolLM2-135M-Instruct from the pip-installed GGUF): resolve, train, reload."""

from __future__ import annotations

import json

import pytest

from tuneforge.config import TrainConfig
from tuneforge.paths import examples_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def small_invoice_data(tmp_path):
    lines = (examples_dir() / "invoice-categories" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(lines[:32]) + "\n", encoding="utf-8")
    return path


def test_resolves_bundled_gguf_to_trainable_folder():
    from tuneforge.models.resolve import resolve_base

    resolved = resolve_base("smollm2-135m")
    assert resolved.source == "bundled"
    assert (resolved.path / "model.safetensors").is_file() and (resolved.path / ".complete").is_file()
    config = json.loads((resolved.path / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config


def test_bundled_tokenizer_keeps_the_gguf_digit_split():
    """The GGUF says `smollm` (one token per digit); the converted tokenizer must split the same way, or training
    and llama.cpp would tokenize amounts differently."""
    import gguf

    from tuneforge.models.pretokenizers import llama_cpp_pre_name
    from tuneforge.models.resolve import BUNDLED, bundled_gguf_path, resolve_base

    source = gguf.GGUFReader(str(bundled_gguf_path(BUNDLED["smollm2-135m"]))).fields["tokenizer.ggml.pre"].contents()
    spec = json.loads((resolve_base("smollm2-135m").path / "tokenizer.json").read_text())
    assert source == llama_cpp_pre_name(spec) == "smollm"


def test_lora_on_bundled_model_trains_and_reloads(small_invoice_data, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file

    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.train.sft import train

    base_path = resolve_base("smollm2-135m").path
    before = load_file(base_path / "model.safetensors")
    cfg = TrainConfig(data=str(small_invoice_data), out=str(tmp_path / "run"), variant_type="generative", epochs=3, batch_size=8,
                      lr=1e-3, eval_split=0.0, progress=False, warmup_ratio=0.0)
    out = train(cfg, log=lambda *_: None)
    run = json.loads((out / "run.json").read_text())
    epochs = run["metrics"]["epochs"]
    assert epochs[-1]["train_loss"] < 0.7 * epochs[0]["train_loss"], epochs

    # Base weights on disk untouched; the adapter's B matrices (zero at init) have moved.
    after = load_file(base_path / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    adapter = load_file(out / "adapter_model.safetensors")
    assert all(torch.count_nonzero(v) > 0 for k, v in adapter.items() if "lora_B" in k)

    # peft loads the adapter as any PEFT user would, and the variant answers with a label and stops.
    tok = load_tokenizer(out)
    model = PeftModel.from_pretrained(load_model(base_path), out)
    system = run["data"]["system_prompt"]
    assert system and system.startswith("Categorise")
    prompts = [[{"role": "system", "content": system}, {"role": "user", "content": text}]
               for text in ("Adobe Creative Cloud annual licence", "KLM flight AMS-LHR economy")]
    gens = generate_batch(model, tok, prompts, max_new_tokens=24)
    labels = {"software", "office_supplies", "travel", "meals_entertainment", "rent_utilities", "telecom",
              "marketing", "professional_services", "hardware", "vehicle_fuel", "insurance", "bank_fees"}
    for g in gens:
        assert g.tokens_out < 24, f"variant did not stop: {g.text!r}"
        assert g.text and "\n" not in g.text, g.text
    # 12 steps on 32 rows is enough to learn the answer format; one right label shows it learned the task too.
    assert gens[0].text == "software" or gens[1].text == "travel", [g.text for g in gens]
    assert any(g.text in labels for g in gens), [g.text for g in gens]
