"""The training precision `auto` picks, and that a run says which one and why (tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneforge.train import precision as prec


@pytest.mark.parametrize("native_bf16", [True, False], ids=["cpu-with-bf16", "cpu-without-bf16"])
def test_auto_trains_in_fp32_on_every_cpu_and_says_why(monkeypatch, native_bf16):
    import torch

    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: native_bf16)
    chosen, why = prec.choose_precision("auto", torch.device("cpu"))
    assert chosen == "fp32"
    assert why and "CPU" in why
    assert ("--precision bf16" in why) is native_bf16  # where bf16 is fast, the reason names the flag for speed


@pytest.mark.parametrize("supported, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_a_gpu_follows_its_native_bf16(monkeypatch, supported, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    chosen, why = prec.choose_precision("auto", torch.device("cuda"))
    assert chosen == expected and why


@pytest.mark.parametrize("asked", ["bf16", "fp32"])
def test_a_precision_the_user_sets_is_kept_without_a_reason(asked):
    import torch

    assert prec.choose_precision(asked, torch.device("cpu")) == (asked, None)
    assert prec.resolve_precision(asked, torch.device("cpu")) == asked


def _train(data: Path, base: Path, out: Path, **given) -> tuple[list[str], dict]:
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    said: list[str] = []
    cfg = TrainConfig(data=str(data), base=str(base), out=str(out), variant_type="generative", epochs=1,
                      batch_size=4, lr=5e-3, lora_r=4, max_steps=1, eval_split=0.2, progress=False,
                      report_to="none", **given)
    train(cfg, log=lambda line, *_: said.append(str(line)))
    return said, json.loads((out / "run.json").read_text())


def test_a_run_with_no_precision_flag_trains_fp32_on_cpu_and_prints_the_choice(
        label_data, tiny_model_dir, tmp_path, one_torch_thread, monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: True)  # the case the rule is about
    said, run = _train(label_data, tiny_model_dir, tmp_path / "auto")
    assert run["precision"] == "fp32"
    chose = [line for line in said if line.startswith("chose precision=")]
    assert len(chose) == 1 and chose[0].startswith("chose precision=fp32 (CPU")

    said, run = _train(label_data, tiny_model_dir, tmp_path / "bf16", precision="bf16")
    assert run["precision"] == "bf16"  # asked for: kept, and not reported as a choice
    assert not [line for line in said if line.startswith("chose precision=")]
