"""Write a merged Llama-architecture model as a GGUF file (F32 or F16) that llama.cpp, Ollama and transformers
(`gguf_file=`) load.

Tensor names come from the gguf package's TensorNameMap. llama.cpp computes rotary embeddings on interleaved
pairs while transformers rotates halves, so the query and key projections are permuted on the way out (and
transformers permutes them back on load). The tokenizer (byte-level BPE: tokens, types, merges, special ids)
and the chat template travel in the file's metadata.
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


def _add_tokenizer(writer, tokenizer, model_dir: Path) -> None:
    import gguf

    vocab = tokenizer.get_vocab()
    size = len(tokenizer)
    tokens = [""] * size
    for text, i in vocab.items():
        if i < size:
            tokens[i] = text
    special = set(tokenizer.all_special_ids)
    added = set(tokenizer.get_added_vocab().values())
    types = []
    for i in range(size):
        if i in special:
            types.append(gguf.TokenType.CONTROL)
        elif i in added:
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # Merges, special token ids and the chat template, read from the saved tokenizer files.
    special_vocab = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=size)
    if not special_vocab.merges:
        raise UserError(f"{model_dir}: tokenizer has no BPE merges; only byte-level BPE tokenizers are exported")
    if not special_vocab.chat_template and tokenizer.chat_template:
        special_vocab.chat_template = tokenizer.chat_template
    special_vocab.add_to_gguf(writer)


def write_gguf(model_dir: str | Path, out_file: str | Path, dtype: str = "f16") -> Path:
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
    writer.add_name(model_dir.name)
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
    _add_tokenizer(writer, tokenizer, model_dir)

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
