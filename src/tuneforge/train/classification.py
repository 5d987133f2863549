"""Classification variants: the base model with a classification head over the label set, then calibrated.

When the answers are labels, a head that scores every label at once beats generating the label token by token:
it can only answer a label, it needs no system prompt (shorter inputs, faster training) and its softmax is a
probability per label, which temperature scaling on the held-out split makes honest (models/calibration.py).

The loop is the SFT loop's shape, kept short: plan the epoch (train/batching.py), forward, cross-entropy,
backward, step; evaluate held-out loss and accuracy after every epoch and keep the best weights. The head is
trained in full (PEFT's SEQ_CLS task puts it in modules_to_save); the body adapts by LoRA/DoRA or fully.
After calibration, unless --no-classifier-fusion, the TF-IDF n-gram model is fitted on the same rows and fused
with the head (train/ngram_fusion.py, models/fusion.py).
Artifacts: the adapter (or full weights) with the head, tokenizer files, the n-gram model files and run.json with
`variant_type`, `labels`, `calibration` and `fusion`; models/classifier.py loads them for predict, eval, the
server and export.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from tuneforge.data.labels import label_set, normalise_answer
from tuneforge.errors import UserError
from tuneforge.models.calibration import calibrate, describe
from tuneforge.models.classifier import (INPUT_FORMAT, VARIANT_TYPE, HeadReader, cut_inputs_note, load_head_model,
                                         pool, pooled_logits, pooled_states)
from tuneforge.models.transformers_api import peft_wrapping
from tuneforge.run_record import write_run
from tuneforge.train.run_provenance import run_provenance


def label_forms(answers: list[str]) -> tuple[list[str], dict[str, int]]:
    """The labels as users wrote them (most common spelling per normalised label) and the index of each form."""
    keys = label_set(answers)
    if not keys:
        raise UserError("classification needs label answers (short, repeated, at most 50 distinct); these look "
                        "like free text", field="variant_type", hint="use --variant-type generative")
    spellings: dict[str, Counter] = {k: Counter() for k in keys}
    for a in answers:
        spellings[normalise_answer(a)][a.strip()] += 1
    labels = [spellings[k].most_common(1)[0][0] for k in keys]
    return labels, {k: i for i, k in enumerate(keys)}


def check_classification(cfg) -> None:
    """What the classification loop does not do, refused before any loading."""
    if cfg.objective != "sft":
        raise UserError("a classification variant learns labels, not preferences", field="objective",
                        hint="use --objective sft, or --variant-type generative for DPO")
    if cfg.method == "qlora":
        raise UserError("a classification variant trains with lora, dora or full, not qlora", field="method")
    if cfg.nproc > 1:
        raise UserError("a classification variant trains in one process (it takes minutes)", field="nproc",
                        hint="drop --nproc")
    if cfg.resume:
        raise UserError("a classification variant keeps no step checkpoints to resume", field="resume",
                        hint="run it again without --resume")


def check_encoder(cfg) -> None:
    if cfg.method != "full":
        raise UserError(f"{cfg.base} is a sentence encoder: its classification variant trains every weight (22M "
                        f"parameters for all-MiniLM-L6-v2, 118M for multilingual-e5-small), not {cfg.method}",
                        field="method", hint="use --method full, or a decoder base for LoRA")


def split_layers(n_layers: int, wanted: int) -> int:
    """Index of the first trained layer: the top `wanted` layers train (0 or more than there are: all)."""
    return 0 if wanted <= 0 or wanted >= n_layers else n_layers - wanted


def _trainable(clf, cfg, first: int):
    """Make the layers from `first` up (and the head) trainable: LoRA/DoRA on them, or all their weights."""
    if not hasattr(clf.model, "layers"):  # a sentence encoder (models/encoder.py): every weight trains
        for p in clf.parameters():
            p.requires_grad_(True)
        if cfg.classifier_freeze_embeddings:  # but the vocabulary's vectors, when asked (most of e5's weights)
            clf.model.get_input_embeddings().weight.requires_grad_(False)
        return clf
    n = len(clf.model.layers)
    if cfg.method == "full":
        for p in clf.parameters():
            p.requires_grad_(False)
        for module in [*clf.model.layers[first:], clf.model.norm, clf.score]:
            for p in module.parameters():
                p.requires_grad_(True)
        return clf
    import torch
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules()
    if targets == "all-linear":  # PEFT wants names when only some layers are adapted
        targets = sorted({name.split(".")[-1] for name, m in clf.model.layers.named_modules()
                          if isinstance(m, torch.nn.Linear)})
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.resolved_lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, use_dora=cfg.method == "dora", task_type="SEQ_CLS",
                      layers_to_transform=list(range(first, n)) if first else None)
    with peft_wrapping():
        return get_peft_model(clf, lora)  # SEQ_CLS: the new head ("score") is trained in full and saved


def param_groups(model, cfg) -> list[dict]:
    """The trainable weights at --lr, the head's at --classifier-head-lr when given (a new head learns faster than
    pre-trained weights may move: measured on the invoice demo for the encoder variant, docs/training.md)."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not cfg.classifier_head_lr:
        return [{"params": [p for _, p in trainable], "lr": cfg.lr}]
    head = [p for n, p in trainable if ".score." in f".{n}"]  # `score` (Llama-family, encoder) in or out of PEFT
    body = [p for n, p in trainable if ".score." not in f".{n}"]
    return [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.classifier_head_lr}]


