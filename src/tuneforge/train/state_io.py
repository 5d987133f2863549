"""Nested training state (optimizer, scheduler, loop position, RNG) saved as JSON plus safetensors, never pickle.

A checkpoint may come from anywhere (a shared folder, a colleague's run), and unpickling runs whatever code the
file names; JSON and safetensors only ever produce data. `save_state(stem, obj)` writes `<stem>.json` (the
structure, tensors replaced by references) and `<stem>.safetensors` (the tensors); `load_state` reverses it
exactly, keeping what JSON alone would lose: tuples, dictionaries with integer keys (optimizer state is keyed by
parameter index), NumPy arrays (NumPy's RNG state) and tensors of any dtype.
"""

from __future__ import annotations

import json

from tuneforge.errors import UserError
from tuneforge.versioned_json import read_versioned_json
from pathlib import Path

FORMAT = "tuneforge.state/1"


class StateFileError(UserError):
    """A state file that is missing, damaged or not in this format."""


def _encode(value, tensors: dict, path: str):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {"__ndarray__": key, "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors, f"{path}.{k}") for k, v in value.items()}
        # Integer (or reserved) keys survive as a list of [key, value] pairs.
        return {"__items__": [[k, _encode(v, tensors, f"{path}[{k!r}]")] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{path}: cannot store a {type(value).__name__} in a checkpoint (tensors and plain values only)")


def _decode(value, tensors: dict):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]].numpy().astype(value["dtype"], copy=False)
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {k: _decode(v, tensors) for k, v in value["__items__"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def save_state(stem: Path, obj) -> None:
    """Write <stem>.json and <stem>.safetensors."""
    from safetensors.torch import save_file

    tensors: dict = {}
    tree = _encode(obj, tensors, stem.name)
    save_file(tensors, str(stem.with_suffix(".safetensors")))
    stem.with_suffix(".json").write_text(json.dumps({"format": FORMAT, "state": tree}), encoding="utf-8")


def load_state(stem: Path):
    """Read what save_state wrote; StateFileError names the file when it is missing or damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta_file, tensor_file = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    for f in (meta_file, tensor_file):
        if not f.is_file():
            raise StateFileError(f"{f}: missing from the checkpoint")
    meta = read_versioned_json(meta_file, FORMAT, StateFileError, damaged="damaged, not JSON")
    try:
        tensors = load_file(str(tensor_file))
    except (SafetensorError, OSError, ValueError) as err:
        raise StateFileError(f"{tensor_file}: damaged, not safetensors ({err})") from None
    try:
        return _decode(meta["state"], tensors)
    except (KeyError, TypeError, ValueError) as err:
        raise StateFileError(f"{meta_file}: does not match {tensor_file.name} ({err})") from None
