"""The model card (README.md) of a variant, in its run folder and in each export.

The front matter is huggingface_hub's ModelCardData (base_model, licence, library, tags), which the Hub and
other tools read; the body says what the variant is for, what it was trained on (dataset version and hash,
training settings), how it did against the prompted baselines (eval.json, with intervals) and where it stops
being reliable. Every fact comes from run.json / eval.json; nothing is a blank to fill in.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.export.file_names import CARD_FILE

# Training settings worth a reader's attention (the full resolved config is in run.json).
_CONFIG_KEYS = ("method", "objective", "epochs", "max_steps", "batch_size", "grad_accum", "lr", "schedule",
                "warmup_ratio", "lora_r", "lora_alpha", "lora_dropout", "max_seq_len", "seed")


def _eval_report(run_dir: Path) -> dict | None:
    from tuneforge.eval.eval_file import EVAL_FILE, read_eval

    path = run_dir / EVAL_FILE
    return read_eval(path).raw if path.is_file() else None


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _results_table(report: dict) -> list[str]:
    systems = report["systems"]
    metrics: list[str] = []
    for s in systems.values():
        for m in (s.get("metrics") or {}):
            if m not in metrics:
                metrics.append(m)
    if not metrics:
        metrics = ["exact_match"]
    lines = ["| system | kind | " + " | ".join(f"{m} [95% CI]" for m in metrics) + " |",
             "| --- | --- | " + " | ".join("---" for _ in metrics) + " |"]
    for name, s in systems.items():
        cells = []
        for m in metrics:
            value = (s.get("metrics") or {}).get(m, s.get(m))
            ci = (s.get("ci") or {}).get(m)
            cells.append(_pct(value) + (f" [{_pct(ci[0])}–{_pct(ci[1])}]" if ci else ""))
        lines.append(f"| {name} | {s.get('kind', '')} | " + " | ".join(cells) + " |")
    return lines


def _base_facts(run: dict) -> tuple[str | None, str, str | None]:
    """(public id, the name a reader sees, licence) of the run's base. A local folder is named by its last part
    only: a card must not leak (or depend on) this machine's paths."""
    from tuneforge.models.resolve import BUNDLED, public_id

    base_name = run["base"]["name"]
    base_id = public_id(base_name)
    shown = base_id or f"{Path(base_name).name} (a local model)"
    return base_id, shown, BUNDLED[base_name].licence if base_name in BUNDLED else None


def _data_lines(data: dict, held_out_for: str) -> list[str]:
    return ["## Training data", "",
            f"- file: `{Path(data['path']).name if data.get('path') else '?'}`, dataset version "
            f"`{data.get('version') or '-'}`, content hash `{data.get('hash')}`",
            f"- {data.get('train_examples', '?')} training examples, {data.get('eval_examples', '?')} held out for "
            f"{held_out_for}", ""]


def _evaluation_lines(report: dict | None, compared_with: str) -> list[str]:
    if report:
        return [f"On `{Path(str(report.get('data', '?'))).name}` (held out), against {compared_with}; intervals are "
                "95% intervals over the examples:", "", *_results_table(report), ""]
    return [f"Not evaluated yet: run `tuneforge eval --model RUN --eval-data HELD_OUT.jsonl`, which compares it with "
            f"{compared_with}, and export again.", ""]


def _software_lines(run: dict) -> list[str]:
    versions = run.get("versions") or {}
    return ["## Software", "", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())), ""] if versions else []


def card_text(run: dict, report: dict | None, export_kind: str | None = None, dtype: str | None = None,
              title: str = "variant", serving: list[str] | None = None) -> str:
    from huggingface_hub import ModelCardData

    from tuneforge.models.variant import has_own_weights

    base_id, shown, licence = _base_facts(run)
    data = run.get("data", {})
    cfg = run.get("config", {})
    full = has_own_weights(run)  # a full fine-tune's run folder holds whole weights, not an adapter
    library = "transformers" if export_kind in ("merged", "gguf") or full else "peft"
    front = ModelCardData(
        base_model=base_id, license=licence, library_name=library, pipeline_tag="text-generation",
        tags=["tuneforge", cfg.get("method", "lora"), *(["gguf"] if export_kind == "gguf" else [])],
    )
    what = {None: "the fully fine-tuned weights (safetensors)" if full else "a LoRA adapter (PEFT format)",
            "merged": "the fine-tuned model (safetensors)" if full else "the adapter merged into the base (safetensors)",
            "gguf": "a GGUF file for llama.cpp and Ollama"}[export_kind]
    lines = [
        "---", front.to_yaml(), "---", "",
        f"# {title} — fine-tuned {shown}", "",
        f"This is {what}{f' in {dtype}' if dtype else ''}, fine-tuned with tuneforge "
        f"({run.get('method', 'lora')}, {run.get('objective', 'sft')}) from **{shown}**"
        f"{f' (licence: {licence})' if licence else ''}.", "",
        "## Intended use", "",
        "The task of its training data and nothing else: inputs like the training examples, answered in their "
        "format. It was trained with the system prompt below; the exported chat template adds it when a "
        "conversation has none, and decoding is greedy (`generation_config.json`).", "",
    ]
    if data.get("system_prompt"):
        lines += ["```text", data["system_prompt"], "```", ""]
    lines += [
        "## Limits", "",
        f"- A small model ({run.get('metrics', {}).get('total_params', 0):,} parameters) trained on "
        f"{data.get('train_examples', '?')} examples: inputs unlike them (other languages, other tasks, "
        "adversarial text) get unreliable answers, and it may state wrong things fluently.",
        "- Check the evaluation below on data like yours before relying on it; keep a person in the loop for "
        "decisions that matter.", "",
        *_data_lines(data, f"the evaluation loss; {data.get('truncated_examples', 0)} truncated"),
        "## Training configuration", "",
        "| setting | value |", "| --- | --- |",
        *[f"| {k} | {cfg[k]} |" for k in _CONFIG_KEYS if cfg.get(k) not in (None, "", 0) or k == "seed"],
        f"| trained tokens | {run.get('trained_tokens', '?'):,} |" if isinstance(run.get("trained_tokens"), int)
        else "| trained tokens | ? |",
        f"| final eval loss | {run.get('metrics', {}).get('final_eval_loss')} |", "",
        "## Evaluation", "",
        *_evaluation_lines(report, "the base model prompted without fine-tuning"),
    ]
    if serving:
        lines += ["## Serving", "", *serving]
    return "\n".join(lines + _software_lines(run))


