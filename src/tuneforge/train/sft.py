"""Supervised fine-tuning with LoRA, written out top to bottom.

Read this file from `train()` down: data in, model and adapter, optimizer and schedule, the loop (forward,
backward, accumulate, step, log), an eval pass and a checkpoint each epoch, then the artifacts a run leaves:
a PEFT adapter folder, tokenizer files, run.json and metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.config import TrainConfig
from tuneforge.data.formats import Example, dataset_hash, load_from_options
from tuneforge.data.split import split_examples
from tuneforge.data.versions import resolve_data_path
from tuneforge.paths import runs_dir
from tuneforge.train.collate import answer_only_loss, collate
from tuneforge.train.encode import Encoded, encode_conversation
from tuneforge.train.precision import autocast, resolve_precision
from tuneforge.train.run_record import library_versions, write_run


@dataclass
class PreparedData:
    train: list[Example]
    eval: list[Example]
    data_hash: str
    system_prompt: str | None
    version: str | None = None  # dataset version id when cfg.data named one (see data/versions.py)


def prepare_data(cfg: TrainConfig) -> PreparedData:
    data_path, version = resolve_data_path(cfg.data)
    examples = load_from_options(data_path, cfg)
    if cfg.eval_data:
        train, evals = examples, load_from_options(cfg.eval_data, cfg)
    else:
        train, evals = split_examples(examples, cfg.eval_split, cfg.seed)
    if not train:
        raise ValueError(f"{cfg.data}: no training examples left after holding out the eval split")
    # A task with one fixed system prompt gets it recorded, so predict/serve prompt the variant as it was trained.
    systems = {ex.messages[0]["content"] if ex.messages[0]["role"] == "system" else None for ex in train}
    system_prompt = systems.pop() if len(systems) == 1 else None
    return PreparedData(train, evals, dataset_hash(examples), system_prompt, version)


def default_out_dir(cfg: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return runs_dir() / f"{Path(cfg.data).stem}-{stamp}"


def _batches(items: list[Encoded], batch_size: int, rng: random.Random | None) -> list[list[Encoded]]:
    order = list(range(len(items)))
    if rng is not None:
        rng.shuffle(order)
    return [[items[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]


def _make_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup
    from transformers import get_linear_schedule_with_warmup

    warmup = int(round(total_steps * cfg.warmup_ratio))
    if cfg.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    if cfg.schedule == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    return get_constant_schedule_with_warmup(optimizer, warmup)


def _apply_lora(model, cfg: TrainConfig):
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules()
    if isinstance(targets, list):
        names = {n.split(".")[-1] for n, _ in model.named_modules()}
        unknown = [t for t in targets if t not in names]
        if unknown:
            raise ValueError(f"lora_targets: no module named {unknown} in the model (it has e.g. {sorted(names)[:12]})")
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.resolved_lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def evaluate_loss(model, batches: list[list[Encoded]], pad_id: int, device, precision: str = "fp32") -> float | None:
    """Token-weighted mean answer loss over held-out batches."""
    import torch

    if not batches:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for b in batches:
            batch = {k: v.to(device) for k, v in collate(b, pad_id).items()}
            n = int((batch["labels"][:, 1:] != -100).sum())
            with autocast(device, precision):
                total += float(answer_only_loss(model, batch)) * n
            count += n
    model.train()
    return total / max(count, 1)


def _save_checkpoint(folder: Path, model, optimizer, scheduler, step: int, epoch: int) -> Path:
    import torch

    ckpt = folder / "checkpoints" / f"step-{step}"
    ckpt.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(ckpt)
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "epoch": epoch,
            "rng_torch": torch.get_rng_state(),
            "rng_python": random.getstate(),
        },
        ckpt / "trainer_state.pt",
    )
    return ckpt


class _Progress:
    """A rich progress bar with loss, tokens/s and ETA; silent when disabled."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]train[/] epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[tps]} tok/s"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self.task = self.bar.add_task("train", total=total, epoch=1, loss="-", tps="-")
            self.bar.start()

    def update(self, **fields):
        if self.bar:
            self.bar.update(self.task, advance=1, **fields)

    def log(self, msg: str):
        if self.bar:
            self.bar.console.print(msg)

    def close(self):
        if self.bar:
            self.bar.stop()


