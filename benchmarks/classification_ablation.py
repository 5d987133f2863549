"""Ablate the classification variant's settings on a validation split taken from the TRAINING file only.

The test file is never read here: settings are chosen on a seeded, stratified share of train.jsonl (default
20%), and the chosen defaults are then measured once on the test file by `tuneforge quickstart` / `eval`.

    python benchmarks/classification_ablation.py examples/invoice-categories/train.jsonl \
        "layers=8" "layers=8,method=full,lr=1e-4" "depth=16,layers=8" --epochs 8 --seeds 42,7

Each setting is a comma-separated list of key=value over these knobs (defaults: the no-flag rules of
train/defaults.py as of this script): method (lora|full), layers (trained top layers), depth (layers kept from
the bottom; the rest are dropped), lr, batch, pooling (mean|last), r (LoRA rank), dropout (LoRA dropout),
smoothing (label smoothing), wd (weight decay), warmup, lp (1: start the head from a logistic
regression on the untrained model's pooled states). Per epoch it prints validation loss and accuracy and the
CPU seconds so far; the frozen states below the trained layers are computed once per (split, depth, first layer).
`--probe` first fits a logistic regression on each frozen layer's mean-pooled states (no fine-tuning).
"""

from __future__ import annotations

import argparse
import math
import random
import time

DEFAULTS = {"method": "lora", "layers": 8, "depth": 0, "lr": 1e-3, "batch": 16, "pooling": "mean", "r": 16,
            "dropout": 0.05, "smoothing": 0.0, "wd": 0.0, "warmup": 0.1, "lp": 0, "base": "smollm2",
            "head_lr": 0.0, "norm": 0, "init": 0, "soup": 1, "encoder": "", "freeze_emb": 0, "wise": 0,
            "llrd": 1.0, "setfit": 0, "setfit_lr": 2e-5, "query": 0, "average": 0, "word_drop": 0.0,
            "rdrop": 0.0}


# base=minilm: a sentence encoder fully fine-tuned (every layer) with a linear head on its mean-pooled states:
# all-MiniLM-L6-v2, or encoder=NAME for another packaged one (multilingual-e5-small) or encoder=PATH for a
# transformers folder; head_lr > 0 gives the head its own learning rate; norm=1 L2-normalises the pooled vector
# (as the sentence embedding is) and scales it before the head; lp=1 starts the head from a logistic regression
# on the untrained encoder's pooled states (as `train`'s --classifier-head-init probe does); freeze_emb=1 keeps
# the word embeddings frozen; init=N draws the head and the data order from another seed (N > 0), for ensembles
# of runs studied offline with --dump; soup=K trains K members from the same initial weights in different data
# orders and averages their weights (a uniform model soup); wise=1 also scores, on each split, the weights
# interpolated between the starting point (the probe-initialised, untrained encoder) and the best-loss epoch's
# weights, alpha x fine-tuned + (1 - alpha) x start for alpha in WISE_ALPHAS (WiSE-FT, Wortsman et al. 2022);
# llrd=D < 1 gives layer i of L the rate lr x D^(L - i) and the embeddings lr x D^(L + 1) (layer-wise rate decay,
# the lower layers move less); setfit=R first tunes the body alone on R rounds of sentence pairs (per text one
# pair of the same label and one of another), pulling the cosine of their mean-pooled states to 1 or 0 as SetFit
# does (Tunstall et al. 2022), at setfit_lr (SetFit's 2e-5), before the probe and the cross-entropy epochs;
# query=1 puts e5's "query: " before every text the encoder reads (its authors' input form; the n-grams read the
# text as it is); average=1 also scores, at the end, two averages of the trained weights beside the last epoch's:
# "swa", the mean of the weights at the end of each epoch of the second half (stochastic weight averaging, Izmailov
# et al. 2018, over the cosine schedule's tail), and "ema", an exponential moving average over the optimizer
# steps with decay EMA_DECAY (the weights of the last ~1/(1 - decay) steps, newest first); word_drop=P trains on
# texts whose words are each left out with probability P, drawn afresh every epoch (at least one word stays; the
# random deletion of Wei and Zou's EDA, 2019): the head cannot lean on one word of a memorised line; rdrop=A runs
# each batch twice (two dropout draws) and adds A x the symmetric KL divergence between the two predictions to the
# mean of their cross-entropies (R-Drop, Liang et al. 2021): the head's answer must not hang on which units drop.
ENCODER_DEFAULTS = {"method": "full", "lr": 5e-5, "batch": 16, "warmup": 0.1}


