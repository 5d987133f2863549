"""Shared fixtures: every test gets its own TUNEFORGE_HOME; converted base models are cached once per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

LABELS = ["software", "travel", "hardware"]
SYSTEM = "Categorise the invoice line. Answer with the category only."
_LINES = {
    "software": ["adobe licence", "microsoft 365 subscription", "github team plan", "slack annual", "jira cloud"],
    "travel": ["train ticket berlin", "klm flight amsterdam", "hotel room munich", "taxi airport", "rail pass"],
    "hardware": ["dell laptop", "lenovo monitor", "usb keyboard", "apple macbook", "logitech mouse"],
}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_HOME", str(tmp_path_factory.mktemp("home")))
    # One conversion of the bundled model for the whole session, shared by every per-test home.
    cache = os.environ.get("TUNEFORGE_TEST_CACHE") or str(tmp_path_factory.getbasetemp() / "shared-cache")
    monkeypatch.setenv("TUNEFORGE_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tuneforge.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_row(user: str, answer: str, system: str | None = SYSTEM) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return {"messages": msgs}


@pytest.fixture
def label_data(tmp_path) -> Path:
    rows = [chat_row(text, label) for label, texts in _LINES.items() for text in texts]
    return write_jsonl(tmp_path / "labels.jsonl", rows)


@pytest.fixture
def one_torch_thread():
    """Tiny-model training on a shared 2-core machine: one thread avoids OpenMP spin-waits that cost more than the
    math (a 64x32x400 matmul took 4 ms with two contended threads, 0.09 ms with one)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_variants(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    """Two LoRA run folders on the tiny model with different weights; `alpha` has a system prompt."""
    from tuneforge.models.tiny_variant import build_tiny_variant

    root = tmp_path_factory.mktemp("variants")
    data = write_jsonl(root / "data.jsonl", [chat_row(t, label) for label, texts in _LINES.items() for t in texts])
    return {
        "alpha": build_tiny_variant(root / "alpha", tiny_model_dir, seed=1, system_prompt=SYSTEM, data_path=str(data)),
        "beta": build_tiny_variant(root / "beta", tiny_model_dir, seed=2, data_path=str(data)),
    }


def write_eval(path: Path, tuned: float, baseline: float, data: str = "/data/test.jsonl") -> Path:
    """A minimal eval.json as eval/compare.py writes it."""
    path.write_text(json.dumps({
        "format": "tuneforge.eval/1", "data": data,
        "systems": {"base zero-shot": {"exact_match": baseline}, "fine-tuned": {"exact_match": tuned}},
    }))
    return path