class TopLayers:
    """Run the frozen bottom of the network once per example and the trained top on those cached states.

    The frozen layers' outputs do not change during training, so computing them every epoch is waste: on the
    invoice demo the bottom 22 of 30 layers are most of the forward and backward cost. `features` runs the
    bottom once; `logits` runs the top layers, final norm and head on right-padded cached states and pools the
    last real token, exactly as the whole model does at inference (tests/unit/test_classification_variant.py).
    """

    def __init__(self, clf, first: int, pooling: str = "mean"):
        self.clf, self.first, self.pooling = clf, first, pooling
        self.inner = clf.model  # LlamaModel-like: embed_tokens, layers, norm, rotary_emb
        self.all_layers = self.inner.layers

    def features(self, tokenizer, texts: list[str], batch_size: int = 32) -> list:
        import torch

        out = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), batch_size):
            idx = order[s: s + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt",
                            add_special_tokens=False)
            with torch.no_grad():
                if self.first == 0:
                    hidden = self.inner.embed_tokens(enc["input_ids"])
                else:
                    captured = {}
                    hook = self.all_layers[self.first - 1].register_forward_hook(
                        lambda _m, _i, o: captured.__setitem__("h", o[0] if isinstance(o, tuple) else o))
                    self.inner.layers = self.all_layers[: self.first]
                    try:
                        self.inner(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
                    finally:
                        self.inner.layers = self.all_layers
                        hook.remove()
                    hidden = captured["h"]
            for row, i in enumerate(idx):
                keep = enc["attention_mask"][row].bool()
                out[i] = hidden[row][keep].detach().clone()  # this example's real tokens, in order
        return out

    def logits(self, feats: list):
        return self.clf.score(self.pooled(feats)).float()

    def pooled(self, feats: list):
        """The pooled top-of-model vector per example (what the head reads)."""
        import torch

        lengths = torch.tensor([f.shape[0] for f in feats])
        width = int(lengths.max())
        hidden = torch.zeros((len(feats), width, feats[0].shape[-1]), dtype=feats[0].dtype)
        mask = torch.zeros((len(feats), width), dtype=torch.long)
        for row, f in enumerate(feats):
            hidden[row, : f.shape[0]] = f
            mask[row, : f.shape[0]] = 1
        self.inner.layers = self.all_layers[self.first:]
        try:
            states = self.inner(inputs_embeds=hidden, attention_mask=mask).last_hidden_state
        finally:
            self.inner.layers = self.all_layers
        return pool(states, mask, self.pooling)


class WholeModel:
    """A sentence encoder trained whole (TopLayers' interface, nothing frozen to cache).

    `features` are the token ids of each text, with the encoder's [CLS] and [SEP] as in its pretraining;
    `logits` right-pads them and runs the encoder, mean pooling and head exactly as inference does
    (models/classifier.py `pooled_logits`).
    """

    def __init__(self, clf, pooling: str = "mean"):
        self.clf, self.pooling = clf, pooling

    def features(self, tokenizer, texts: list[str], batch_size: int = 32) -> list:
        import torch

        ids = tokenizer(texts, truncation=True, add_special_tokens=True)["input_ids"] if texts else []
        self.pad_id = tokenizer.pad_token_id
        return [torch.tensor(row, dtype=torch.long) for row in ids]

    def logits(self, feats: list):
        return pooled_logits(self.clf, *self._padded(feats), self.pooling)

    def pooled(self, feats: list):
        """The pooled vector per example (what the head reads), for the linear probe."""
        return pooled_states(self.clf, *self._padded(feats), self.pooling)

    def _padded(self, feats: list):
        import torch

        width = max(f.shape[0] for f in feats)
        ids = torch.full((len(feats), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(feats), width), dtype=torch.long)
        for row, f in enumerate(feats):
            ids[row, : f.shape[0]], mask[row, : f.shape[0]] = f, 1
        return ids, mask


def probe_init(top, feats: list, targets: list[int], n_labels: int, batch_size: int = 64) -> float:
    """Start the head where a logistic regression on the untrained model's pooled states ends ("linear probe,
    then fine-tune"): fine-tuning then adapts the body to a head that already separates the labels, instead of
    spending its first epochs, and the body's pre-trained features, on a random head. Returns the probe's
    training accuracy. A decoder's head has no bias (Llama-family `score`), so its probe fits none; an encoder's
    head (models/encoder.py) has one, and gets the probe's intercepts. Features are scaled (not centred) per
    dimension, and the scale is folded back into the weights. `top` is a TopLayers or a WholeModel.
    """
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    head = top.clf.score
    with torch.no_grad():
        x = torch.cat([top.pooled(feats[s: s + batch_size]) for s in range(0, len(feats), batch_size)]).float().numpy()
    scale = x.std(0) + 1e-6
    bias = head.bias is not None
    with threadpool_limits(1):
        probe = LogisticRegression(C=1.0, fit_intercept=bias, max_iter=2000).fit(x / scale, targets)
    two = len(probe.classes_) == 2  # sklearn keeps one row for two classes: split it symmetrically
    weight = np.zeros((n_labels, x.shape[1]), dtype="float32")
    weight[probe.classes_] = (np.vstack([-probe.coef_[0] / 2, probe.coef_[0] / 2]) if two else probe.coef_) / scale
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight).to(head.weight.dtype))
        if bias:  # labels the training rows never show get a low score, not a random one
            intercept = np.full(n_labels, -10.0, dtype="float32")
            intercept[probe.classes_] = [-probe.intercept_[0] / 2, probe.intercept_[0] / 2] if two else probe.intercept_
            head.bias.copy_(torch.from_numpy(intercept).to(head.bias.dtype))
    return float(probe.score(x / scale, targets))


