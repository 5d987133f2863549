"""`tuneforge models register/show/promote/rollback/archive/export`: the registry from the command line."""

from __future__ import annotations

import json
from typing import Optional

import typer


def _registry():
    from tuneforge.registry.store import Registry

    return Registry()


def register(
    run: str = typer.Argument(..., help="A finished training run folder."),
    name: str = typer.Option(..., "--name", help="Variant name, e.g. invoice-coder; the version is assigned."),
    eval_file: Optional[str] = typer.Option(None, "--eval-file", help="eval.json to record (default: RUN/eval.json)."),
):
    """Register a run as the next version of a variant (stage: candidate).

    \b
    Example:
      tuneforge models register runs/invoice --name invoice-coder
    """
    v = _registry().register(run, name, eval_file)
    typer.echo(f"registered {v.ref} ({v.stage}) from {v.run_path}")


def show(ref: str = typer.Argument(..., help="name, name:version or name@stage.")):
    """Everything the registry knows about a variant: lineage, config, metrics, stage history (JSON).

    \b
    Example:
      tuneforge models show invoice-coder@production
    """
    from dataclasses import asdict

    reg = _registry()
    v = reg.get(ref)
    typer.echo(json.dumps({"ref": v.ref, **asdict(v), "history": reg.history(v)}, indent=2))


def promote(
    ref: str = typer.Argument(..., help="name:version (or name@stage) to promote."),
    to: str = typer.Option("production", "--to", help="candidate, staging or production."),
    skip_gate: bool = typer.Option(False, "--skip-gate", help="Promote to production without the eval gate (recorded)."),
    min_delta: float = typer.Option(0.0, "--min-delta", help="How much the variant must beat the best prompted "
                                    "baseline (and the current production version) by, in the metric's units."),
    metric: Optional[str] = typer.Option(None, help="Metric the gate compares (default: the task's first headline "
                                         "metric, e.g. accuracy). Lower-is-better metrics such as latency_p50_s work."),
    confidence: float = typer.Option(0.95, help="Required confidence of a paired test that the variant is better "
                                     "(0 turns the test off)."),
):
    """Move a variant to a stage. Production requires its eval to beat prompting (and the current production),
    significantly, through the same gate as `tuneforge eval gate`.

    \b
    Examples:
      tuneforge models promote invoice-coder:3 --to staging
      tuneforge models promote invoice-coder:3              # to production, through the eval gate
    """
    v, gate = _registry().promote(ref, to, require_gate=not skip_gate, min_margin=min_delta, metric=metric,
                                  confidence=confidence)
    for decision in gate or []:
        typer.echo(decision.summary())
    typer.echo(f"{v.ref} is now in {v.stage}")


def rollback(name: str = typer.Argument(..., help="Variant name.")):
    """Put the previous production version back into production; the current one is archived.

    \b
    Example:
      tuneforge models rollback invoice-coder
    """
    restored, retired = _registry().rollback(name)
    typer.echo(f"{restored.ref} is back in production; {retired.ref} is archived")


def archive(ref: str = typer.Argument(..., help="name:version to archive.")):
    """Archive a version: it is no longer served by default or picked by its bare name.

    \b
    Example:
      tuneforge models archive invoice-coder:1
    """
    v = _registry().archive(ref)
    typer.echo(f"{v.ref} is archived")


def export(
    model: str = typer.Argument(..., help="A registry reference or a run folder."),
    out: str = typer.Option(..., "--out", help="Folder to write the export into."),
    fmt: str = typer.Option("merged", "--format", help="merged (safetensors) or gguf (+ Ollama Modelfile)."),
    gguf_dtype: str = typer.Option("f32", help="GGUF tensor type: f32 (answers as evaluated) or f16 (half the size)."),
    quantize: str = typer.Option("", help="Also write smaller GGUF files with llama.cpp: f16,q8_0,q4_k_m."),
    dtype: Optional[str] = typer.Option(None, help="Merged weights: float32 (default: answers as evaluated), bfloat16 or float16."),
    max_shard_size: str = typer.Option("2GB", help="Largest safetensors shard of a merged export."),
    name: Optional[str] = typer.Option(None, help="Model name in GGUF metadata and file names (default: --out's name)."),
    parity_samples: int = typer.Option(8, help="Prompts checked for identical greedy answers (0 skips)."),
    check: bool = typer.Option(False, help="Run every GGUF file in llama.cpp: token ids and greedy answers."),
    check_data: Optional[str] = typer.Option(None, help="Evaluation file for the parity checks and --check (default: the run's held-out data)."),
    check_samples: int = typer.Option(0, help="Examples of --check-data to check (0: all)."),
    overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
):
    """Export a variant and check that the export answers like the adapter (exit 1 if it does not).

    \b
    Examples:
      tuneforge models export invoice-coder@production --format merged --out exports/invoice-merged
      tuneforge models export invoice-coder:3 --format gguf --quantize q8_0,q4_k_m --check \\
          --check-data test.jsonl --out exports/invoice-gguf        # then: ollama create -f Modelfile
    """
    from tuneforge.errors import UserError
    from tuneforge.export.export import ExportOptions, check_exported_gguf, export_variant
    from tuneforge.export.quantize import parse_quant_types
    from tuneforge.run_record import is_run_dir

    run_dir = model
    if not is_run_dir(model):
        run_dir = _registry().get(model).run_path
    if check and fmt != "gguf":
        raise UserError("--check runs GGUF files in llama.cpp; use it with --format gguf", field="--check")
    options = ExportOptions(fmt, gguf_dtype, tuple(parse_quant_types(quantize)), dtype, max_shard_size,
                            name or (None if is_run_dir(model) else model.split(":")[0].split("@")[0]),
                            parity_samples, check_data=check_data, check_samples=check_samples, overwrite=overwrite)
    folder, report = export_variant(run_dir, out, options=options)
    typer.echo(f"exported {model} ({fmt}) to {folder}")
    failed = False
    if report is not None:
        typer.echo(f"parity: {report.matches}/{report.prompts} greedy answers identical to the adapter's")
        for line in report.lines():  # every differing answer, with the logit margin it came down to
            typer.echo(f"  differs on {line}", err=True)
        failed = not report.passed
    if check:
        checked = check_exported_gguf(run_dir, folder, options)
        for line in checked.lines():
            typer.echo(line)
        if not checked.passed:
            for m in checked.failures()[:5]:
                typer.echo(f"  {json.dumps(m, ensure_ascii=False)}", err=True)
            failed = True
    if failed:
        raise typer.Exit(1)


def register_commands(app: typer.Typer) -> None:
    for fn in (register, show, promote, rollback, archive, export):
        app.command(fn.__name__)(fn)
