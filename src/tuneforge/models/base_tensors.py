"""Frozen weights a run folder reads from its base model instead of storing a second copy.

A classification variant fine-tuned from multilingual-e5-small keeps the encoder's word embeddings frozen
(train/encoder_defaults.py): 96M of its 118M weights, 384 MB of a 470 MB folder, equal to the base's to the bit.
The run folder stores every other weight and lists the frozen ones in `base_tensors.json` with the base's name
and a SHA-256 of each tensor's bytes; loading fills them from the base and refuses a base whose tensor differs
(another conversion, another model), so a variant never runs on weights it was not trained with. A merged export
stores every weight: it must load without tuneforge.

Only tensors that are frozen in training and equal to the base's, by name, at save time are left out; anything
else (a base sharded oddly, prefixed names, a changed tensor) is simply saved in full.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

BASE_TENSORS_FILE = "base_tensors.json"
WEIGHTS_FILE = "model.safetensors"


def tensor_digest(tensor) -> str:
    """SHA-256 of a tensor's raw bytes (dtype and values), as stored."""
    import torch

    data = tensor.detach().contiguous().cpu().view(torch.uint8).numpy()
    return hashlib.sha256(data.data).hexdigest()


def _base_files(base_dir: Path) -> dict[str, Path]:
    """Which safetensors file of the base holds each tensor name."""
    from safetensors import safe_open

    where: dict[str, Path] = {}
    for file in sorted(Path(base_dir).glob("*.safetensors")):
        with safe_open(str(file), "pt") as f:
            where.update({name: file for name in f.keys()})
    return where


def unchanged_frozen_tensors(module, base_dir: Path) -> dict[str, str]:
    """{name: digest} of `module`'s frozen parameters that equal the base's tensor of the same name."""
    import torch
    from safetensors import safe_open

    frozen = {name: p for name, p in module.named_parameters() if not p.requires_grad}
    where = _base_files(base_dir) if frozen else {}
    shared: dict[str, str] = {}
    for name, param in frozen.items():
        if name not in where:
            continue
        with safe_open(str(where[name]), "pt") as f:
            stored = f.get_tensor(name)
        if stored.dtype == param.dtype and stored.shape == param.shape and torch.equal(stored, param.detach().cpu()):
            shared[name] = tensor_digest(stored)
    return shared


def save_without_base_tensors(module, folder: Path, base_name: str, base_dir: Path) -> bool:
    """Save a transformers module's config and weights into `folder`, leaving out the frozen tensors equal to
    the base's (listed in base_tensors.json). False when none could be left out: nothing was written, and the
    caller saves the module in full as usual."""
    from safetensors.torch import save_file

    shared = unchanged_frozen_tensors(module, base_dir)
    if not shared:
        return False
    folder = Path(folder)
    module.config.save_pretrained(folder)
    kept = {k: v.detach().contiguous() for k, v in module.state_dict().items() if k not in shared}
    save_file(kept, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / BASE_TENSORS_FILE).write_text(json.dumps({"base": base_name, "tensors": shared}, indent=2) + "\n",
                                            encoding="utf-8")
    return True


def fill_base_tensors(module, folder: Path) -> None:
    """Load into `module` (just built from `folder`) the tensors the folder reads from its base, each checked
    against the digest recorded at training."""
    import torch
    from safetensors import safe_open

    from tuneforge.errors import UserError
    from tuneforge.models.resolve import resolve_base

    record_file = Path(folder) / BASE_TENSORS_FILE
    if not record_file.is_file():
        return
    record = json.loads(record_file.read_text(encoding="utf-8"))
    base_dir = resolve_base(record["base"]).path
    where = _base_files(base_dir)
    params = dict(module.named_parameters())
    for name, digest in record["tensors"].items():
        if name not in where or name not in params:
            raise UserError(f"the base model {record['base']!r} ({base_dir}) has no tensor {name!r}, which this run "
                            "reads from it", file=str(record_file), field=name)
        with safe_open(str(where[name]), "pt") as f:
            stored = f.get_tensor(name)
        if tensor_digest(stored) != digest:
            raise UserError(f"the base model {record['base']!r} ({base_dir}) holds a different {name!r} than the "
                            "one this run was trained with", file=str(record_file), field=name,
                            hint="use the base the run was trained on, or retrain")
        with torch.no_grad():
            params[name].copy_(stored.to(params[name].dtype))
