"""Sentence encoders (BERT-family, bidirectional) as models: any encoder folder, the two packaged ones included
(models/packaged_encoders.py finds those). The embedding baseline reads one frozen (eval/embeddings.py); a
classification variant may instead fine-tune one with a linear head on its mean-pooled states
(train/classification.py).

`EncoderClassifier` has the attribute names the classification code reads from a decoder's sequence classifier
(`model` for the transformer, `score` for the head, `config`), so predict, eval, the server and export run it
through the same functions (models/classifier.py). It is saved as the encoder's own transformers folder
(`AutoModel` loads it) plus the head in `classifier_head.safetensors`; a run folder leaves out the frozen tensors
equal to its base's and reads them from the base (models/base_tensors.py), an export keeps every weight.
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.models.base_tensors import fill_base_tensors, save_without_base_tensors

ENCODER_MAX_TOKENS = 256  # the sentence encoder's trained window; longer inputs are truncated
HEAD_FILE = "classifier_head.safetensors"
# Bidirectional encoder families: their folders hold no language-model head and no chat template.
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "deberta-v2", "modernbert", "electra"}


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
