"""Write a merged Llama-architecture model as a GGUF file (F32 or F16) that llama.cpp, Ollama and transformers
(`gguf_file=`) load.

Tensor names come from the gguf package's TensorNameMap. llama.cpp computes rotary embeddings on interleaved
pairs while transformers rotates halves, so the query and key projections are permuted on the way out (and
transformers permutes them back on load). The tokenizer travels in the file's metadata the way llama.cpp's own converter writes it: the pre-tokenizer id
of the split we trained with (models/pretokenizers.py), tokens and their types, and merges, special ids and the
chat template through the gguf package's SpecialVocab. general.* metadata (name, base model, licence) comes
from gguf.Metadata reading the merged folder's model card.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.errors import UserError

SUPPORTED = {"llama"}


def _permute_for_gguf(w, n_head: int):
    # Halves layout (transformers) -> interleaved pairs (llama.cpp), per head.
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _rope_theta(config) -> float:
    theta = getattr(config, "rope_theta", None)
    if theta is None:
        theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    return float(theta)


def _token_list(tokenizer, n_vocab: int):
    """Tokens and their types as llama.cpp's converter lists a byte-level BPE vocabulary: base tokens NORMAL,
    added special tokens CONTROL (never produced from text, rendered only by templates), other added tokens
    USER_DEFINED (matched as whole strings), and any id the tokenizer does not use UNUSED padding."""
    import gguf

    by_id = {i: text for text, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder  # id -> AddedToken, with its `special` flag
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _add_tokenizer(writer, tokenizer, model_dir: Path, n_vocab: int) -> None:
    import json

    import gguf

    from tuneforge.models.pretokenizers import llama_cpp_pre_name

    tokenizer_json = model_dir / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise UserError(f"{model_dir}: no tokenizer.json; only fast byte-level BPE tokenizers are exported")
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    if spec.get("model", {}).get("type") != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise UserError(f"{tokenizer_json}: only byte-level BPE tokenizers are exported to GGUF")
    try:
        pre = llama_cpp_pre_name(spec)  # the split we trained with, under llama.cpp's name for it
    except ValueError as err:
        raise UserError(f"{tokenizer_json}: {err}") from None
    tokens, types = _token_list(tokenizer, n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # Merges, special token ids, add-BOS/EOS flags and the chat template, from the tokenizer files themselves.
    special_vocab = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    if not special_vocab.merges:
        raise UserError(f"{model_dir}: tokenizer has no BPE merges; only byte-level BPE tokenizers are exported")
    if not special_vocab.chat_template:
        special_vocab.chat_template = tokenizer.chat_template
    # Whether BOS/EOS are added to plain text: as the training tokenizer does it, stated explicitly, because
    # llama.cpp's default for BPE vocabularies (add BOS) is not transformers' (ask the post-processor).
    plain = tokenizer("a", add_special_tokens=True)["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    special_vocab.add_special_token.setdefault("bos", bos is not None and plain[:1] == [bos])
    special_vocab.add_special_token.setdefault("eos", eos is not None and plain[-1:] == [eos])
    special_vocab.add_to_gguf(writer, quiet=True)


def _add_model_metadata(writer, model_dir: Path, name: str, n_params: int) -> None:
    """general.* keys as llama.cpp's converter sets them: read from the folder's model card (base model, licence)
    and config, with the variant's own name."""
    import gguf

    metadata = gguf.Metadata.load(None, model_dir, name, n_params)
    metadata.name = name  # the heuristics may rewrite it from the folder name; the variant's name is the name
    metadata.set_gguf_meta_model(writer)


def write_gguf(model_dir: str | Path, out_file: str | Path, dtype: str = "f32", name: str | None = None) -> Path:
    """Convert a transformers Llama folder (e.g. a merged export) into one GGUF file."""
    import gguf
    import numpy as np
    import torch

    from tuneforge.models.load import load_model, load_tokenizer

    if dtype not in ("f16", "f32"):
        raise UserError(f"--gguf-dtype: f16 or f32 (got {dtype!r}); quantize with llama.cpp afterwards")
    model_dir = Path(model_dir)
    model = load_model(model_dir)
    config = model.config
    if config.model_type not in SUPPORTED:
        raise UserError(f"{model_dir}: GGUF export supports {', '.join(SUPPORTED)} models, not {config.model_type!r}")
    tokenizer = load_tokenizer(model_dir)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head

    writer = gguf.GGUFWriter(str(out_file), "llama")
    _add_model_metadata(writer, model_dir, name or model_dir.name, sum(p.numel() for p in model.parameters()))
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
    _add_tokenizer(writer, tokenizer, model_dir, config.vocab_size)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp (and transformers' GGUF loader) re-tie to token_embd
        if "rotary_emb" in hf_name:
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UserError(f"{model_dir}: no GGUF name for tensor {hf_name!r}")
        data = tensor.detach().to(torch.float32).numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute_for_gguf(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute_for_gguf(data, n_kv)
        # 1-D tensors (norms) stay F32 as llama.cpp expects; matrices take the requested precision.
        if dtype == "f16" and data.ndim > 1:
            data = data.astype(np.float16)
        writer.add_tensor(name, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out_file)