HELD: dict = {}  # split seed -> (texts, label ids) of the rows the epoch is chosen on (--select-held-out)


def parse(setting: str) -> dict:
    out = dict(DEFAULTS)
    for part in filter(None, setting.replace("defaults", "").split(",")):
        key, value = part.split("=")
        if key not in DEFAULTS:
            raise SystemExit(f"unknown knob {key!r}; choose from {', '.join(DEFAULTS)}")
        out[key] = type(DEFAULTS[key])(value) if not isinstance(DEFAULTS[key], float) else float(value)
    if out["base"] == "minilm":  # the encoder's own defaults where the setting names none
        for key, value in ENCODER_DEFAULTS.items():
            if f"{key}=" not in setting:
                out[key] = value
    return out


def probe(tok, base, texts, y, vtexts, vy) -> None:
    """Logistic regression on each layer's mean-pooled frozen states: which depth carries the labels."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from tuneforge.models.classifier import load_head_model

    clf = load_head_model(base, 2, tok.pad_token_id)

    def states(batch_texts):
        layers = None
        for s in range(0, len(batch_texts), 32):
            enc = tok(batch_texts[s: s + 32], padding=True, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                hs = clf.model(**enc, output_hidden_states=True).hidden_states
            m = enc["attention_mask"].unsqueeze(-1).float()
            pooled = [((h * m).sum(1) / m.sum(1)).numpy() for h in hs]
            layers = pooled if layers is None else [np.vstack([a, b]) for a, b in zip(layers, pooled)]
        return layers

    tr, va = states(texts), states(vtexts)
    for i, (a, b) in enumerate(zip(tr, va)):
        scaler = StandardScaler().fit(a)
        lr = LogisticRegression(max_iter=3000, C=1.0).fit(scaler.transform(a), y)
        print(f"probe layer {i:2d}: validation {100 * lr.score(scaler.transform(b), vy):.1f}%", flush=True)


def baselines(every, seed, val_share) -> None:
    """TF-IDF + LR and, for each packaged sentence encoder installed, its frozen embeddings + LR on the same split:
    the bar the variant must clear."""
    from tuneforge.data.labels import normalise_answer
    from tuneforge.data.split import split_examples
    from tuneforge.eval.classical import fit_embedding, fit_tfidf, rows_from_examples, run_baseline
    from tuneforge.eval.embeddings import PackagedEncoder
    from tuneforge.models.packaged_encoders import PACKAGED_ENCODERS, packaged_encoder_installed

    train, val = split_examples(every, val_share, seed)
    rows = rows_from_examples(train, "train")
    truth = [normalise_answer(e.answer) for e in val]
    fits = [fit_tfidf(rows, seed)]
    fits += [fit_embedding(rows, PackagedEncoder(name), seed) for name in PACKAGED_ENCODERS
             if packaged_encoder_installed(name)]
    for b in fits:
        preds, _, _ = run_baseline(b, [e.user_text for e in val])
        acc = sum(p == t for p, t in zip(preds, truth)) / len(truth)
        print(f"BASELINE split {seed} {b.name} ({b.info['features']}): validation {100 * acc:.1f}%", flush=True)


def run_setting(name, knobs, base, tok, labels, splits, epochs, cache) -> None:
    import torch

    from tuneforge.config import TrainConfig
    from tuneforge.models.classifier import load_head_model
    from tuneforge.train.classification import TopLayers, _held_out, _trainable, probe_init, split_layers

    from head_epochs import head_epochs  # beside this script (run as `python benchmarks/...`)

    finals, fused = [], []
    for seed, (texts, y, vtexts, vy) in splits.items():
        cfg = TrainConfig(data="-", method=knobs["method"], lr=knobs["lr"], batch_size=knobs["batch"],
                          epochs=epochs, classifier_layers=knobs["layers"], warmup_ratio=knobs["warmup"],
                          schedule="cosine", lora_r=knobs["r"], lora_dropout=knobs["dropout"],
                          weight_decay=knobs["wd"], classifier_pooling=knobs["pooling"])
        torch.manual_seed(seed)
        random.seed(seed)
        clf = load_head_model(base, len(labels), tok.pad_token_id)
        if knobs["depth"]:
            clf.model.layers = clf.model.layers[: knobs["depth"]]
            clf.config.num_hidden_layers = knobs["depth"]
        first = split_layers(len(clf.model.layers), cfg.classifier_layers)
        top = TopLayers(clf, first, cfg.classifier_pooling)
        key = (seed, knobs["depth"], first)
        if key not in cache:
            t0 = time.process_time()
            cache[key] = (top.features(tok, texts), top.features(tok, vtexts),
                          top.features(tok, HELD[seed][0]) if seed in HELD else None)
            print(f"  split {seed}: frozen states below layer {first} of {len(clf.model.layers)}: "
                  f"{time.process_time() - t0:.0f}s cpu", flush=True)
        feats, vfeats, hfeats = cache[key]
        if knobs["lp"]:
            t0 = time.process_time()
            fit = probe_init(top, feats, y, len(labels))
            vl, va, _ = _held_out(top, vfeats, vy, 64)
            print(f"{name} split {seed} probe-initialised head: train {100 * fit:.1f}%, validation loss {vl:.3f} "
                  f"acc {100 * va:.1f}% ({time.process_time() - t0:.0f}s cpu)", flush=True)
        model = _trainable(clf, cfg, first)
        model.train()
        lengths = [f.shape[0] for f in feats]
        cpu0 = time.process_time()
        best, best_logits = (9e9, 0, 0.0), None
        for epoch in head_epochs(model, top, cfg, feats, y, lengths, seed, knobs["smoothing"]):
            vl, va, vlog = _held_out(top, vfeats, vy, 64)
            sel = vl  # the epoch rule's loss, as in run_encoder_setting: validation rows, or the held-out ones
            if hfeats is not None:
                sel = _held_out(top, hfeats, HELD[seed][1], 64)[0]
                print(f"{name} split {seed} epoch {epoch}: held-out loss {sel:.3f} ({len(HELD[seed][1])} rows)",
                      flush=True)
            if best_logits is None or sel < best[0]:
                best_logits = vlog
            best = _epoch_line(name, seed, epoch, vl, va, cpu0, best, sel)
        finals.append((va, best[2]))
        fused.append(_fusion_lines(name, seed, (texts, y, vtexts, vy), {"last": vlog, "best-loss": best_logits}))
    _result_line(name, finals)
    _fusion_result(name, fused)


def _epoch_line(name, seed, epoch, vl, va, cpu0, best, selection_loss=None):
    """Print one epoch's validation figures; return the best (loss, epoch, accuracy) so far, by the validation
    loss or by `selection_loss` when the epoch is chosen on other rows."""
    print(f"{name} split {seed} epoch {epoch}: validation loss {vl:.3f} acc {100 * va:.1f}% "
          f"({time.process_time() - cpu0:.0f}s cpu)", flush=True)
    return min(best, (vl if selection_loss is None else selection_loss, epoch, va))


def _result_line(name, finals) -> None:
    """The setting's result: validation accuracy at the last and at the best-loss epoch, mean over the splits."""
    last = sum(a for a, _ in finals) / len(finals)
    at_best = sum(b for _, b in finals) / len(finals)
    print(f"RESULT {name}: validation accuracy, mean over {len(finals)} split(s): last epoch {100 * last:.1f}%, "
          f"best-loss epoch {100 * at_best:.1f}%", flush=True)


