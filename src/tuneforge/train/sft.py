"""The training loop, written out top to bottom: SFT or DPO, with LoRA, DoRA, QLoRA or full fine-tuning.

Read `train()` from the top: data in, model and method, optimizer and schedule, a resume point, then the loop
(forward, backward, accumulate, step, log, evaluate, checkpoint, stop early) and the artifacts a run leaves: the
adapter (PEFT format) or full weights, tokenizer files, run.json, metrics.jsonl and checkpoints/.

The same code runs in one process or many (DDP through accelerate: `tuneforge train --nproc N` or
`accelerate launch -m tuneforge train ...`). The loss of a step is the sum of token losses divided by the loss
units (answer tokens, or pairs for DPO) of the whole step across micro-batches and processes, so two processes
with half the batch each follow the same curve as one process with the whole batch.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable
from datetime import datetime
from pathlib import Path

from tuneforge.atomic import write_text_atomic
from tuneforge.config import TrainConfig
from tuneforge.data.answer_schema import answer_schema
from tuneforge.data.formats import Example, dataset_hash, load_from_options, load_preference_pairs
from tuneforge.data.split import split_examples
from tuneforge.data.versions import resolve_data_path
from tuneforge.errors import UserError
from tuneforge.models.resolve import public_id
from tuneforge.paths import runs_dir
from tuneforge.run_record import write_run
from tuneforge.train.lr_schedule import make_scheduler
from tuneforge.train.precision import autocast, choose_precision
from tuneforge.train.run_provenance import run_provenance
from tuneforge.train.run_folder import prepare_run_folder, resumed_config


@dataclass
class PreparedData:
    train: list[Example]
    eval: list[Example]
    data_hash: str
    system_prompt: str | None
    version: str | None = None  # dataset version id when cfg.data named one (see data/versions.py)


def _load(path: str, cfg: TrainConfig) -> list[Example]:
    return load_preference_pairs(path, cfg) if cfg.objective == "dpo" else load_from_options(path, cfg)


def prepare_data(cfg: TrainConfig) -> PreparedData:
    data_path, version = resolve_data_path(cfg.data)
    examples = _load(str(data_path), cfg)
    if cfg.eval_data:
        train, evals = examples, _load(cfg.eval_data, cfg)
    else:
        train, evals = split_examples(examples, cfg.eval_split, cfg.seed)
    if not train:
        raise UserError(f"{cfg.data}: no training examples left after holding out the eval split")
    # A task with one fixed system prompt gets it recorded, so predict/serve prompt the variant as it was trained.
    systems = {ex.messages[0]["content"] if ex.messages[0]["role"] == "system" else None for ex in train}
    system_prompt = systems.pop() if len(systems) == 1 else None
    return PreparedData(train, evals, dataset_hash(examples), system_prompt, version)


def default_out_dir(cfg: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return runs_dir() / f"{Path(cfg.data).stem}-{stamp}"


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def evaluate_loss(loss_module, objective, batch_size: int, accelerator, precision: str) -> float | None:
    """Mean loss per unit (answer token or pair) over the held-out items, each process taking a share."""
    import torch

    if not objective.eval:
        return None
    mine = objective.eval[accelerator.process_index :: accelerator.num_processes]
    totals = torch.zeros(2, device=accelerator.device, dtype=torch.float64)
    loss_module.eval()
    with torch.no_grad():
        for s in range(0, len(mine), batch_size):
            batch = _to(objective.collate(mine[s : s + batch_size]), accelerator.device)
            with autocast(accelerator.device, precision):
                loss_sum, units = loss_module(batch)
            totals += torch.stack([loss_sum.double(), units.double().to(totals.device)])
    loss_module.train()
    totals = accelerator.reduce(totals, reduction="sum")
    return float(totals[0] / totals[1].clamp(min=1))


@dataclass
class LoopState:
    """Where the loop is and what it has measured: saved in every checkpoint, so a resumed run continues it."""

    epoch: int = 1
    step_in_epoch: int = 0  # the data-loader position: optimizer steps done in `epoch`
    step: int = 0
    trained_tokens: int = 0
    computed_tokens: int = 0  # trained_tokens less the shared prompt starts each micro-batch ran once
    answer_units: int = 0
    first_loss: float | None = None
    epoch_loss: float = 0.0
    epoch_units: int = 0
    interval_loss: float = 0.0  # train loss since the last evaluation, for the overfitting check
    interval_units: int = 0
    epochs: list = field(default_factory=list)
    evals: list = field(default_factory=list)  # [step, eval_loss, train_loss_since_previous_eval]
    best_eval: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    stopped_early: bool = False


class _Progress:
    """A rich progress bar with loss, tokens/s and ETA; silent when disabled."""

    def __init__(self, enabled: bool, total: int, completed: int = 0):
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
            self.task = self.bar.add_task("train", total=total, completed=completed, epoch=1, loss="-", tps="-")
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


# A rise of eval loss smaller than this is noise, not overfitting.
OVERFIT_RISE = 0.005


def _after_eval(state: LoopState, eval_loss: float, cfg: TrainConfig, say) -> bool:
    """Record an evaluation; return True when the loss improved (the caller saves the best weights)."""
    train_since = state.interval_loss / state.interval_units if state.interval_units else None
    if state.evals:
        _, prev_eval, prev_train = state.evals[-1]
        if eval_loss > prev_eval * (1 + OVERFIT_RISE) and train_since is not None and prev_train is not None and train_since < prev_train:
            say(
                f"warning: possible overfitting at step {state.step}: eval loss rose {prev_eval:.4f} -> "
                f"{eval_loss:.4f} while train loss fell {prev_train:.4f} -> {train_since:.4f}"
            )
    state.evals.append([state.step, eval_loss, train_since])
    state.interval_loss, state.interval_units = 0.0, 0
    if state.best_eval is None or eval_loss < state.best_eval:
        state.best_eval, state.best_step, state.evals_without_improvement = eval_loss, state.step, 0
        return True
    state.evals_without_improvement += 1
    if cfg.early_stopping_patience and state.evals_without_improvement >= cfg.early_stopping_patience:
        say(f"early stop at step {state.step}: no better eval loss in {cfg.early_stopping_patience} evaluation(s)")
        state.stopped_early = True
    return False


def _truncate_metrics(path: Path, last_step: int) -> None:
    """On resume, drop metrics written after the checkpoint: the resumed run writes them again."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line).get("step", 0) <= last_step]
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


