"""OpenAI's fine-tuning job request, and how it maps onto tuneforge's one training schema (config.TrainConfig).

The body is OpenAI's (`model`, `training_file`, `validation_file`, `suffix`, `seed`, `metadata`, `method` with
per-method `hyperparameters`, the deprecated top-level `hyperparameters`). Mapping:
- `method.type`: supervised -> objective sft, dpo -> objective dpo (reinforcement is refused: not implemented);
- `n_epochs`, `batch_size`: a value sets `epochs` / `batch_size`; "auto" uses tuneforge's rules (train/auto.py);
- `learning_rate_multiplier`: multiplies tuneforge's auto learning rate for the method and batch ("auto" = 1);
- `beta` (dpo): `dpo_beta`; "auto" keeps tuneforge's default;
- `validation_file`: `eval_data`; without one the whole training file trains, as at OpenAI (no held-out split);
- `seed`: `seed` (one is drawn and recorded when absent).
A tuneforge-only `tuneforge` object may set any other TrainConfig field (`lora_r`, `max_seq_len`, ...), checked
by the same schema, so a job can ask for everything `tuneforge train` can.
"""

from __future__ import annotations

import re
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tuneforge.config import TrainConfig, build_config

Auto = Literal["auto"]
# Fields a job's `tuneforge` object may not set: the job decides them (files, run folder, resume, method).
RESERVED = {"data", "base", "out", "eval_data", "resume", "objective", "progress", "nproc", "auto_epochs",
            "auto_batch_size", "auto_lr"}
AUTO_BASE = "auto"  # a job's `model` that leaves the base to its rows, as `tuneforge train` with no --base does
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hyperparameters(_Body):
    n_epochs: Union[Auto, int, None] = Field(None, description="Passes over the training file.")
    batch_size: Union[Auto, int, None] = Field(None, description="Examples per optimizer step.")
    learning_rate_multiplier: Union[Auto, float, None] = Field(None, description="Times tuneforge's auto rate.")
    beta: Union[Auto, float, None] = Field(None, description="DPO only: the DPO temperature.")

    @field_validator("n_epochs", "batch_size")
    @classmethod
    def _positive_int(cls, v):
        if isinstance(v, int) and not 1 <= v <= 4096:
            raise ValueError("must be 'auto' or an integer from 1 to 4096")
        return v

    @field_validator("learning_rate_multiplier", "beta")
    @classmethod
    def _positive(cls, v):
        if isinstance(v, float) and not v > 0:
            raise ValueError("must be 'auto' or a number above 0")
        return v


class MethodOptions(_Body):
    hyperparameters: Optional[Hyperparameters] = None


class Method(_Body):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: Optional[MethodOptions] = None
    dpo: Optional[MethodOptions] = None
    reinforcement: Optional[dict] = None


class CreateJob(_Body):
    model: str = Field(..., min_length=1)
    training_file: str
    validation_file: Optional[str] = None
    suffix: Optional[str] = None
    seed: Optional[int] = Field(None, ge=0, le=2**31 - 1)
    metadata: Optional[dict[str, str]] = None
    method: Optional[Method] = None
    hyperparameters: Optional[Hyperparameters] = None  # deprecated by OpenAI in favour of method
    integrations: Optional[list] = None
    tuneforge: Optional[dict] = None

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, v):
        if v is not None and not _SUFFIX.match(v):
            raise ValueError("up to 64 letters, digits, '.', '_' or '-'")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v):
        if v is not None:
            if len(v) > 16:
                raise ValueError("at most 16 key-value pairs")
            for key, value in v.items():
                if len(key) > 64 or len(value) > 512:
                    raise ValueError(f"{key[:64]!r}: keys are at most 64 characters, values at most 512")
        return v


class SpecError(ValueError):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def method_type(body: CreateJob) -> str:
    return body.method.type if body.method else "supervised"