DUMP = None  # --dump DIR: write each split's validation logits there as JSON

WISE_ALPHAS = (0.25, 0.5, 0.75)

EMA_DECAY = 0.99  # about the last 100 optimizer steps: 4 of the invoice demo's ~10 epochs of 22-27 steps

FUSION_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)  # the encoder's share; 0 = the n-gram model alone


def _fusion_lines(name, seed, split, epoch_logits) -> dict:
    """Late fusion on this split, as a fused variant computes it (models/fusion.py `fused_scores`): w x log p(head,
    temperature-calibrated on the validation rows) + (1 - w) x log p(TF-IDF + LR trained on the same training
    rows), for each w, at the last and the best-loss epoch."""
    import numpy as np

    from tuneforge.data.tfidf import fit_tfidf_classifier
    from tuneforge.models.fusion import fused_scores
    from tuneforge.models.ngram_model import NgramModel
    from tuneforge.models.calibration import fit_temperature

    texts, y, vtexts, vy = split
    if DUMP:  # the validation logits, to try fusion rules offline without retraining (see --dump)
        import json
        from pathlib import Path

        Path(DUMP).mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "=.-" else "_" for c in name)
        Path(DUMP, f"{safe}-split{seed}.json").write_text(json.dumps(
            {"setting": name, "split": seed, "texts": texts, "y": y, "vtexts": vtexts, "vy": vy,
             "logits": epoch_logits}))
    pipeline, features, _ = fit_tfidf_classifier(texts, [str(i) for i in y], seed)
    log_ngram = NgramModel(pipeline, features).log_probs(vtexts, len(epoch_logits["last"][0]))
    out = {}
    for which, logits in epoch_logits.items():
        z = np.asarray(logits, dtype="float64")
        temperature = fit_temperature(logits, vy)
        accs = {w: float((np.argmax(fused_scores(z, temperature, log_ngram, w), 1) == np.asarray(vy)).mean())
                for w in FUSION_WEIGHTS}
        out[which] = accs
        print(f"FUSED {name} split {seed} {which} epoch: " + ", ".join(f"w={w:g} {100 * a:.1f}%" for w, a in accs.items()),
              flush=True)
    return out