def train(cfg: TrainConfig, log=print) -> Path:
    """Run fine-tuning as `cfg` says; return the run folder. Setup, fit, save: each below, a screen long."""
    run = setup(cfg, log)
    if isinstance(run, Path):  # a classification variant: trained, calibrated and saved by train/classification.py
        return run
    state = resume_point(run)
    fit(run, state)
    return save(run, state)


@dataclass
class Run:
    """Everything the loop and the artifacts need, built once by `setup`."""

    cfg: TrainConfig
    say: Callable[[str], None]
    out: Path
    accelerator: object
    data: PreparedData
    base: object  # models.resolve.ResolvedBase
    tokenizer: object
    objective: object  # train.objective.Objective
    model: object
    trainable: list
    optimizer: object
    scheduler: object
    loss_module: object
    precision: str
    total_steps: int
    estimate: object  # data.estimate.Estimate
    started: float
    lengths: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process


def _refuse_early(cfg: TrainConfig, world: int) -> None:
    """Everything that can be refused is refused before anything heavy is loaded."""
    from tuneforge.train.methods import check_method
    from tuneforge.train.tracking import requested_trackers

    check_method(cfg)
    requested_trackers(cfg.report_to)
    if cfg.resume and not cfg.out:
        raise UserError("name the run folder to continue with --out", field="resume")
    if cfg.nproc > 1 and world == 1:
        raise UserError(
            f"this process was not launched as one of {cfg.nproc}; use `tuneforge train --nproc "
            f"{cfg.nproc} ...` or `accelerate launch --num_processes {cfg.nproc} -m tuneforge train ...`", field="nproc"
        )
    if world > 1 and not cfg.out:
        raise UserError("a multi-process run needs --out, so that every process writes the same run folder")