def gguf_grammar_lines(gguf_name: str, grammar_file: str) -> list[str]:
    """The GGUF card's note on an extraction variant's grammar: how llama.cpp answers as the evaluation did."""
    return ["The evaluation decoded every answer under a grammar: one JSON object with the keys learned from the "
            f"training answers, in their order. `{grammar_file}` is that grammar for llama.cpp; without it the "
            "model answers freely and may differ from its evaluated answers.", "",
            "```bash", f"llama-cli -m {gguf_name} --grammar-file {grammar_file} --temp 0", "```", "",
            "llama-server takes it per request: the file's text as the request's `grammar` field, temperature 0.", ""]


def lark_grammar_lines(model_name: str, grammar_path: str, max_tokens: int, serve_command: str | None = None) -> list[str]:
    """The card's note on an extraction variant's grammar: how vLLM answers as the evaluation did. `model_name` is
    the name requests use; `serve_command`, when given, is the command that serves it with the guidance backend."""
    lines = ["The evaluation decoded every answer under a grammar: one JSON object with the keys learned from the "
             f"training answers, in their order. `{Path(grammar_path).name}` is that grammar in llguidance's Lark "
             "syntax, the text the evaluation compiled. vLLM's guidance backend compiles it the same way; without it "
             "the model answers freely and may differ from its evaluated answers. The evaluation's token budget, "
             f"enough for the longest answer the grammar allows, is {max_tokens}.", ""]
    if serve_command:
        lines += ["```bash", serve_command, "```", ""]
    return lines + [
        "```python",
        f'grammar = open("{grammar_path}").read()',
        f'client.chat.completions.create(model="{model_name}", messages=messages, temperature=0, '
        f'max_tokens={max_tokens},',
        '                               extra_body={"structured_outputs": {"grammar": grammar}})',
        "```", ""]


def write_model_card(run_dir: str | Path, folder: str | Path | None = None, export_kind: str | None = None,
                     dtype: str | None = None, title: str | None = None, serving: list[str] | None = None) -> Path:
    """README.md for the variant in `folder` (default: the run folder itself, replacing PEFT's blank card);
    `serving` lines, when given, are the card's Serving section."""
    from tuneforge.models.variant import has_own_weights
    from tuneforge.run_record import read_run

    run_dir = Path(run_dir)
    path = Path(folder or run_dir) / CARD_FILE
    run = read_run(run_dir)
    if run.get("variant_type") == "classification":
        path.write_text(classifier_card_text(run, _eval_report(run_dir), title or run_dir.name), encoding="utf-8")
        return path
    if folder is None:  # the run folder's own card
        serving = _full_run_serving_lines(run) if has_own_weights(run) else _adapter_serving_lines(run_dir, run)
    text = card_text(run, _eval_report(run_dir), export_kind, dtype, title or run_dir.name, serving)
    path.write_text(text, encoding="utf-8")
    return path


def _adapter_serving_lines(run_dir: Path, run: dict) -> list[str]:
    """How vLLM serves the adapter; for an extraction variant also its answer grammar, written beside the adapter
    (`answer.lark`, as in a merged export), since the evaluation decoded under it."""
    from tuneforge.export.file_names import ANSWER_LARK_FILE
    from tuneforge.export.vllm_rules import vllm_adapter_problems, vllm_card_lines
    from tuneforge.models.answer_grammar import learned_answer_format
    from tuneforge.models.resolve import public_id

    fmt = learned_answer_format(run)
    if fmt:
        (run_dir / ANSWER_LARK_FILE).write_text(str(fmt.grammar), encoding="utf-8")
    lines = vllm_card_lines(run_dir, public_id(run["base"]["name"]), grammar=bool(fmt))
    if fmt and not vllm_adapter_problems(run_dir):
        lines += lark_grammar_lines(run_dir.name, f"PATH_TO_THIS_FOLDER/{ANSWER_LARK_FILE}", fmt.max_tokens)
    return lines


