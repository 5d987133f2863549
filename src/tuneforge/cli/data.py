"""`tuneforge data ...`: check, clean, version and assess training data before training on it.

Flags come from the Data*Config models in config.py. The work lives in tuneforge.data; these functions only
read options, call it and print.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tuneforge.atomic import write_lines_atomic
from tuneforge.cli.options import add_config_command
from tuneforge.config import DataAddConfig, DataCheckConfig, DataCleanConfig, DataReportConfig
from tuneforge.errors import UserError

app = typer.Typer(help="Check, clean, version and assess training data.", no_args_is_help=True)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)  # long finding lines stay whole when piped


def _load(cfg):
    from tuneforge.data.formats import options_kwargs
    from tuneforge.data.row_store import inspect_file_rows
    from tuneforge.data.versions import resolve_data_path

    path, _ = resolve_data_path(cfg.data)
    return str(path), inspect_file_rows(path, **options_kwargs(cfg))  # rows stay on disk: bounded memory


def _require_rows(file: str, load) -> None:
    """clean/report/add on a file with no readable row (missing, binary, UTF-16, empty) is an error, not exit 0."""
    from tuneforge.data.problems import DataError

    if not load.examples and any(p.severity == "error" for p in load.problems):
        raise DataError(load.problems)


def _beside_input(cfg, suffix: str) -> Path:
    """Default output path: beside the input file, or in the current folder for a stored (read-only) version."""
    from tuneforge.data.versions import resolve_data_path

    path, version = resolve_data_path(cfg.data)
    if version:
        return Path.cwd() / (version.replace("@", "-") + suffix)
    return path.with_suffix(suffix)


def _load_evals(cfg):
    """--eval-data's rows, read back from disk like the training file's: memory stays bounded on a large file."""
    if not cfg.eval_data:
        return None
    from tuneforge.data.formats import options_kwargs
    from tuneforge.data.row_store import load_file_rows
    from tuneforge.data.versions import resolve_data_path

    return load_file_rows(resolve_data_path(cfg.eval_data)[0], **options_kwargs(cfg))[0]


def _base_for_data(base: str, max_seq_len: int):
    """(tokenizer, limit, model folder, note); tokenizer None with the reason when the model cannot be had. A
    sentence encoder named as --base has no chat template to count with (`_encoder_input_lengths` counts what it
    reads), but its folder is what the report plans and estimates a classification head on."""
    from tuneforge.models.load import length_tokenizer_or_note
    from tuneforge.models.resolve import ModelNotFound, resolve_base
    from tuneforge.train.encoder_defaults import is_encoder_base

    if is_encoder_base(base):
        try:
            folder = resolve_base(base).path
        except (ModelNotFound, OSError) as err:
            return None, None, None, f"token lengths not checked: {str(err).splitlines()[0]}"
        return None, None, folder, (f"{base} is a sentence encoder: it reads the inputs only, so the tokens counted "
                                    "are those of the user text, not of a chat")
    return length_tokenizer_or_note(base, max_seq_len)


def _encoder_input_lengths(folder, max_seq_len: int):
    """(the tokens a classification head on this encoder reads of each example, as a function; where it cuts)."""
    from tuneforge.models.classifier import HeadReader

    reader = HeadReader.of(folder, max_seq_len)
    return lambda batch: reader.lengths(reader.texts(batch)), reader.limit


def _labels_line(labels: dict[str, int]) -> str:
    return f"labels ({len(labels)}): " + ", ".join(f"{k} {v}" for k, v in labels.items())


def _check(cfg: DataCheckConfig):
    from tuneforge.data.check_stream import check_file
    from tuneforge.data.versions import resolve_data_path

    console = _console()
    path, _ = resolve_data_path(cfg.data)
    tok, limit, folder, note = (_base_for_data(cfg.base, cfg.max_seq_len) if path.is_file()
                                else (None, None, None, None))
    inputs = None
    if tok is None and folder is not None:  # a sentence encoder: the user text, in its own tokens
        inputs, limit = _encoder_input_lengths(folder, cfg.max_seq_len)
    report = check_file(path, cfg, tok, limit, cfg.min_per_label, inputs)  # streamed: bounded memory on any file size
    report.strict = cfg.strict
    if note:
        report.notes.append(note)
    for p in report.problems:
        console.print(str(p), markup=False, style="red" if p.severity == "error" else "yellow")
    console.print(f"format: {report.detected} (detected)" if cfg.data_format == "auto" else f"format: {report.detected}")
    console.print(f"examples: {report.example_count} valid")
    if report.token_counts:
        console.print(f"tokens: longest example {max(report.token_counts)}, total {sum(report.token_counts):,}")
    for n in report.notes:
        console.print(n)
    if report.labels:
        console.print(_labels_line(report.labels))
    if cfg.json_report:
        Path(cfg.json_report).write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    verdict = {0: "[yellow]warnings only[/]" if report.warnings else "[green]clean[/]",
               1: "[red]errors[/]: training would refuse this file", 3: "[yellow]warnings[/] (--strict)"}
    console.print(f"result: {len(report.errors)} error(s), {len(report.warnings)} warning(s) -> "
                  f"{verdict[report.exit_code]} (exit {report.exit_code})")
    raise typer.Exit(report.exit_code)


def _clean(cfg: DataCleanConfig):
    from tuneforge.data.clean import CleanOptions, run_cleaning, step_lines

    console = _console()
    file, load = _load(cfg)
    _require_rows(file, load)
    evals = _load_evals(cfg)
    opts = CleanOptions(near_threshold=cfg.near_threshold, pii=cfg.pii,
                        drop_near_duplicates=cfg.drop_near_duplicates, drop_contradictions=cfg.drop_contradictions)
    result = run_cleaning(load, evals, opts)
    console.print(f"{file}: {result.input_rows} rows, format {load.detected}")
    for k, step in enumerate(result.steps, start=1):
        for i, line in enumerate(step_lines(step)):
            console.print(f"{k}. {line}" if i == 0 else line, markup=False)
    out = Path(cfg.out) if cfg.out else _beside_input(cfg, ".clean.jsonl")
    if out.resolve() == Path(file).resolve():
        raise UserError(f"--out {out}: would overwrite the input; choose another file")
    write_lines_atomic(out, (e.jsonl_line() for e in result.kept))
    report_path = Path(cfg.json_report) if cfg.json_report else out.with_suffix(".report.json")
    report_path.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"kept {len(result.kept)} of {result.input_rows} rows -> {out} (findings: {report_path})")


def _add(cfg: DataAddConfig):
    from tuneforge.data.clean import run_cleaning
    from tuneforge.data.problems import DataError
    from tuneforge.data.validate import check_loaded
    from tuneforge.data.versions import add_version

    console = _console()
    file, load = _load(cfg)
    report = check_loaded(load, file)
    if report.errors:
        raise DataError(report.problems)
    scan = run_cleaning(load)
    checks = {"check": {k: v for k, v in report.to_dict().items() if k != "file"},
              "clean_scan": {s.name: {"found": s.count, "action_if_cleaned": s.action, "note": s.note}
                             for s in scan.steps}}
    vid, folder, created = add_version(report.examples, file, load.detected, cfg.name, checks, cfg.seed,
                                       cfg.eval_split)
    console.print(f"{'stored' if created else 'already stored'}: {vid} ({len(report.examples)} examples) in {folder}")
    found = {s.title: s.count for s in scan.steps if s.count}
    if found:
        console.print("recorded findings (not changed; run `tuneforge data clean` first to act on them): "
                      + ", ".join(f"{k} {v}" for k, v in found.items()), markup=False)
    console.print(f"train on it: tuneforge train {vid}")


def _report(cfg: DataReportConfig):
    from tuneforge.data.readiness import BaseModelInfo, assess
    from tuneforge.data.report_html import render_html
    from tuneforge.models.classifier import head_token_counts
    from tuneforge.train.defaults import choose_defaults

    console = _console()
    file, load = _load(cfg)
    _require_rows(file, load)
    evals = _load_evals(cfg)
    tok, limit, base_dir, note = _base_for_data(cfg.base, cfg.max_seq_len)
    r = assess(load, file, evals, BaseModelInfo(cfg.base, tok, limit, base_dir, note), cfg.train_config(),
               plan=choose_defaults, head_tokens=head_token_counts)
    print_readiness(console, r, file)
    out = Path(cfg.html) if cfg.html else _beside_input(cfg, ".report.html")
    out.write_text(render_html(r, Path(file).name), encoding="utf-8")
    console.print(f"HTML report: {out}")


def print_readiness(console, r, file: str) -> None:
    from tuneforge.data.estimate import human_bytes

    c = r.check
    console.rule(f"data readiness: {file}")
    console.print(f"format {c.detected}; {len(c.examples)} valid examples of {r.clean.input_rows} rows; "
                  f"{len(c.errors)} error(s), {len(c.warnings)} warning(s)")
    if c.token_counts:
        s = sorted(c.token_counts)
        console.print(f"tokens per example: median {s[len(s) // 2]}, max {s[-1]}; total {sum(s):,}")
    if r.answer_lengths:
        a = sorted(r.answer_lengths)
        console.print(f"answer length ({r.answer_unit}): min {a[0]}, median {a[len(a) // 2]}, max {a[-1]}")
    if c.labels:
        console.print(_labels_line(c.labels))
    for s in r.clean.steps:
        shown = "skipped" if s.action == "skipped" else f"{s.count}"
        console.print(f"  {s.title}: {shown}", markup=False)
    if r.plan:
        console.print("`tuneforge train` with the settings given here would choose:")
        for line in r.plan:
            console.print(f"  {line}", markup=False)
    if r.estimate:
        e = r.estimate
        console.print(f"estimate ({e.method}): {e.work()}, memory ~{human_bytes(e.memory_bytes)} (the same estimate "
                      "`tuneforge train` prints)", markup=False)
    for n in r.notes:
        if n:
            console.print(n, markup=False)
    console.print(f"[bold]verdict: {r.verdict}[/]")
    for reason in r.reasons:
        console.print(f"  - {reason}", markup=False)


def _list():
    from tuneforge.data.versions import scan_versions

    console = _console()
    versions, broken = scan_versions()
    if not versions and not broken:
        console.print("no dataset versions yet; add one with: tuneforge data add FILE --name NAME")
    for m in versions:
        console.print(f"{m['id']}  {m.get('counts', {}).get('examples', '?')} examples  {m.get('created_at', '?')}  "
                      f"from {m.get('source', {}).get('path', '?')}", markup=False)
    for problem in broken:  # one damaged version never hides the others
        console.print(f"damaged: {problem}", markup=False, style="red")


def _verify():
    from tuneforge.data.versions import verify_all

    console = _console()
    results = verify_all()
    for vid, problem in results:
        console.print(f"ok: {vid}" if problem is None else f"FAILED: {problem}", markup=False,
                      style=None if problem is None else "red")
    bad = sum(p is not None for _, p in results)
    console.print(f"{len(results)} version(s) checked, {bad} failed")
    raise typer.Exit(1 if bad else 0)


add_config_command(
    app, DataCheckConfig, "check", _check,
    help="Validate a data file: every problem with file, line, field and a fix hint. "
         "Exit 0: clean or warnings only, 1: errors (training would refuse or damage the data), 3: warnings with --strict.",
    epilog="\b\nExamples:\n  tuneforge data check examples/invoice-categories/train.jsonl\n"
           "  tuneforge data check sheet.xlsx --input-column description --output-column account\n"
           "  tuneforge data check data.jsonl --base none      # skip the token-length check",
)
add_config_command(
    app, DataCleanConfig, "clean", _clean,
    help="Remove duplicates, leakage and invalid rows; flag contradictions, PII, outliers and suspicious labels.",
    epilog="\b\nExample:\n  tuneforge data clean train.jsonl --eval-data eval.jsonl --out train.clean.jsonl --pii redact",
)
add_config_command(
    app, DataAddConfig, "add", _add,
    help="Store a data file as an immutable dataset version (normalised JSONL + manifest) that training accepts.",
    epilog="\b\nExample:\n  tuneforge data add train.clean.jsonl --name invoices\n  tuneforge train invoices@3f2a9c1b7d0e",
)
add_config_command(
    app, DataReportConfig, "report", _report,
    help="Readiness report: tokens, labels, answer lengths, problems, time/memory estimate and a verdict; "
         "terminal summary plus a self-contained HTML file.",
    epilog="\b\nExample:\n  tuneforge data report train.jsonl --eval-data eval.jsonl --html report.html",
)
app.command("list", help="List stored dataset versions.")(_list)
app.command("verify", help="Check every stored dataset version against its manifest (full SHA-256); exit 1 if "
                           "any was changed or damaged.")(_verify)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