def requested_hyperparameters(body: CreateJob) -> Hyperparameters:
    """The hyperparameters the client asked for, wherever it put them; refuses what cannot be honoured."""
    if body.integrations:
        raise SpecError("integrations are not supported by this server (training metrics are in the job's events "
                        "and result file)", "integrations")
    kind = method_type(body)
    if kind == "reinforcement":
        raise SpecError("method.type 'reinforcement' is not supported; use 'supervised' or 'dpo'", "method.type")
    hp = None
    if body.method is not None:
        options = getattr(body.method, kind)
        hp = options.hyperparameters if options else None
        other = "dpo" if kind == "supervised" else "supervised"
        if getattr(body.method, other) is not None:
            raise SpecError(f"method.{other} given but method.type is {kind!r}", f"method.{other}")
    if body.hyperparameters is not None:
        if body.method is not None and hp is not None:
            raise SpecError("give hyperparameters under method only (the top-level field is deprecated)",
                            "hyperparameters")
        hp = body.hyperparameters
    hp = hp or Hyperparameters()
    if hp.beta is not None and kind != "dpo":
        raise SpecError("beta is a DPO hyperparameter", f"method.{kind}.hyperparameters.beta")
    return hp


def train_values(body: CreateJob, base: str, data: str, eval_data: str | None, out: str, seed: int) -> dict:
    """TrainConfig values for the job, with `auto` left to tuneforge's rules (resolved in `resolve`), and a base of
    "auto" to the rows (`choose_base`)."""
    hp = requested_hyperparameters(body)
    overrides = dict(body.tuneforge or {})
    reserved = sorted(RESERVED & overrides.keys())
    if reserved:
        raise SpecError(f"tuneforge.{reserved[0]} is set by the job itself", f"tuneforge.{reserved[0]}")
    values = {"data": data, "base": base, "out": out, "eval_data": eval_data, "eval_split": 0.0, "seed": seed,
              "objective": "dpo" if method_type(body) == "dpo" else "sft", "progress": False,
              "report_to": "none", "save_every": 0, "keep_checkpoints": 3,
              # OpenAI's jobs make a chat model that answers in text; `tuneforge.variant_type` may ask for a head.
              "variant_type": "generative", **_base_defaults(base)}
    values.update(overrides)
    if hp.n_epochs in (None, "auto"):
        values["auto_epochs"] = "epochs" not in overrides
    else:
        values["epochs"] = hp.n_epochs
    if hp.batch_size in (None, "auto"):
        values["auto_batch_size"] = "batch_size" not in overrides
    else:
        values["batch_size"] = hp.batch_size
    values["auto_lr"] = "lr" not in overrides
    if hp.beta not in (None, "auto"):
        values["dpo_beta"] = hp.beta
    try:
        build_config(TrainConfig, values, source="tuneforge")
    except ValueError as err:
        raise SpecError(str(err), "tuneforge") from None
    return values


def _base_defaults(base: str) -> dict:
    """What a job's base decides of its settings unless `tuneforge` says otherwise."""
    from tuneforge.train.encoder_defaults import is_encoder_base

    if base == AUTO_BASE:  # the base, and so the kind of model, are chosen from the rows (`choose_base`)
        return {"variant_type": "auto"}
    if is_encoder_base(base):
        # A sentence encoder can only learn a head, which the server runs on its own (no shared chat base): the
        # kind and method are left to the data and train's encoder rules, which refuse free text with the reason.
        return {"variant_type": "auto"}
    # An adapter, not train's small-base full fine-tune: the server keeps every job's model as an adapter over one
    # shared base, where a full fine-tune would hold a whole copy of the weights per job.
    return {"method": "lora"}