def _full_run_serving_lines(run: dict) -> list[str]:
    """A full fine-tune's run folder holds whole weights, but the behaviour it was evaluated with (its trained
    system prompt, decoding settings and, for extraction, the answer grammar) is applied by tuneforge, not by this
    folder's chat template: another server answers as evaluated only from an export, which carries them."""
    from tuneforge.models.answer_grammar import learned_answer_format

    fmt = learned_answer_format(run)
    grammar = ", and the answer grammar its evaluation decoded under beside the weights" if fmt else ""
    return ["`tuneforge predict` and `tuneforge serve` answer from this folder as the evaluation did. Other servers "
            "(vLLM, llama.cpp) should load an export instead: it writes the trained system prompt into the chat "
            f"template and greedy decoding into `generation_config.json`{grammar}. This folder leaves them to "
            "tuneforge.", "",
            "```bash", "tuneforge models export PATH_TO_THIS_FOLDER --format merged   # or --format gguf", "```", ""]


def _calibration_line(what: str, record: dict | None) -> list[str]:
    if not record or record.get("ece_after") is None:
        return []
    return [f"- {what}: temperature {record['temperature']:.3f}, expected calibration error "
            f"{_pct(record['ece_before'])} -> {_pct(record['ece_after'])}, log-loss {record['nll_before']:.4f} -> "
            f"{record['nll_after']:.4f} on {record.get('examples', record.get('held_out', '?'))} held-out examples"]


def _classifier_config_keys(run: dict) -> tuple[str, ...]:
    """The settings that shaped this head, for its architecture: an encoder trains whole (its embeddings frozen or
    not); a decoder trains its top layers (LoRA or full) over a kept depth."""
    head = ("classifier_pooling", "classifier_head_init", "classifier_head_lr")
    if run.get("architecture") == "encoder":
        body = ("classifier_freeze_embeddings",)
    else:
        body = ("classifier_layers", "classifier_depth") + (("lora_r",) if run.get("method") != "full" else ())
    return ("method", "epochs", "batch_size", "lr", *body, *head, "seed")


def classifier_card_text(run: dict, report: dict | None, title: str = "variant") -> str:
    """The card of a classification variant (train/classification.py): a head over a fixed label set, its
    calibration (the head's, and the served probabilities' when fused with the n-gram model) and evaluation."""
    from huggingface_hub import ModelCardData

    base_id, shown, licence = _base_facts(run)
    data, cfg, fusion = run.get("data", {}), run.get("config", {}), run.get("fusion")
    front = ModelCardData(base_model=base_id, license=licence, library_name="transformers",
                          pipeline_tag="text-classification", tags=["tuneforge", "classification", run.get("method", "")])
    labels = run.get("labels") or []
    lines = [
        "---", front.to_yaml(), "---", "",
        f"# {title} — a classifier fine-tuned from {shown}", "",
        f"A classification head over {len(labels)} labels on **{shown}** ({run.get('architecture', 'decoder')}, "
        f"{run.get('method', '?')} fine-tuning), trained with tuneforge. It reads the user's text only (no system "
        "prompt, no chat template) and answers with exactly one label, with a calibrated probability for each.", "",
        "## Labels", "", ", ".join(f"`{label}`" for label in labels), "",
    ]
    if fusion:
        lines += ["## Fusion with an n-gram model", "",
                  f"The served probabilities fuse the head's with a {fusion.get('ngram', 'TF-IDF')} logistic "
                  f"regression trained on the same rows: weight {fusion.get('weight')} for the head "
                  f"({fusion.get('weight_chosen', '')}). The transformers checkpoint alone is the head alone and may "
                  "answer differently; tuneforge's loader, server and export apply the fusion "
                  "(`ngram_model.json`, `ngram_model.safetensors`).", ""]
    calibration = _calibration_line("head alone", run.get("calibration"))
    calibration += _calibration_line("served (head fused with the n-gram model)", fusion)
    lines += ["## Calibration", "", *(calibration or ["- not calibrated (no held-out examples)"]), ""]
    lines += [
        "## Limits", "",
        f"- Trained on {data.get('train_examples', '?')} examples: inputs unlike them (other languages, other "
        "domains) get unreliable labels, and an input that belongs to no label still gets one.",
        "- Check the evaluation below on data like yours before relying on it; keep a person in the loop for "
        "decisions that matter.", "",
        *_data_lines(data, "the best epoch and calibration" if cfg.get("keep_best", True) else "calibration"),
        "## Training configuration", "",
        "| setting | value |", "| --- | --- |",
        *[f"| {k} | {cfg[k]} |" for k in _classifier_config_keys(run) if cfg.get(k) not in (None, "")],
        "", "## Evaluation", "",
        *_evaluation_lines(report, "the prompted base model and the non-LLM baselines"),
    ]
    return "\n".join(lines + _software_lines(run))
