"""`tuneforge models export`: merged safetensors or GGUF (+ quantized GGUF, Ollama Modelfile, and for an extraction
variant `answer.gbnf`, its answers' grammar for llama.cpp), each followed by a parity check; `check=True` also runs
the GGUF files in llama.cpp itself (export/llama_cpp_check.py)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.errors import UserError
from tuneforge.export.file_names import ANSWER_GRAMMAR_FILE
from tuneforge.export.merge import merge_adapter, write_export_record
from tuneforge.export.parity import check_parity, sample_prompts, without_trained_system

FORMATS = ("merged", "gguf")


@dataclass
class ExportOptions:
    fmt: str = "merged"
    gguf_dtype: str = "f32"  # the evaluation precision: answers as the variant did (f16 may flip near-ties)
    quantize: tuple[str, ...] = ()  # extra GGUF files: f16, q8_0, q4_k_m
    dtype: str | None = None  # merged weights; None: the evaluation precision (float32)
    max_shard_size: str = "2GB"
    name: str | None = None  # the model's name in GGUF metadata and file names (default: the output folder's)
    parity_samples: int = 8
    max_new_tokens: int = 32
    check: bool = False  # run the GGUF files in llama.cpp
    check_data: str | None = None  # evaluation file for the checks (default: the run's held-out data)
    check_samples: int = 0  # 0: every example of check_data
    overwrite: bool = False


def _adapter(run_dir):
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(str(run_dir))
    return loaded, (loaded.model, loaded.tokenizer)


def export_variant(run_dir: str | Path, out: str | Path, fmt: str = "merged", gguf_dtype: str = "f32",
                   parity_samples: int = 8, max_new_tokens: int = 32, overwrite: bool = False,
                   options: ExportOptions | None = None):
    """Write the export to `out`; returns (folder, parity report or None). With options.check, the llama.cpp
    check is in `folder/llama_cpp_check.json` (see `check_exported_gguf`)."""
    o = options or ExportOptions(fmt, gguf_dtype, parity_samples=parity_samples, max_new_tokens=max_new_tokens,
                                 overwrite=overwrite)
    from tuneforge.models.load import INFERENCE_DTYPE, load_model, load_tokenizer
    from tuneforge.run_record import read_run

    if o.fmt not in FORMATS:
        raise UserError(f"--format: one of {', '.join(FORMATS)} (got {o.fmt!r})")
    if o.check and o.fmt != "gguf":
        raise UserError("--check runs GGUF files in llama.cpp; use it with --format gguf")
    run = read_run(run_dir)
    if run.get("variant_type") == "classification":  # a head over labels: its own export and parity
        from tuneforge.export.classifier_export import export_classifier

        return export_classifier(run_dir, run, out, fmt, overwrite, parity_samples)
    out = Path(out)
    name = o.name or out.name
    if o.fmt == "merged":
        merge_adapter(run_dir, out, o.overwrite, o.dtype, o.max_shard_size)
        # Loaded in its own dtype, as a plain transformers user loads it (`dtype="auto"`).
        exported = lambda: (load_model(out, o.dtype or INFERENCE_DTYPE), load_tokenizer(out))  # noqa: E731
        exact = (o.dtype or INFERENCE_DTYPE) == INFERENCE_DTYPE
    else:
        gguf_name = _write_gguf_folder(run_dir, run, out, name, o)
        exported = lambda: _load_gguf(out, gguf_name)  # noqa: E731
        exact = o.gguf_dtype == "f32"
    _refresh_run_card(run_dir)
    report = None
    if o.parity_samples > 0:
        _, reference = _adapter(run_dir)
        prompts = sample_prompts(run, o.parity_samples, o.check_data)
        bare = without_trained_system(prompts, run.get("data", {}).get("system_prompt"))
        report = check_parity(reference, exported(), prompts, o.fmt, o.max_new_tokens, exported_prompts=bare,
                              exact=exact)
        report.save(out)
    if o.check:
        check_exported_gguf(run_dir, out, o)
    return out, report


def gguf_files(folder: Path) -> dict[str, Path]:
    """The GGUF files of an export folder by type (f16, q8_0, ...), as `<name>.<type>.gguf` names them."""
    return {p.name.rsplit(".", 2)[-2]: p for p in sorted(Path(folder).glob("*.gguf"))}


def check_exported_gguf(run_dir, folder: Path, o: ExportOptions):
    from tuneforge.export.llama_cpp_check import check_gguf_files
    from tuneforge.run_record import read_run

    run = read_run(run_dir)
    prompts = sample_prompts(run, o.check_samples, o.check_data)
    data = o.check_data or run.get("data", {}).get("eval_path") or run.get("data", {}).get("path") or "?"
    result = check_gguf_files(gguf_files(folder), run_dir, prompts, str(data), o.max_new_tokens)
    result.save(folder)
    return result


def _write_gguf_folder(run_dir, run: dict, out: Path, name: str, o: ExportOptions) -> str:
    from tuneforge.data.answer_schema import run_answer_schema
    from tuneforge.export.gguf_writer import write_gguf
    from tuneforge.export.model_card import gguf_grammar_lines, write_model_card
    from tuneforge.export.modelfile import write_modelfile
    from tuneforge.export.quantize import quantize_gguf, require_llama_cpp
    from tuneforge.models.answer_grammar import answer_gbnf
    from tuneforge.models.load import load_tokenizer

    if o.quantize:
        require_llama_cpp()  # before the slow part
    gguf_name = f"{name}.{o.gguf_dtype}.gguf"
    scratch = Path(tempfile.mkdtemp(prefix="tuneforge-merge-"))
    try:
        # Merged in float32, with the trained template and model card that the GGUF metadata is read from.
        merged = merge_adapter(run_dir, scratch / "merged", overwrite=True, dtype="float32")
        with atomic_folder(out, o.overwrite) as tmp:
            write_gguf(merged, tmp / gguf_name, o.gguf_dtype, name=name)
            for qtype in o.quantize:
                quantize_gguf(tmp / gguf_name, tmp / f"{name}.{qtype}.gguf", qtype)
            tok = load_tokenizer(merged)
            write_modelfile(tmp / "Modelfile", gguf_name, tok.chat_template, run.get("data", {}).get("system_prompt"))
            grammar = answer_gbnf(run_answer_schema(run))
            if grammar:
                (tmp / ANSWER_GRAMMAR_FILE).write_text(grammar, encoding="utf-8")
            write_export_record(tmp, run_dir, run, "gguf", gguf_file=gguf_name, dtype=o.gguf_dtype,
                                quantized=[f"{name}.{q}.gguf" for q in o.quantize],
                                answer_grammar=ANSWER_GRAMMAR_FILE if grammar else None)
            write_model_card(run_dir, tmp, export_kind="gguf", dtype=o.gguf_dtype, title=name,
                             serving=gguf_grammar_lines(gguf_name, ANSWER_GRAMMAR_FILE) if grammar else None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return gguf_name


def _refresh_run_card(run_dir) -> None:
    """The run folder's README.md is the variant's card too; PEFT leaves a blank template there."""
    from tuneforge.export.model_card import write_model_card

    write_model_card(run_dir)


def _load_gguf(folder: Path, name: str):
    """Load a GGUF back with transformers, as a user of the file would (dequantized to float32), with the file's
    own tokenizer and chat template. transformers' GGUF loader falls back to GPT-2's split for pre-tokenizer ids
    it does not know; the split the file names is restored, as for the bundled model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.models.resolve import restore_pre_tokenizer
    from tuneforge.models.transformers_api import loading_quietly

    with loading_quietly():
        model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
    restore_pre_tokenizer(tokenizer, Path(folder) / name)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