def _held_out(top: TopLayers, feats, targets, batch_size: int) -> tuple[float | None, float | None, list]:
    """(mean loss, accuracy, logits as lists) on the held-out items."""
    import torch

    if not feats:
        return None, None, []
    top.clf.eval()
    with torch.no_grad():
        logits = torch.cat([top.logits(feats[s: s + batch_size]) for s in range(0, len(feats), batch_size)])
    top.clf.train()
    y = torch.tensor(targets)
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    acc = float((logits.argmax(-1) == y).float().mean())
    return loss, acc, logits.tolist()


def train_classifier(cfg, data, out: Path, log=print) -> Path:
    """Train, calibrate and save a classification variant of cfg.base on `data` (train/sft.PreparedData)."""
    import torch

    from tuneforge.data.estimate import cpu_threads, estimate_training, model_shape, steps_per_epoch
    from tuneforge.models.resolve import public_id, resolve_base
    from tuneforge.train.batching import plan_epoch
    from tuneforge.train.lr_schedule import make_scheduler
    from tuneforge.train.tracking import Tracker

    check_classification(cfg)
    started, cpu_started = time.time(), time.process_time()
    labels, index = label_forms([e.answer for e in data.train + data.eval])
    unknown = [e for e in data.eval if normalise_answer(e.answer) not in index]
    if unknown:
        raise UserError(f"held-out answer {unknown[0].answer!r} is not one of the training labels",
                        file=cfg.eval_data or cfg.data, line=unknown[0].line)
    texts = HeadReader.texts(data.train)
    targets = [index[normalise_answer(e.answer)] for e in data.train]
    eval_texts = HeadReader.texts(data.eval)
    eval_targets = [index[normalise_answer(e.answer)] for e in data.eval]

    base = resolve_base(cfg.base)
    reader = HeadReader.of(base.path, cfg.max_seq_len)
    tokenizer, encoder = reader.tokenizer, reader.encoder
    if encoder:
        check_encoder(cfg)
    lengths, truncated = reader.counts(texts)
    out.mkdir(parents=True, exist_ok=True)
    log(f"data: {len(texts)} train / {len(eval_texts)} eval examples, {len(labels)} labels, from {cfg.data} "
        f"({data.data_hash[:19]}); the head reads the user text only")
    if truncated:
        log(f"warning: {cut_inputs_note(truncated, len(texts), reader.limit)} (`tuneforge data check "
            f"--base {cfg.base}` names the lines)")

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    clf = load_head_model(base.path, len(labels), tokenizer.pad_token_id, depth=cfg.classifier_depth)
    n_layers = clf.config.num_hidden_layers
    first = 0 if encoder else split_layers(n_layers, cfg.classifier_layers)
    # The bottom TopLayers caches is frozen: the same before adapting. An encoder trains whole: nothing to cache.
    top = WholeModel(clf, cfg.classifier_pooling) if encoder else TopLayers(clf, first, cfg.classifier_pooling)
    t0 = time.time()
    feats, eval_feats = top.features(tokenizer, texts), top.features(tokenizer, eval_texts)
    if cfg.classifier_head_init == "probe":  # before PEFT copies the head into modules_to_save
        fit = probe_init(top, feats, targets, len(labels))
        _, probe_acc, _ = _held_out(top, eval_feats, eval_targets, cfg.batch_size * 2)
        log(f"head: started from a logistic regression on the untrained model's pooled states (train accuracy "
            f"{100 * fit:.1f}%" + ("" if probe_acc is None else f", held-out {100 * probe_acc:.1f}%") + ")")
    model = _trainable(clf, cfg, first)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())
    log(f"model: {cfg.base} ({base.source}{', sentence encoder' if encoder else ''}) + classification head, "
        f"{cfg.method} on the top {n_layers - first} of {n_layers} layers: {n_trainable:,} trainable of "
        f"{n_total:,}" + ("" if encoder else f"; frozen layers run once ({time.time() - t0:.0f}s)"))

    estimate = estimate_training(model_shape(base.path), lengths, cfg, cfg.base, encoder=encoder)
    log(estimate.describe())
    optimizer = torch.optim.AdamW(param_groups(model, cfg), weight_decay=cfg.weight_decay)
    per_epoch = steps_per_epoch(len(texts), cfg.batch_size, cfg.grad_accum, 1)
    total_steps = min(per_epoch * cfg.epochs, cfg.max_steps or per_epoch * cfg.epochs)
    scheduler = make_scheduler(optimizer, cfg, total_steps)
    tracker = Tracker(out, cfg.report_to, cfg.model_dump())
    step, epochs, best, best_state, stopped = 0, [], None, None, False
    # Speed as the generative loop reports it (tokens read per second since the last log line), so progress views
    # and the jobs API show the same fields whichever kind of variant trains.
    trained_tokens, window_tokens, window_t0 = 0, 0, time.time()
    try:
        for epoch in range(1, cfg.epochs + 1):
            # Length grouping always: the inputs are short and uneven, padding would be most of the compute.
            plan = plan_epoch(lengths, cfg.batch_size, cfg.grad_accum, 1, cfg.seed, epoch, True)
            epoch_loss, epoch_n = 0.0, 0
            for micro_batches in (p[0] for p in plan):
                n_step = sum(len(m) for m in micro_batches)
                step_tokens = sum(lengths[i] for m in micro_batches for i in m)
                trained_tokens, window_tokens = trained_tokens + step_tokens, window_tokens + step_tokens
                for micro in micro_batches:
                    y = torch.tensor([targets[i] for i in micro], dtype=torch.long)
                    loss = torch.nn.functional.cross_entropy(top.logits([feats[i] for i in micro]), y, reduction="sum")
                    (loss / n_step).backward()
                    epoch_loss, epoch_n = epoch_loss + loss.item(), epoch_n + len(micro)
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if step % cfg.log_every == 0:
                    now = time.time()
                    tracker.log({"step": step, "epoch": epoch, "loss": round(epoch_loss / epoch_n, 5),
                                 "lr": scheduler.get_last_lr()[0], "time_s": round(now - started, 2),
                                 "tokens_per_s": round(window_tokens / max(now - window_t0, 1e-6), 1),
                                 "trained_tokens": trained_tokens}, step)
                    window_tokens, window_t0 = 0, now
                if step >= total_steps:
                    stopped = True
                    break
            eval_loss, eval_acc, _ = _held_out(top, eval_feats, eval_targets, cfg.batch_size * 2)
            record = {"epoch": epoch, "step": step, "train_loss": round(epoch_loss / max(epoch_n, 1), 5),
                      "eval_loss": None if eval_loss is None else round(eval_loss, 5),
                      "eval_accuracy": None if eval_acc is None else round(eval_acc, 4)}
            epochs.append(record)
            tracker.log({"epoch_end": epoch, **record}, step)
            acc = "-" if eval_acc is None else f"{100 * eval_acc:.1f}%"
            log(f"epoch {epoch}: train loss {record['train_loss']:.4f}, eval loss "
                f"{'-' if eval_loss is None else f'{eval_loss:.4f}'}, eval accuracy {acc} ({time.time() - started:.0f}s)")
            if eval_loss is not None and (best is None or eval_loss < best[0]):
                best = (eval_loss, epoch)
                if cfg.keep_best and epoch < cfg.epochs:
                    best_state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
            if stopped:
                break
    finally:
        tracker.close()
    if cfg.keep_best and best is not None and best[1] != epochs[-1]["epoch"] and best_state is not None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in best_state:
                    p.copy_(best_state[name])
        log(f"kept the best weights: epoch {best[1]}, eval loss {best[0]:.4f}")

    _, final_acc, eval_logits = _held_out(top, eval_feats, eval_targets, cfg.batch_size * 2)
    calibration = calibrate(eval_logits, eval_targets) if eval_logits else {
        "method": "none", "temperature": 1.0, "examples": 0, "ece_before": None, "ece_after": None}
    if eval_logits:  # with fusion on, the served probabilities are the fused ones (their line follows fusion's)
        log(f"calibration{' (head alone)' if cfg.classifier_fusion else ''}: {describe(calibration)}")
    else:
        log("calibration: skipped (no held-out examples); probabilities are the head's raw softmax")

    portable_base = public_id(cfg.base) or cfg.base  # never a local cache path in adapter_config.json
    for adapter_config in getattr(model, "peft_config", {}).values():
        adapter_config.base_model_name_or_path = portable_base
    # An encoder's frozen embeddings are read back from its base, not stored twice (as a LoRA run reads its
    # base): 384 of e5's 470 MB.
    model.save_pretrained(out, safe_serialization=True, **({"base": (cfg.base, base.path)} if encoder else {}))
    tokenizer.save_pretrained(out)
    fusion = None
    if cfg.classifier_fusion:  # the head fused with an n-gram model (train/ngram_fusion.py, models/fusion.py)
        from tuneforge.train.ngram_fusion import train_fusion

        fusion = train_fusion(texts, targets, eval_texts, eval_targets, eval_logits, calibration["temperature"],
                              len(labels), out, cfg.seed, cfg.classifier_fusion_weight, log=log)
    wall = time.time() - started
    write_run(out, {
        **run_provenance(cfg, base, data, len(texts), len(eval_texts), truncated),
        "variant_type": VARIANT_TYPE,
        "labels": labels,
        "input": INPUT_FORMAT,
        "architecture": "encoder" if encoder else "decoder",
        "special_tokens": encoder,  # the head was trained on [CLS] text [SEP] (models/classifier.py reads it)
        "pooling": cfg.classifier_pooling,
        "head_init": cfg.classifier_head_init,
        "depth": n_layers,  # layers kept from the bottom of the base; models/classifier.py loads as many
        "calibration": calibration,
        "fusion": fusion,
        "method": cfg.method,
        "objective": "classification",
        "precision": "fp32",
        "processes": 1,
        "metrics": {
            "steps": step,
            "final_train_loss": epochs[-1]["train_loss"],
            "final_eval_loss": epochs[-1]["eval_loss"],
            "best_eval_loss": None if best is None else round(best[0], 5),
            "best_epoch": None if best is None else best[1],
            "eval_accuracy": final_acc,
            "epochs": epochs,
            "trainable_params": n_trainable,
            "total_params": n_total,
        },
        "estimate": estimate.to_dict(),  # what was announced before the run, to compare with what it took
        # data/estimate.py reads these two back for the next head on this base (its fixed costs counted as tokens).
        "trained_tokens": trained_tokens,
        "wall_time_s": round(wall, 2),
        "computed_tokens_per_s": round(trained_tokens / wall, 1),  # the tokens the head read over the whole run
        "cpu_threads": cpu_threads(),  # the rate depends on them (a head trains on the CPU)
        "cpu_time_s": round(time.process_time() - cpu_started, 2),  # this process only: net of a busy machine
    })
    log(f"saved classification variant to {out} ({wall:.0f}s)")
    return out