def _rdrop_loss(first, second, target, first_loss, knobs):
    """R-Drop: the two passes' mean cross-entropy plus rdrop x their symmetric KL divergence (each direction
    averaged over the batch, the pair halved as in the paper's code)."""
    import torch.nn.functional as F

    second_loss = F.cross_entropy(second, target, label_smoothing=knobs["smoothing"])
    p, q = F.log_softmax(first, -1), F.log_softmax(second, -1)
    kl = (F.kl_div(p, q, log_target=True, reduction="batchmean")
          + F.kl_div(q, p, log_target=True, reduction="batchmean")) / 2
    return (first_loss + second_loss) / 2 + knobs["rdrop"] * kl


def _drop_words(text: str, p: float, rng: random.Random) -> str:
    if p <= 0:
        return text
    words = text.split()
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept or [rng.choice(words)]) if words else text


def _inputs(texts: list[str], knobs: dict) -> list[str]:
    return ["query: " + t for t in texts] if knobs["query"] else texts


def _dump_states(name, seed, body, pooled, texts, vtexts) -> None:
    import json
    from pathlib import Path

    import torch

    body.eval()
    with torch.no_grad():
        def states(rows):
            return torch.cat([pooled(rows[s: s + 64]) for s in range(0, len(rows), 64)]).tolist()

        safe = "".join(c if c.isalnum() or c in "=.-" else "_" for c in name)
        Path(DUMP).mkdir(parents=True, exist_ok=True)
        Path(DUMP, f"{safe}-split{seed}-states.json").write_text(json.dumps(
            {"train": states(texts), "validation": states(vtexts)}))
    body.train()