def choose_base(values: dict, overrides: dict, train: list, fallback: str) -> tuple[dict, str | None]:
    """(the job's values with its base chosen, why) for a job whose `model` is "auto"; other jobs unchanged.

    As `tuneforge train` chooses with no --base (train/encoder_defaults.py `choose_encoder`): labels go to the
    packaged sentence encoder when one is installed and the inputs suit it; anything else to `fallback`, the base
    the server serves first (jobs/datasets.py `default_base`)."""
    from tuneforge.data.labels import label_set
    from tuneforge.train.encoder_defaults import choose_encoder

    if values["base"] != AUTO_BASE:
        return values, None
    encoder, note = None, ""
    if values.get("variant_type") == "generative" or values.get("objective") == "dpo":
        reason = "a text generator was asked for"
    elif not label_set([e.answer for e in train]):
        reason = "the answers are free text, not a small set of labels"
    else:
        encoder, note = choose_encoder([e.user_text for e in train])  # its note names the base and why
        reason = note
    base = encoder or fallback
    defaults = {k: v for k, v in _base_defaults(base).items() if k not in overrides}
    return {**values, "base": base, **defaults}, note if encoder else f"base={base} (the server's first base: {reason})"


def multiplier(body: CreateJob) -> float:
    m = requested_hyperparameters(body).learning_rate_multiplier
    return 1.0 if m in (None, "auto") else float(m)


def resolve(values: dict, train: list, lr_multiplier: float, fallback_base: str,
            overrides: dict) -> tuple[TrainConfig, list[str]]:
    """The concrete config the run gets once its training rows `train` are known, then the multiplier on the
    learning rate. The result has no auto flags left and the child's `tuneforge train` reads every field as given,
    so what is chosen here is what trains, and a resumed run uses the same values. The job's worker and the Data
    page's estimate both plan through here.

    A `model` of "auto" gets its base from the rows first (`choose_base`, falling back to `fallback_base`; the
    job's `tuneforge` `overrides` are kept). A job that leaves the kind of model to the data (`tuneforge.variant_type`
    "auto", as the web app's Train page asks) or asks for a head is then planned by `tuneforge train`'s own rules
    (train/defaults.py): on labels, a classification head with the schedule, rate, depth and head measured for
    heads. The jobs API's auto rules below are for text generators; a head given them trained at an adapter's rate
    for 3 epochs. Every other job (OpenAI's default: a text generator) gets those rules."""
    from tuneforge.train.auto import resolve_auto
    from tuneforge.train.defaults import choose_defaults, choose_variant_type

    values, chose_base = choose_base(values, overrides, train, fallback_base)
    cfg = TrainConfig(**values)
    kind, why = choose_variant_type(cfg, [e.answer for e in train])
    if kind == "classification":
        cfg, notes = choose_defaults(cfg, train)
    else:  # a text generator (asked for, or the answers are free text): the jobs API's adapter rules
        cfg, notes = resolve_auto(cfg.model_copy(update={"variant_type": "generative"}), len(train))
        notes = ([f"variant_type={why}"] if why else []) + notes
    notes = ([chose_base] if chose_base else []) + notes
    update = {"auto_epochs": False, "auto_batch_size": False, "auto_lr": False}
    if values.get("auto_lr") and lr_multiplier != 1.0:
        update["lr"] = float(f"{cfg.lr * lr_multiplier:.4g}")
        notes.append(f"lr={update['lr']:g} (learning_rate_multiplier {lr_multiplier:g} x {cfg.lr:g})")
    return cfg.model_copy(update=update), notes


def shown_model(job: dict) -> str:
    """The job's `model`: as asked, or for "auto" the base chosen from the rows once the files are validated."""
    from tuneforge.models.resolve import base_display_name

    return base_display_name(job["base"]) if job["model"] == AUTO_BASE else job["model"]


def shown_requested(body: CreateJob) -> dict:
    """`hyperparameters` of a job before its file is validated: what was asked, "auto" where nothing was."""
    hp = requested_hyperparameters(body)
    keys = ["n_epochs", "batch_size", "learning_rate_multiplier"] + (["beta"] if method_type(body) == "dpo" else [])
    return {k: "auto" if getattr(hp, k) is None else getattr(hp, k) for k in keys}


def shown_resolved(cfg: TrainConfig, lr_multiplier: float) -> dict:
    """`hyperparameters` once resolved: the values the run trains with."""
    shown = {"n_epochs": cfg.epochs, "batch_size": cfg.batch_size, "learning_rate_multiplier": lr_multiplier}
    if cfg.objective == "dpo":
        shown["beta"] = cfg.dpo_beta
    return shown
