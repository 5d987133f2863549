"""Settings chosen from the data for every training field the user left unset, each with its reason.

`tuneforge train DATA` with no options must train a variant that works. A field the user set (flag, YAML key or
API field: pydantic's `model_fields_set`) is never overridden; every other choice below is printed as one line
"field=value (why)". The rules and the measurements behind them are in docs/training.md.

- variant type: labels (data/labels.py: short, repeated answers) -> a classification head; anything else ->
  generative. A head can only answer a label, and on the invoice demo it is both more accurate and faster.
- classification with no base given and short inputs: a packaged sentence encoder (multilingual-e5-small, else
  all-MiniLM-L6-v2) fine-tuned whole with a head (train/encoder_defaults.py: the rule, its settings and the
  measurement behind them); a base the user names is kept.
- classification on a decoder: the bottom CLS_DEPTH layers of the base only (a small decoder's middle and top layers serve
  next-token prediction; its lower layers' mean-pooled states separate labels better, and the model is a quarter
  of the compute), LoRA rank 16 on all CLS_LAYERS of them, a random head (CLS_HEAD_INIT: a head started from a
  logistic-regression probe measured worse), lr CLS_LR, batch CLS_BATCH, epochs so that the run makes about
  CLS_TARGET_STEPS optimizer steps (within CLS_MIN/MAX_EPOCHS), the last of them kept (train/auto.py
  `head_schedule`, as for an encoder's head); pooling is the mean over tokens (config default).
  Chosen on a validation split of the invoice demo's training file (benchmarks/classification_ablation.py).
- classification, any base: the head fused with a TF-IDF n-gram logistic regression trained on the same rows
  (train/ngram_fusion.py: the rule and its measurement); --no-classifier-fusion keeps the head alone.
- generative: full fine-tuning on a small base (at most SMALL_BASE_PARAMS parameters) for SFT when neither the rate nor
  a LoRA setting was given, else LoRA; measured on the 135M bundled base, where full fine-tuning answered better on
  the extraction demo and quantities-en and level on chatterbot-replies-en (docs/training.md). A full run (chosen
  or given) keeps FULL_KEEP_CHECKPOINTS step checkpoint unless told otherwise: each holds the whole model with its
  optimizer state. Then the dataset-size rules of train/auto.py for epochs, batch size and learning rate.
"""

from __future__ import annotations

from tuneforge.data.labels import label_set
from tuneforge.errors import UserError
from tuneforge.train.auto import auto_batch_size, auto_epochs, auto_lr, head_schedule
from tuneforge.train.encoder_defaults import choose_encoder, encoder_choices, is_encoder_base
from tuneforge.train.ngram_fusion import fusion_notes

CLS_METHOD, CLS_LORA_R = "lora", 16
CLS_DEPTH = 8  # layers kept from the bottom of the base (all of them when it has fewer)
CLS_LAYERS = 8  # trained layers, counted from the top of those kept: all 8
CLS_HEAD_INIT = "random"  # a probe head fits the training rows (train loss ~0): the body then learns little
CLS_LR = 1e-3
CLS_BATCH = 16
CLS_TARGET_STEPS = 200  # 8 epochs of the invoice demo: validation accuracy rose until epoch 5 and held to 8
CLS_MIN_EPOCHS, CLS_MAX_EPOCHS = 3, 20
# Full fine-tuning wins at 135M (measured); up to ~0.5B (SmolLM2-360M, Qwen2.5-0.5B) its weights, gradients and AdamW
# state stay under 8 GiB in fp32. Larger bases keep LoRA: untested here, and their optimizer state grows past
# what a workstation holds.
SMALL_BASE_PARAMS = 500_000_000
# A LoRA setting or a learning rate the user gave was chosen for LoRA, the method the flags document as default.
LORA_SETTINGS = ("lr", "lora_r", "lora_alpha", "lora_dropout", "lora_targets")
FULL_KEEP_CHECKPOINTS = 1  # ~1.6 GB per step checkpoint of the 135M base; the newest still resumes the run exactly