def setup(cfg: TrainConfig, log=print) -> Run | Path:
    """Data in (validated, split, `auto` settings, encoded), the model with its method, optimizer and schedule."""
    import torch
    from accelerate import Accelerator

    from tuneforge.chat_encoding import shared_prefix_length
    from tuneforge.data.estimate import estimate_training, model_shape, steps_per_epoch
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.train.defaults import choose_defaults
    from tuneforge.train.methods import enable_gradient_checkpointing, load_base_for, make_trainable

    started = time.time()
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    _refuse_early(cfg, accelerator.num_processes)
    world = accelerator.num_processes
    say = log if accelerator.is_main_process else (lambda *_: None)
    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)

    if cfg.resume:
        cfg, taken = resumed_config(cfg)
        if taken:
            say(f"resume: settings not given are the run folder's: {', '.join(taken)}")
    data = prepare_data(cfg)
    cfg, notes = choose_defaults(cfg, data.train, world)
    for note in notes:
        say(f"chose {note}")
    if cfg.variant_type == "classification":  # a head over the labels: its own short loop
        from tuneforge.train.classification import train_classifier

        if accelerator.is_main_process and not cfg.resume:  # one run per folder; --resume is refused, with why, below
            prepare_run_folder(out, cfg, data.data_hash, data.version)
        return train_classifier(cfg, data, out, say)
    base = resolve_base(cfg.base)
    tokenizer = load_tokenizer(base.path)
    if cfg.objective == "dpo":
        from tuneforge.train.dpo import dpo_objective as make_objective
    else:
        from tuneforge.train.objective import sft_objective as make_objective
    objective = make_objective(cfg, tokenizer, data.train, data.eval)
    if objective.truncated:
        say(f"warning: {objective.truncated} example(s) longer than max_seq_len={cfg.max_seq_len} were truncated")
    if accelerator.is_main_process:  # only once the data is known to be good; one run per folder (run_folder.py)
        prepare_run_folder(out, cfg, data.data_hash, data.version)
    lengths = [objective.length(item) for item in objective.train]
    say(f"data: {len(data.train)} train / {len(data.eval)} eval {objective.name} items from {cfg.data} "
        f"({data.data_hash[:19]})")

    # The base with the method's trainable part. Seed first so the adapter init is reproducible.
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    precision, why = choose_precision(cfg.precision, accelerator.device)
    if why:
        say(f"chose precision={precision} ({why})")
    model = make_trainable(load_base_for(cfg, base.path), cfg)
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    say(f"model: {cfg.base} ({base.source}), {cfg.method}: {sum(p.numel() for p in trainable):,} trainable of "
        f"{sum(p.numel() for p in model.parameters()):,}, {precision}, {world} process(es)")

    # Optimizer and schedule over optimizer steps; the loss module is what DDP wraps.
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = steps_per_epoch(len(objective.train), cfg.batch_size, cfg.grad_accum, world)
    total_steps = min(per_epoch * cfg.epochs, cfg.max_steps or per_epoch * cfg.epochs)
    # Not prepared by accelerate: its scheduler wrapper steps once per process, which would skew multi-process runs.
    scheduler = make_scheduler(optimizer, cfg, total_steps)
    estimate = estimate_training(model_shape(base.path), lengths, cfg, cfg.base,
                                 [objective.answer_tokens(item) for item in objective.train], world, precision,
                                 shared_prefix_length([r for item in objective.train for r in objective.rows(item)])
                                 if cfg.shares_prefix else 0)
    say(estimate.describe())
    loss_module, optimizer = accelerator.prepare(objective.make_loss(model), optimizer)
    return Run(cfg, say, out, accelerator, data, base, tokenizer, objective, model, trainable, optimizer, scheduler,
               loss_module, precision, total_steps, estimate, started, lengths,
               [objective.weight(item) for item in objective.train])