def _fusion_result(name, fused) -> None:
    for which in fused[0]:  # last, best-loss, and wiseALPHA with wise=1
        means = {w: sum(f[which][w] for f in fused) / len(fused) for w in FUSION_WEIGHTS}
        print(f"RESULT-FUSED {name} {which} epoch, mean over {len(fused)} split(s): "
              + ", ".join(f"w={w:g} {100 * a:.1f}%" for w, a in means.items()), flush=True)


def _body_groups(body, lr: float, decay: float) -> list[dict]:
    """The encoder's trainable weights as optimizer groups: one group at `lr` when decay is 1, else one per layer
    with layer-wise rate decay (top layer lr x decay, embeddings lowest)."""
    trainable = [p for p in body.parameters() if p.requires_grad]
    if decay >= 1.0:
        return [{"params": trainable, "lr": lr}]
    layers = list(body.encoder.layer)
    depth = len(layers)
    groups, seen = [], set()
    for i, layer in enumerate(layers):
        ps = [p for p in layer.parameters() if p.requires_grad]
        seen.update(id(p) for p in ps)
        groups.append({"params": ps, "lr": lr * decay ** (depth - i)})
    rest = [p for p in trainable if id(p) not in seen]  # embeddings (and a pooler, unused by mean pooling)
    groups.append({"params": rest, "lr": lr * decay ** (depth + 1)})
    return groups


