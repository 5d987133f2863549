"""`tuneforge models export`: merged safetensors or GGUF (+ Ollama Modelfile), each followed by a parity check."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tuneforge.atomic import atomic_folder
from tuneforge.errors import UserError
from tuneforge.export.merge import merge_adapter, write_export_record
from tuneforge.export.parity import ParityReport, check_parity, sample_prompts

FORMATS = ("merged", "gguf")


def _adapter(run_dir):
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(str(run_dir))
    return loaded, (loaded.model, loaded.tokenizer)


def export_variant(run_dir: str | Path, out: str | Path, fmt: str = "merged", gguf_dtype: str = "f16",
                   parity_samples: int = 8, max_new_tokens: int = 32, overwrite: bool = False) -> tuple[Path, ParityReport | None]:
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.run_record import read_run

    if fmt not in FORMATS:
        raise UserError(f"--format: one of {', '.join(FORMATS)} (got {fmt!r})")
    run = read_run(run_dir)
    if run.get("variant_type") == "classification":  # a head over labels: its own export and parity
        from tuneforge.export.classifier_export import export_classifier

        return export_classifier(run_dir, run, out, fmt, overwrite, parity_samples)
    out = Path(out)
    if fmt == "merged":
        merge_adapter(run_dir, out, overwrite)
        exported = lambda: (load_model(out), load_tokenizer(out))  # noqa: E731
    else:
        gguf_name = f"{out.name}.{gguf_dtype}.gguf"
        scratch = Path(tempfile.mkdtemp(prefix="tuneforge-merge-"))
        try:
            merged = merge_adapter(run_dir, scratch / "merged", overwrite=True)
            with atomic_folder(out, overwrite) as tmp:
                from tuneforge.export.gguf_writer import write_gguf
                from tuneforge.export.modelfile import write_modelfile

                write_gguf(merged, tmp / gguf_name, gguf_dtype)
                tok = load_tokenizer(merged)
                write_modelfile(tmp / "Modelfile", gguf_name, tok.chat_template, run.get("data", {}).get("system_prompt"))
                write_export_record(tmp, run_dir, run, "gguf", gguf_file=gguf_name, dtype=gguf_dtype)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        exported = lambda: _load_gguf(out, gguf_name)  # noqa: E731
    if parity_samples <= 0:
        return out, None
    _, reference = _adapter(run_dir)
    report = check_parity(reference, exported(), sample_prompts(run, parity_samples), fmt, max_new_tokens)
    report.save(out)
    return out, report


def _load_gguf(folder: Path, name: str):
    """Load a GGUF back with transformers, as a user of the file would (dequantized to float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