def resume_point(run: Run) -> LoopState:
    """A fresh state, or the latest complete checkpoint's: weights, optimizer, schedule, RNG and position."""
    from tuneforge.train import checkpoint as ckpt

    if not run.cfg.resume:
        return LoopState()
    found = ckpt.latest_checkpoint(run.out)
    if found is None:
        raise UserError(f"{run.out}: no complete checkpoint to resume from")
    state = LoopState(**ckpt.load_checkpoint(found, run.model, run.optimizer, run.scheduler, run.rank))
    run.say(f"resume: {found.name} (epoch {state.epoch}, step {state.step} of {run.total_steps})")
    if run.main:
        _truncate_metrics(run.out / "metrics.jsonl", state.step)
    return state


def fit(run: Run, state: LoopState) -> None:
    """The loop: epochs of optimizer steps, each evaluated and checkpointed at its end."""
    from tuneforge.train.batching import plan_epoch
    from tuneforge.train.tracking import Tracker

    cfg = run.cfg
    tracker = Tracker(run.out, cfg.report_to, cfg.model_dump(), run.main, append=cfg.resume)
    progress = _Progress(cfg.progress and run.main, run.total_steps, state.step)
    run.loss_module.train()
    speed = _Speed()
    try:
        for epoch in range(state.epoch, cfg.epochs + 1):
            if state.step >= run.total_steps:  # max_steps reached (a run resumed from its final checkpoint)
                break
            plan = plan_epoch(run.lengths, cfg.batch_size, cfg.grad_accum, run.world, cfg.seed, epoch, cfg.group_by_length)
            for step_index in range(state.step_in_epoch, len(plan)):
                step_loss = _optimizer_step(run, plan[step_index], state, step_index, speed)
                logged = state.step % cfg.log_every == 0 or state.step == run.total_steps
                last = step_index + 1 == len(plan) or state.step >= run.total_steps  # the epoch end evaluates and saves
                evaluated = bool(cfg.eval_every) and state.step % cfg.eval_every == 0 and not last
                record = _step_record(run, state, epoch, step_loss, speed) if logged else {"step": state.step}
                if evaluated:
                    # In the step's own record, written once both are known: a reader polling metrics.jsonl (the
                    # jobs worker) never sees the step's loss without the evaluation that belongs to it.
                    record["eval_loss"] = _evaluate_now(run, state)
                if logged or evaluated:
                    tracker.log(record, state.step)
                progress.update(epoch=epoch, loss=f"{step_loss:.3f}", tps=f"{speed.shown():,.0f}")
                if cfg.save_every and state.step % cfg.save_every == 0 and not last:
                    _checkpoint_now(run, state)
                if state.stopped_early or state.step >= run.total_steps:
                    break
            _end_epoch(run, state, epoch, tracker, progress)
            if state.stopped_early or state.step >= run.total_steps:
                break
    finally:
        progress.close()
        tracker.close()


def save(run: Run, state: LoopState) -> Path:
    """The best (or last) weights as a PEFT adapter or a full model, the tokenizer, and run.json."""
    from tuneforge.train import checkpoint as ckpt

    if run.cfg.keep_best and state.best_step is not None and state.best_step != state.step:
        ckpt.load_best(run.out, run.model)
        run.say(f"kept the best weights: step {state.best_step}, eval loss {state.best_eval:.4f}")
    run.accelerator.wait_for_everyone()
    if run.main:
        run.model.save_pretrained(run.out, safe_serialization=True)
        _write_portable_base(run.out, public_id(run.cfg.base) or run.cfg.base)
        run.tokenizer.save_pretrained(run.out)
        write_run(run.out, run_record(run, state))
    run.accelerator.wait_for_everyone()
    run.say(f"saved run to {run.out} ({time.time() - run.started:.0f}s, {state.trained_tokens:,} tokens)")
    return run.out