def train(cfg: TrainConfig, log=print) -> Path:
    """Run supervised LoRA fine-tuning; return the run folder."""
    import torch
    from accelerate import Accelerator

    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base

    started = time.time()
    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)

    # 1. Data: load, validate (refuses bad files), split, encode with answer-only labels.
    data = prepare_data(cfg)
    base = resolve_base(cfg.base)
    tokenizer = load_tokenizer(base.path)
    pad_id = tokenizer.pad_token_id
    train_enc = [encode_conversation(tokenizer, ex.messages, cfg.max_seq_len) for ex in data.train]
    eval_enc = [encode_conversation(tokenizer, ex.messages, cfg.max_seq_len) for ex in data.eval]
    truncated = sum(e.truncated for e in train_enc + eval_enc)
    if truncated:
        log(f"warning: {truncated} example(s) longer than max_seq_len={cfg.max_seq_len} were truncated")
    empty = [ex.line for ex, e in zip(data.train, train_enc) if e.n_answer_tokens == 0]
    if empty:
        raise ValueError(f"{cfg.data}: lines {empty[:10]} have no answer tokens left (max_seq_len too small?)")
    out.mkdir(parents=True, exist_ok=True)  # only once the data and the base model are known to be good
    log(f"data: {len(data.train)} train / {len(data.eval)} eval examples from {cfg.data} ({data.data_hash[:19]})")

    # 2. Model: the base, frozen, with a LoRA adapter on top. Seed first so the adapter init is reproducible.
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, cpu=not torch.cuda.is_available())
    precision = resolve_precision(cfg.precision, accelerator.device)
    model = _apply_lora(load_model(base.path), cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total_params = sum(p.numel() for p in model.parameters())
    log(f"model: {cfg.base} ({base.source}), LoRA r={cfg.lora_r}: {trainable:,} trainable of {total_params:,}, {precision}")

    # 3. Optimizer and schedule over optimizer steps (micro-batches / grad_accum).
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    micro_per_epoch = math.ceil(len(train_enc) / cfg.batch_size)
    steps_per_epoch = math.ceil(micro_per_epoch / cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    scheduler = _make_scheduler(optimizer, cfg, total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    eval_batches = _batches(eval_enc, cfg.batch_size, None)

    # 4. The loop.
    metrics_path = out / "metrics.jsonl"
    metrics_file = metrics_path.open("w", encoding="utf-8")
    progress = _Progress(cfg.progress, total_steps)
    step, trained_tokens, answer_tokens = 0, 0, 0
    epoch_metrics: list[dict] = []
    window_loss, window_tokens, window_start = 0.0, 0, time.time()
    first_loss = None
    model.train()
    try:
        for epoch in range(1, cfg.epochs + 1):
            rng = random.Random(cfg.seed + epoch)
            epoch_losses = []
            for micro in _batches(train_enc, cfg.batch_size, rng):
                batch = {k: v.to(accelerator.device) for k, v in collate(micro, pad_id).items()}
                with accelerator.accumulate(model):
                    with autocast(accelerator.device, precision):
                        loss = answer_only_loss(model, batch)
                    accelerator.backward(loss)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                real_tokens = int(batch["attention_mask"].sum())
                trained_tokens += real_tokens
                answer_tokens += int((batch["labels"] != -100).sum())
                window_loss += float(loss.detach())
                window_tokens += real_tokens
                epoch_losses.append(float(loss.detach()))
                if not accelerator.sync_gradients:
                    continue
                step += 1
                step_loss = window_loss / cfg.grad_accum
                first_loss = step_loss if first_loss is None else first_loss
                elapsed = max(time.time() - window_start, 1e-9)
                tps = window_tokens / elapsed
                if step % cfg.log_every == 0 or step == total_steps:
                    record = {
                        "step": step, "epoch": epoch, "loss": round(step_loss, 5),
                        "lr": scheduler.get_last_lr()[0], "tokens_per_s": round(tps, 1),
                        "trained_tokens": trained_tokens, "time_s": round(time.time() - started, 2),
                    }
                    metrics_file.write(json.dumps(record) + "\n")
                    metrics_file.flush()
                progress.update(epoch=epoch, loss=f"{step_loss:.3f}", tps=f"{tps:,.0f}")
                window_loss, window_tokens, window_start = 0.0, 0, time.time()

            eval_loss = evaluate_loss(model, eval_batches, pad_id, accelerator.device, precision)
            train_loss = sum(epoch_losses) / len(epoch_losses)
            epoch_metrics.append(
                {"epoch": epoch, "step": step, "train_loss": round(train_loss, 5),
                 "eval_loss": None if eval_loss is None else round(eval_loss, 5)}
            )
            metrics_file.write(json.dumps({"epoch_end": epoch, **epoch_metrics[-1]}) + "\n")
            metrics_file.flush()
            ev = "-" if eval_loss is None else f"{eval_loss:.4f}"
            progress.log(f"epoch {epoch}: train loss {train_loss:.4f}, eval loss {ev}")
            _save_checkpoint(out, accelerator.unwrap_model(model), optimizer, scheduler, step, epoch)
    finally:
        progress.close()
        metrics_file.close()

    # 5. Artifacts: the adapter (PEFT format), the tokenizer, and run.json.
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    wall = time.time() - started
    record = {
        "format": "tuneforge.run/1",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "method": "lora",
        "precision": precision,
        "base": {"name": cfg.base, "path": str(base.path), "source": base.source},
        "data": {
            "path": str(resolve_data_path(cfg.data)[0].resolve()),
            "version": data.version,
            "hash": data.data_hash,
            "eval_path": str(Path(cfg.eval_data).resolve()) if cfg.eval_data else None,
            "train_examples": len(data.train),
            "eval_examples": len(data.eval),
            "truncated_examples": truncated,
            "system_prompt": data.system_prompt,
        },
        "config": cfg.model_dump(),
        "versions": library_versions(),
        "metrics": {
            "steps": step,
            "first_loss": first_loss,
            "final_train_loss": epoch_metrics[-1]["train_loss"],
            "final_eval_loss": epoch_metrics[-1]["eval_loss"],
            "epochs": epoch_metrics,
            "trainable_params": trainable,
            "total_params": total_params,
        },
        "trained_tokens": trained_tokens,
        "answer_tokens": answer_tokens,
        "wall_time_s": round(wall, 2),
        "tokens_per_s": round(trained_tokens / wall, 1),
    }
    write_run(out, record)
    log(f"saved run to {out} ({wall:.0f}s, {trained_tokens:,} tokens)")
    return out