def _pairs_under_sft(cfg, train: list, unset) -> list[str]:
    """The note that SFT, the objective when none is given, drops a preference pair's rejected answer. DPO is not
    chosen for pair files: from the base it learned the pairs' preferences but never the answers' form
    (benchmarks/RESULTS.md, "DPO's learning rate"), so SFT on the chosen answers is the first stage either way."""
    pairs = sum(e.is_preference for e in train)
    if not pairs or cfg.objective != "sft" or not unset("objective"):
        return []
    return [f"objective=sft ({pairs} of {len(train)} rows are preference pairs: SFT learns their chosen answers and "
            "leaves the rejected ones out; --objective dpo learns the preferences, from a base that already answers "
            "in the task's form, such as an SFT variant as --base; docs/training.md)"]


def choose_variant_type(cfg, answers: list[str]) -> tuple[str, str | None]:
    labels = label_set(answers)
    if is_encoder_base(cfg.base):
        # A sentence encoder has no language-model head and no chat template: it can only put a head over labels.
        # Refused here, before any weights load, with what to change, instead of failing at the tokenizer.
        if cfg.variant_type == "generative" or cfg.objective == "dpo" or not labels:
            why = ("a generative variant was asked for" if cfg.variant_type == "generative" else
                   "DPO was asked for" if cfg.objective == "dpo" else
                   "these answers are not labels (short answers that repeat, at most 50 distinct)")
            raise UserError(f"{cfg.base} is a sentence encoder: it can only learn a classification variant, and "
                            f"{why}; leave --base unset (or name a chat model) to train a generative variant",
                            field="base")
    if cfg.variant_type != "auto":
        return cfg.variant_type, None
    if cfg.objective == "dpo":
        return "generative", "generative (DPO learns preferences between texts)"
    if labels:
        return "classification", (f"classification ({len(labels)} labels: the answers are short and repeat; "
                                   "a head over the labels can only answer one of them)")
    return "generative", "generative (the answers are free text, not a small set of labels)"


def _classification_choices(cfg, n: int, unset, texts: list[str]) -> tuple[dict, list[str]]:
    if unset("base"):
        encoder, why = choose_encoder(texts)
        if encoder:
            return encoder_choices(cfg, n, unset, encoder, why)
    elif is_encoder_base(cfg.base):
        return encoder_choices(cfg, n, unset, None)
    update, notes = {}, []
    if unset("method"):
        update["method"] = CLS_METHOD
        notes.append(f"method={CLS_METHOD} (classification: LoRA on the top layers plus a fully trained head; "
                     "small adapter, small optimizer state)")
    if unset("lora_r") and update.get("method", cfg.method) != "full":
        update["lora_r"] = CLS_LORA_R
        notes.append(f"lora_r={CLS_LORA_R} (classification default)")
    if unset("classifier_depth"):
        update["classifier_depth"] = CLS_DEPTH
        notes.append(f"classifier_depth={CLS_DEPTH} (keep the bottom {CLS_DEPTH} layers of the base: their mean-pooled "
                     "states separate labels better than the top's, at a quarter of the compute; docs/training.md)")
    if unset("classifier_layers"):
        update["classifier_layers"] = CLS_LAYERS
        notes.append(f"classifier_layers={CLS_LAYERS} (train the top {CLS_LAYERS} of the layers kept and the head; "
                     "frozen layers below, if any, run once per example)")
    if unset("classifier_head_init"):
        update["classifier_head_init"] = CLS_HEAD_INIT
        notes.append(f"classifier_head_init={CLS_HEAD_INIT} (a head started from a logistic regression already fits "
                     "the training rows, so fine-tuning the body learns little: measured worse on the invoice demo)")
    sized, why = head_schedule(cfg, n, unset, CLS_BATCH, CLS_TARGET_STEPS, CLS_MIN_EPOCHS, CLS_MAX_EPOCHS)
    update.update(sized)
    notes += why
    if unset("lr"):
        lr = CLS_LR if update.get("method", cfg.method) != "full" else CLS_LR / 20
        update["lr"] = lr
        notes.append(f"lr={lr:g} (classification, {update.get('method', cfg.method)}: measured on the invoice demo, "
                     "docs/training.md)")
    return update, notes