def _write_portable_base(out: Path, portable_base: str) -> None:
    """Name the base by its public id in adapter_config.json, never by a local cache path. Written after PEFT's
    save on purpose: given a hub id, `save_pretrained` asks the hub whether the base's vocabulary changed, and a
    run must not reach the network."""
    path = out / "adapter_config.json"
    if not path.is_file():  # full fine-tuning saves a whole model, not an adapter
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = portable_base
    write_text_atomic(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


class _Speed:
    """Tokens per second since the last logged step."""

    def __init__(self):
        self.tokens, self.since, self.last = 0, time.time(), 0.0

    def add(self, tokens: int) -> None:
        self.tokens += tokens

    def rate(self) -> float:
        return self.tokens / max(time.time() - self.since, 1e-9)

    def shown(self) -> float:
        """The progress bar's figure: the current window's rate, or the last logged window's right after a reset
        (a logged step resets the window, and the bar would otherwise read 0 tok/s at every logged step)."""
        return self.rate() if self.tokens else self.last

    def reset(self) -> None:
        self.last = self.rate()
        self.tokens, self.since = 0, time.time()


def _optimizer_step(run: Run, step_plan, state: LoopState, step_index: int, speed: _Speed) -> float:
    """Forward and backward over this process's micro-batches, one optimizer step; return the step's mean loss."""
    import torch

    acc, objective = run.accelerator, run.objective
    everyone = [i for shard in step_plan for micro in shard for i in micro]
    step_units = sum(run.units[i] for i in everyone)
    mine = step_plan[run.rank]
    # [loss sum, prompt tokens the layout ran once instead of once per row], summed over processes below.
    local = torch.zeros(2, device=acc.device)
    for k, micro in enumerate(mine):
        batch = _to(objective.collate([objective.train[i] for i in micro]), acc.device)
        if "prefix_ids" in batch:  # the shared-prefix layout (train/collate.py) chose to run this prefix once
            local[1] += (batch["input_ids"].shape[0] - 1) * batch["prefix_ids"].shape[1]
        # Gradients are all-reduced once per step, on the last micro-batch.
        sync = nullcontext() if k == len(mine) - 1 else acc.no_sync(run.loss_module)
        with sync:
            with autocast(acc.device, run.precision):
                loss_sum, _ = run.loss_module(batch)
            # x world: DDP averages gradients over processes; we want the sum over the step's units.
            acc.backward(loss_sum * run.world / step_units)
        local[0] += loss_sum.detach().float()
    if run.cfg.max_grad_norm:
        acc.clip_grad_norm_(run.trainable, run.cfg.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)

    loss_total, skipped = acc.reduce(local, reduction="sum").tolist()
    step_loss = loss_total / step_units
    step_tokens = sum(run.lengths[i] for i in everyone)
    state.step, state.step_in_epoch = state.step + 1, step_index + 1
    state.trained_tokens += step_tokens
    state.computed_tokens += step_tokens - int(skipped)
    state.answer_units += step_units
    state.first_loss = step_loss if state.first_loss is None else state.first_loss
    state.epoch_loss += step_loss * step_units
    state.epoch_units += step_units
    state.interval_loss += step_loss * step_units
    state.interval_units += step_units
    speed.add(step_tokens)
    return step_loss


def _step_record(run: Run, state: LoopState, epoch: int, step_loss: float, speed: _Speed) -> dict:
    record = {
        "step": state.step, "epoch": epoch, "loss": round(step_loss, 5),
        "lr": run.scheduler.get_last_lr()[0], "tokens_per_s": round(speed.rate(), 1),
        "trained_tokens": state.trained_tokens, "computed_tokens": state.computed_tokens,
        "time_s": round(time.time() - run.started, 2),
        "cpu_s": round(time.process_time(), 2),  # process CPU time: speed net of others' load
        **run.objective.step_metrics(run.accelerator.unwrap_model(run.loss_module)),
    }
    speed.reset()
    return record


def _checkpoint_now(run: Run, state: LoopState) -> None:
    from tuneforge.train import checkpoint as ckpt

    ckpt.save_checkpoint(run.out, f"step-{state.step}", run.model, run.optimizer, run.scheduler, vars(state),
                         run.accelerator)
    if run.main:
        ckpt.prune_checkpoints(run.out, run.cfg.keep_checkpoints)


def _evaluate_now(run: Run, state: LoopState) -> float | None:
    from tuneforge.train import checkpoint as ckpt

    eval_loss = evaluate_loss(run.accelerator.unwrap_model(run.loss_module), run.objective, run.cfg.batch_size,
                              run.accelerator, run.precision)
    if eval_loss is not None and _after_eval(state, eval_loss, run.cfg, run.say) and run.main:
        ckpt.save_best(run.out, run.model, {"step": state.step, "eval_loss": eval_loss})
    return eval_loss


def _end_epoch(run: Run, state: LoopState, epoch: int, tracker, progress: _Progress) -> None:
    """An early stop has just evaluated; every other epoch ends with an evaluation. Then a checkpoint."""
    eval_loss = state.evals[-1][1] if state.stopped_early else _evaluate_now(run, state)
    train_loss = state.epoch_loss / max(state.epoch_units, 1)
    state.epochs.append({
        "epoch": epoch, "step": state.step, "train_loss": round(train_loss, 5),
        "eval_loss": None if eval_loss is None else round(eval_loss, 5),
    })
    tracker.log({"epoch_end": epoch, **state.epochs[-1]}, state.step)
    ev = "-" if eval_loss is None else f"{eval_loss:.4f}"
    progress.log(f"epoch {epoch}: train loss {train_loss:.4f}, eval loss {ev}")
    state.epoch, state.step_in_epoch, state.epoch_loss, state.epoch_units = epoch + 1, 0, 0.0, 0
    _checkpoint_now(run, state)


def run_record(run: Run, state: LoopState) -> dict:
    """run.json (format tuneforge.run/1; see run_record.py), from the run and where its loop ended."""
    from tuneforge.data.estimate import cpu_threads

    cfg, data, wall = run.cfg, run.data, time.time() - run.started
    params = list(run.model.parameters())
    record = run_provenance(cfg, run.base, data, len(data.train), len(data.eval), run.objective.truncated)
    # JSON answers' keys and types: predict/eval/serve decode into exactly these (data/answer_schema.py).
    record["data"]["answer_schema"] = (answer_schema([e.answer for e in data.train]) if cfg.objective == "sft"
                                       else None)
    return {
        **record,
        "method": cfg.method,
        "objective": cfg.objective,
        "precision": run.precision,
        "processes": run.world,
        "metrics": {
            "steps": state.step,
            "first_loss": state.first_loss,
            "final_train_loss": state.epochs[-1]["train_loss"],
            "final_eval_loss": state.epochs[-1]["eval_loss"],
            "best_eval_loss": state.best_eval,
            "best_step": state.best_step,
            "stopped_early": state.stopped_early,
            "epochs": state.epochs,
            "evals": state.evals,
            "trainable_params": sum(p.numel() for p in run.trainable),
            "total_params": sum(p.numel() for p in params),
        },
        "estimate": run.estimate.to_dict(),  # what was announced before the run, to compare with what it took
        "trained_tokens": state.trained_tokens,
        "answer_tokens": state.answer_units if run.objective.unit == "answer_tokens" else None,
        "loss_units": {"unit": run.objective.unit, "count": state.answer_units},
        "wall_time_s": round(wall, 2),
        "tokens_per_s": round(state.trained_tokens / wall, 1),
        "computed_tokens": state.computed_tokens,
        "computed_tokens_per_s": round(state.computed_tokens / wall, 1),  # what data/estimate.py reads back
        # The rate above depends on them (data/estimate.py converts it for another count); a GPU run records none.
        "cpu_threads": cpu_threads() if run.accelerator.device.type == "cpu" else None,
    }