def _contrastive_phase(body, tok, texts, y, knobs, seed) -> None:
    """SetFit's first stage: pairs of the same label pulled to cosine 1, of different labels to 0 (mean squared
    error on the cosine of mean-pooled states), one pass over `setfit` rounds of pairs at `setfit_lr`."""
    import torch

    from tuneforge.models.classifier import pool

    rng = random.Random(seed + 4242)
    by_label: dict[int, list[int]] = {}
    for i, label in enumerate(y):
        by_label.setdefault(label, []).append(i)
    pairs = []
    for _ in range(knobs["setfit"]):
        for i, label in enumerate(y):
            same = [j for j in by_label[label] if j != i]
            if same:
                pairs.append((i, rng.choice(same), 1.0))
            other = [j for j in range(len(y)) if y[j] != label]
            if other:
                pairs.append((i, rng.choice(other), 0.0))
    rng.shuffle(pairs)
    params = [p for p in body.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=knobs["setfit_lr"])
    body.train()
    cpu0 = time.process_time()
    for s in range(0, len(pairs), knobs["batch"]):
        chunk = pairs[s: s + knobs["batch"]]
        batch = [texts[a] for a, _, _ in chunk] + [texts[b] for _, b, _ in chunk]
        enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
        v = pool(body(**enc).last_hidden_state, enc["attention_mask"], knobs["pooling"])
        u, w = v[: len(chunk)], v[len(chunk):]
        cos = torch.nn.functional.cosine_similarity(u, w)
        loss = torch.nn.functional.mse_loss(cos, torch.tensor([t for _, _, t in chunk]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    print(f"setfit split {seed}: {len(pairs)} pairs, last loss {loss.item():.4f}, "
          f"{time.process_time() - cpu0:.0f} CPU s", flush=True)


def run_encoder_setting(name, knobs, labels, splits, epochs) -> None:
    """Fine-tune a sentence encoder (all weights) + a linear head on mean-pooled states; validation per epoch."""
    import torch
    from transformers import AutoModel, AutoTokenizer, get_cosine_schedule_with_warmup

    from tuneforge.models.packaged_encoders import ENCODER_BASE, PACKAGED_ENCODERS, packaged_encoder_dir
    from tuneforge.models.classifier import pool

    encoder = knobs["encoder"] or ENCODER_BASE  # a packaged encoder's name, or a transformers folder
    folder = packaged_encoder_dir(encoder) if encoder in PACKAGED_ENCODERS else encoder
    tok = AutoTokenizer.from_pretrained(folder)
    finals, fused = [], []
    for seed, (texts, y, vtexts, vy) in splits.items():
        members = []
        for member in range(knobs["soup"]):
            # A soup's members share the head's initial weights and differ in data order and dropout.
            torch.manual_seed(seed + 1000 * knobs["init"])
            random.seed(seed)
            body = AutoModel.from_pretrained(folder)
            head = torch.nn.Linear(body.config.hidden_size, len(labels))
            if knobs["soup"] > 1:  # one setting alone keeps the dropout draws of the runs in RESULTS.md
                torch.manual_seed(seed + 1000 * knobs["init"] + 7919 * member)
            body.train()

            def pooled(batch_texts):  # what the head reads, before norm=1's scaling
                enc = tok(_inputs(batch_texts, knobs), padding=True, truncation=True, max_length=256,
                          return_tensors="pt")
                return pool(body(**enc).last_hidden_state, enc["attention_mask"], knobs["pooling"])

            def logits(batch_texts):
                v = pooled(batch_texts)
                if knobs["norm"]:
                    v = torch.nn.functional.normalize(v, dim=-1) * 20.0
                return head(v)

            def validation_logits(rows=vtexts):
                body.eval()
                with torch.no_grad():
                    out = torch.cat([logits(rows[s: s + 64]) for s in range(0, len(rows), 64)])
                body.train()
                return out

            if knobs["freeze_emb"]:  # the word embeddings stay as they are (a 250k vocabulary is most of the weights)
                body.get_input_embeddings().weight.requires_grad_(False)
            if knobs["setfit"]:
                _contrastive_phase(body, tok, texts, y, knobs, seed)
            if knobs["lp"]:  # linear probe, then fine-tune: the product's probe_init on the untrained encoder
                from types import SimpleNamespace

                from tuneforge.train.classification import probe_init

                body.eval()
                probe_init(SimpleNamespace(clf=SimpleNamespace(score=head), pooled=pooled), texts, y, len(labels))
                body.train()
            start_state = _weights(body, head) if knobs["wise"] else None
            groups = _body_groups(body, knobs["lr"], knobs["llrd"]) + [
                {"params": list(head.parameters()), "lr": knobs["head_lr"] or knobs["lr"]}]
            opt = torch.optim.AdamW(groups, weight_decay=knobs["wd"])
            per_epoch = math.ceil(len(texts) / knobs["batch"])
            sched = get_cosine_schedule_with_warmup(opt, int(knobs["warmup"] * per_epoch * epochs), per_epoch * epochs)
            cpu0 = time.process_time()
            best = (9e9, 0, 0.0)
            best_logits, best_state = None, None
            averages = _Averages(body, head, epochs) if knobs["average"] else None
            for epoch in range(1, epochs + 1):
                order = list(range(len(texts)))
                random.Random(seed * 1000 + epoch + 7919 * (knobs["init"] + member)).shuffle(order)
                drops = random.Random(seed * 1000 + epoch + 104729)  # its own draws: the order stays as without it
                for s in range(0, len(order), knobs["batch"]):
                    idx = order[s: s + knobs["batch"]]
                    batch = [_drop_words(texts[i], knobs["word_drop"], drops) for i in idx]
                    target = torch.tensor([y[i] for i in idx])
                    out = logits(batch)
                    loss = torch.nn.functional.cross_entropy(out, target, label_smoothing=knobs["smoothing"])
                    if knobs["rdrop"]:
                        loss = _rdrop_loss(out, logits(batch), target, loss, knobs)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
                    opt.step()
                    sched.step()
                    opt.zero_grad(set_to_none=True)
                    if averages:
                        averages.step()
                if averages:
                    averages.epoch_end(epoch)
                vlog = validation_logits()
                vl = float(torch.nn.functional.cross_entropy(vlog, torch.tensor(vy)))
                va = float((vlog.argmax(-1) == torch.tensor(vy)).float().mean())
                # The epoch rule's loss: on the validation rows, or (--select-held-out) on the rows `train`
                # would hold out of this split's training rows, as `train` chooses.
                sel = vl
                if seed in HELD:
                    htexts, hy = HELD[seed]
                    sel = float(torch.nn.functional.cross_entropy(validation_logits(htexts), torch.tensor(hy)))
                    print(f"{name} split {seed} epoch {epoch}: held-out loss {sel:.3f} ({len(hy)} rows)", flush=True)
                if best_logits is None or sel < best[0]:
                    best_logits = vlog.tolist()
                    if knobs["soup"] > 1 or knobs["wise"]:
                        best_state = _weights(body, head)
                best = _epoch_line(f"{name} member {member}" if knobs["soup"] > 1 else name, seed, epoch, vl, va,
                                   cpu0, best, sel)
            members.append((_weights(body, head) if knobs["soup"] > 1 else None, best_state))
        if knobs["soup"] > 1:  # the uniform soup: every weight averaged over the members, at each epoch rule
            soup_logits = {}
            for which, k in (("last", 0), ("best-loss", 1)):
                _load_average(body, head, [m[k] for m in members])
                soup_logits[which] = validation_logits()
            vlog, best_logits = soup_logits["last"], soup_logits["best-loss"].tolist()
            vy_t = torch.tensor(vy)
            va = float((vlog.argmax(-1) == vy_t).float().mean())
            best = (0, 0, float((soup_logits["best-loss"].argmax(-1) == vy_t).float().mean()))
            print(f"{name} split {seed} soup of {knobs['soup']}: validation acc last {100 * va:.1f}%, "
                  f"best-loss {100 * best[2]:.1f}%", flush=True)
        finals.append((va, best[2]))
        epoch_logits = {"last": vlog.tolist(), "best-loss": best_logits}
        if DUMP:  # the last epoch's pooled states of both row sets, to study neighbour votes offline
            _dump_states(name, seed, body, pooled, texts, vtexts)
        if averages:  # the last epoch's weights stay in the model until here; each average is scored in their place
            last_state = _weights(body, head)
            for which, state in averages.states().items():
                _load(body, head, state)
                alog = validation_logits()
                epoch_logits[which] = alog.tolist()
                print(f"{name} split {seed} {which}: validation acc "
                      f"{100 * float((alog.argmax(-1) == torch.tensor(vy)).float().mean()):.1f}%", flush=True)
            _load(body, head, last_state)
        if knobs["wise"]:  # weight-space interpolation of the best-loss epoch with the starting point
            for alpha in WISE_ALPHAS:
                _load_mix(body, head, best_state, start_state, alpha)
                wlog = validation_logits()
                epoch_logits[f"wise{alpha:g}"] = wlog.tolist()
                print(f"{name} split {seed} wise alpha={alpha:g}: validation acc "
                      f"{100 * float((wlog.argmax(-1) == torch.tensor(vy)).float().mean()):.1f}%", flush=True)
        fused.append(_fusion_lines(name, seed, (texts, y, vtexts, vy), epoch_logits))
    _result_line(name, finals)
    _fusion_result(name, fused)


class _Averages:
    """Running averages of the trainable weights (body and head) during one run: SWA over the second half's epoch
    ends and a per-step EMA. Frozen weights (the word embeddings) are the model's own in every average."""

    def __init__(self, body, head, epochs: int):
        self.params = {f"body.{k}": p for k, p in body.named_parameters() if p.requires_grad}
        self.params.update({f"head.{k}": p for k, p in head.named_parameters()})
        self.base = _weights(body, head)
        self.ema = {k: p.detach().clone() for k, p in self.params.items()}
        self.swa, self.swa_n, self.swa_from = None, 0, epochs // 2 + 1

    def step(self) -> None:
        for k, p in self.params.items():
            self.ema[k].mul_(EMA_DECAY).add_(p.detach(), alpha=1 - EMA_DECAY)

    def epoch_end(self, epoch: int) -> None:
        if epoch < self.swa_from:
            return
        if self.swa is None:
            self.swa = {k: p.detach().clone() for k, p in self.params.items()}
        else:
            for k, p in self.params.items():
                self.swa[k].add_(p.detach())
        self.swa_n += 1

    def states(self) -> dict:
        swa = {k: v / self.swa_n for k, v in self.swa.items()}
        return {"swa": {**self.base, **swa}, "ema": {**self.base, **self.ema}}


def _weights(body, head) -> dict:
    return {**{f"body.{k}": v.detach().clone() for k, v in body.state_dict().items()},
            **{f"head.{k}": v.detach().clone() for k, v in head.state_dict().items()}}


def _load(body, head, state: dict) -> None:
    """Weights saved by `_weights` back into the body and the head."""
    body.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("body.")})
    head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})