def base_parameters(base: str) -> int:
    """The base's parameter count from its safetensors headers (a hub id is fetched, as training would next)."""
    from tuneforge.data.estimate import count_parameters
    from tuneforge.models.resolve import resolve_base

    return count_parameters(resolve_base(base).path)


def _generative_method(cfg, unset, params_of) -> tuple[dict, list[str]]:
    if not unset("method") or cfg.objective != "sft":
        return {}, []  # DPO needs an adapter: its reference model is the base with the adapter switched off
    given = [name for name in LORA_SETTINGS if not unset(name)]
    if given:
        return {}, [f"method={cfg.method} (--{given[0].replace('_', '-')} was given: full fine-tuning is chosen only "
                    "with its own rate and no LoRA setting)"]
    params = params_of(cfg.base)
    if params > SMALL_BASE_PARAMS:
        return {}, [f"method={cfg.method} ({params / 1e9:.2f}B parameters: above {SMALL_BASE_PARAMS / 1e9:g}B, "
                    "full fine-tuning's optimizer state outgrows a workstation)"]
    count = f"{params / 1e6:.0f}M" if params >= 1e6 else f"{params:,}"
    return {"method": "full"}, [f"method=full ({count} parameters: on a small base, training every weight answered "
                                "better than LoRA on the extraction tasks measured; docs/training.md)"]


def _generative_choices(cfg, n: int, world: int, unset, params_of) -> tuple[dict, list[str]]:
    update, notes = _generative_method(cfg, unset, params_of)
    cfg = cfg.model_copy(update=update)
    # Chosen here or given (a --resume of a full run takes its method from the folder): the same disk reason.
    if cfg.method == "full" and unset("keep_checkpoints"):
        update["keep_checkpoints"] = FULL_KEEP_CHECKPOINTS
        notes.append(f"keep_checkpoints={FULL_KEEP_CHECKPOINTS} (full fine-tuning: a step checkpoint holds the whole "
                     "model and its optimizer state; the newest resumes the run, the best is kept too)")
    batch = cfg.batch_size
    if unset("batch_size"):
        batch = auto_batch_size(n)
        update["batch_size"] = batch
        notes.append(f"batch_size={batch} (power of two nearest {n}/50, within 4..32)")
    global_batch = batch * cfg.grad_accum * world
    if unset("epochs"):
        update["epochs"] = auto_epochs(n, batch, cfg.grad_accum, world)
        notes.append(f"epochs={update['epochs']} ({n} examples: at least 100 seen and 60 optimizer steps)")
    if unset("lr"):
        update["lr"] = auto_lr(cfg.method, cfg.objective, global_batch)
        notes.append(f"lr={update['lr']:g} ({cfg.method}/{cfg.objective}, global batch {global_batch})")
    return update, notes


def choose_defaults(cfg, train: list, world: int = 1, params_of=base_parameters):
    """Return (cfg with every unset field chosen from the training rows `train`, one note per choice). `train` and
    `tuneforge data report` both call this, so the report estimates the run that `train` then makes.
    `params_of(base)` counts a generative base's parameters (tests pass a stand-in)."""
    given = set(cfg.model_fields_set)

    def unset(name: str) -> bool:
        # An explicit --auto-epochs/--auto-batch-size/--auto-lr asks for the choice even beside a given value.
        return name not in given or bool(getattr(cfg, f"auto_{name}", False))

    n = len(train)
    variant, why = choose_variant_type(cfg, [e.answer for e in train])
    update, notes = {"variant_type": variant}, ([f"variant_type={why}"] if why else [])
    notes += _pairs_under_sft(cfg, train, unset)
    if variant == "classification":
        more, more_notes = _classification_choices(cfg, n, unset, [e.user_text for e in train])
        more_notes += fusion_notes(cfg, unset, more.get("classifier_fusion_weight", cfg.classifier_fusion_weight))
    else:
        more, more_notes = _generative_choices(cfg, n, world, unset, params_of)
    update.update(more)
    return cfg.model_copy(update=update), notes + more_notes
