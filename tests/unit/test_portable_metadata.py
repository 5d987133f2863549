"""Run folders and exports name the base model by an id another machine can use, never a local cache path."""

from __future__ import annotations

import json

import pytest

from tuneforge.models.resolve import BUNDLED, public_id, source_dtype


def test_public_ids_of_bundled_hub_and_local_bases(tiny_model_dir, tmp_path):
    assert public_id("smollm2-135m") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert public_id("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert public_id(str(tiny_model_dir)) is None  # a local folder has no public id
    converted = tmp_path / "converted"
    converted.mkdir()
    (converted / "tuneforge-source.json").write_text(json.dumps({"gguf": "/x.gguf", "hub_id": "org/model"}))
    assert public_id(str(converted)) == "org/model"  # a GGUF converted for a bundled name remembers its id
    assert source_dtype("smollm2-135m", "/nowhere") == BUNDLED["smollm2-135m"].dtype == "bfloat16"
    assert source_dtype(str(tiny_model_dir), tiny_model_dir) == "float32"


@pytest.mark.usefixtures("one_torch_thread")
def test_training_writes_the_public_base_id_into_adapter_config(label_data, tiny_model_dir, tmp_path, monkeypatch):
    import tuneforge.train.run_provenance as run_provenance
    import tuneforge.train.sft as sft
    from tuneforge.config import TrainConfig

    import peft.utils.save_and_load as peft_save

    # adapter_config.json is written by the loop, run.json's base section by train/run_provenance.py.
    for module in (sft, run_provenance):
        monkeypatch.setattr(module, "public_id", lambda name: "org/tiny-base" if name == str(tiny_model_dir) else None)

    def no_network(*args, **kwargs):  # given a hub id, PEFT's save asks the hub; a run must never reach it
        raise AssertionError(f"training asked the hub: {args}")

    monkeypatch.setattr(peft_save, "check_file_exists_on_hf_hub", no_network)
    cfg = TrainConfig(data=str(label_data), base=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=1,
                      batch_size=8, lora_r=4, eval_split=0.2, progress=False, variant_type="generative")
    out = sft.train(cfg, log=lambda *_: None)
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "org/tiny-base"
    assert json.loads((out / "run.json").read_text())["base"]["public_id"] == "org/tiny-base"