def _load_average(body, head, states: list[dict]) -> None:
    import torch

    _load(body, head, {k: (torch.stack([s[k].float() for s in states]).mean(0)).to(states[0][k].dtype)
                       for k in states[0]})


def _load_mix(body, head, tuned: dict, start: dict, alpha: float) -> None:
    _load(body, head, {k: (alpha * tuned[k].float() + (1 - alpha) * start[k].float()).to(tuned[k].dtype)
                       for k in tuned})


def main() -> None:
    import torch

    from tuneforge.data.formats import load_examples
    from tuneforge.data.labels import normalise_answer
    from tuneforge.data.split import split_examples
    from tuneforge.models.classifier import classifier_input
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.train.classification import label_forms

    ap = argparse.ArgumentParser()
    ap.add_argument("train_file")
    ap.add_argument("settings", nargs="*")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--val", type=float, default=0.2, help="validation share of the training file")
    ap.add_argument("--seeds", default="42", help="comma-separated split seeds (one validation split each)")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", type=float, default=1.0,
                    help="train on a seeded share of each split's training rows (0.9: what the rows `train` holds "
                    "out for choosing the epoch cost; the validation rows stay the same)")
    ap.add_argument("--select-held-out", action="store_true",
                    help="with --keep: choose the best-loss epoch on the rows --keep leaves out (what `train` holds "
                    "out and chooses on), not on the validation rows")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--dump", help="folder for each split's training/validation texts and validation logits "
                    "(JSON), and for encoder settings the last epoch's pooled states of both row sets "
                    "(*-states.json), to study fusion rules and neighbour votes offline")
    args = ap.parse_intermixed_args()
    if args.select_held_out and args.keep >= 1:
        ap.error("--select-held-out needs --keep below 1: the epoch is chosen on the rows --keep leaves out")
    global DUMP
    DUMP = args.dump
    torch.set_num_threads(args.threads)

    every, _ = load_examples(args.train_file)
    labels, index = label_forms([e.answer for e in every])
    base = resolve_base("smollm2-135m").path
    tok = load_tokenizer(base)
    splits = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        train, val = split_examples(every, args.val, seed)
        enc = lambda rows: ([classifier_input(e.prompt_messages) for e in rows],  # noqa: E731
                            [index[normalise_answer(e.answer)] for e in rows])
        if args.keep < 1:
            train, held = split_examples(train, 1 - args.keep, seed)
            if args.select_held_out:
                HELD[seed] = enc(held)
        splits[seed] = (*enc(train), *enc(val))
        print(f"split {seed}: {len(train)} train / {len(val)} validation rows of {args.train_file}", flush=True)
    for seed in [] if args.no_baselines else splits:
        baselines(every, seed, args.val)
    if args.probe:
        probe(tok, base, *next(iter(splits.values())))
    cache: dict = {}
    for setting in args.settings:
        if parse(setting)["base"] == "minilm":
            run_encoder_setting(setting, parse(setting), labels, splits, args.epochs)
            continue
        run_setting(setting or "defaults", parse(setting), base, tok, labels, splits, args.epochs, cache)


if __name__ == "__main__":
    main()
