"""The job queue's worker: one thread that moves jobs through OpenAI's statuses and never lets a job's failure
reach the server.

    validating_files -> queued -> running -> succeeded | failed | cancelled      (paused <-> queued on request)

Each tick it validates new jobs' files (data workbench checks), starts queued jobs while fewer than
`max_running` run (each a `tuneforge train` process through the executor), and follows running ones by reading
their run folder: metrics.jsonl becomes metrics events, each epoch's checkpoint a checkpoint object, run.json at
exit the result. A succeeded job's adapter is registered (registry name `ft-<job>`, lineage in RUN/job.json) and
served at once under its `ft:` id.

Restarts: every state is in SQLite first. `recover()` (at start) ends any training process left from the previous
server and puts its job back in the queue; the job then runs `tuneforge train --resume` from its last complete
checkpoint, whose exact-resume state (weights, optimizer, schedule, RNG, data position) makes the result the same
as an uninterrupted run's.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
import time
import traceback
from pathlib import Path

import yaml

from tuneforge.errors import UserError
from tuneforge.jobs.executor import Launch, LocalExecutor
from tuneforge.jobs.store import TERMINAL, JobStore, now
from tuneforge.jobs.validate import JobError, check_file

CONFIG_FILE = "config.yaml"
LOG_FILE = "train.log"
RESULTS_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


class JobStateError(ValueError):
    """The action does not apply to the job's current status (the API answers 400)."""


def fine_tuned_model_id(job: dict) -> str:
    """OpenAI's name for the result: ft:<base>:<org>:<suffix>:<id> (the suffix may be empty). The base is the
    `model` asked for, or for "auto" the base chosen from the rows; a folder's path is named by the folder, as the
    server names it."""
    from tuneforge.jobs.spec import shown_model
    from tuneforge.models.resolve import base_display_name

    base = shown_model(job)
    org = "".join(c if c.isalnum() or c in "-_" else "-" for c in job["owner"].lower()) or "local"
    return f"ft:{base_display_name(base)}:{org}:{job['suffix'] or ''}:{job['id'].removeprefix('ftjob-')[:8]}"


def _registry_name(job_id: str) -> str:
    return "ft-" + job_id.removeprefix("ftjob-").lower()


class Worker:
    def __init__(self, store: JobStore, files, catalog=None, executor=None, max_running: int = 1,
                 poll_s: float = 0.5, log=print):
        self.store, self.files, self.catalog = store, files, catalog
        self.executor = executor or LocalExecutor()
        self.max_running = max_running
        self.poll_s = poll_s
        self.log = log
        self._lock = threading.RLock()  # every status change happens under it
        self._wake = threading.Event()
        self._stopping = False
        self._pace: dict[str, tuple[float, int]] = {}  # job -> (this process's start time, its first step)
        self._thread = threading.Thread(target=self._loop, name="tuneforge-jobs", daemon=True)

    # -- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._thread.start()

    def close(self) -> None:
        """Stop the loop and the training processes; their jobs stay `running` and resume at the next start."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        with self._lock:
            for job in self.store.jobs_in("running"):
                if job["process"]:
                    self.executor.stop(job["process"])

    def wake(self) -> None:
        self._wake.set()

    def recover(self) -> None:
        """Jobs the previous server left `running`: end their process if one survived, then finish them (the run
        completed) or queue them to resume from their last checkpoint."""
        with self._lock:
            for job in self.store.jobs_in("running"):
                if job["process"]:
                    self.executor.stop(job["process"])
                if (Path(job["run_dir"]) / "run.json").is_file():
                    self._finish(job)
                    continue
                self.store.transition(job["id"], ("running",), status="queued", process=None)
                self.store.add_event(job["id"], "The server restarted; the job is queued to resume from its last "
                                                "checkpoint.")

    # -- actions the API asks for --------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> dict:
        with self._lock:
            job = self.store.get_job(job_id)
            if job["status"] in TERMINAL:
                raise JobStateError(f"Job {job_id} has already {job['status']}; it cannot be cancelled.")
            # Compare-and-set: a job that finished meanwhile stays finished (and keeps its run folder).
            if self.store.transition(job_id, (job["status"],), status="cancelled", finished_at=now(),
                                     estimated_finish=None, event=("Fine-tuning job cancelled", "info")) is None:
                status = self.store.get_job(job_id)["status"]
                raise JobStateError(f"Job {job_id} became {status} while being cancelled; try again.")
            if job["process"]:
                self.executor.stop(job["process"])  # kills the process group: memory and devices are freed
                self.store.update_job(job_id, process=None)
            shutil.rmtree(job["run_dir"], ignore_errors=True)
            self._release_files(job)
            return self.store.get_job(job_id)

    def pause(self, job_id: str) -> dict:
        with self._lock:
            job = self.store.get_job(job_id)
            if job["status"] not in ("running", "queued"):
                raise JobStateError(f"Job {job_id} is {job['status']}; only running or queued jobs can be paused.")
            self.store.update_job(job_id, status="paused", estimated_finish=None)
            if job["process"]:
                self.executor.stop(job["process"])
                self.store.update_job(job_id, process=None)
            self.store.add_event(job_id, "Fine-tuning job paused; it resumes from its last checkpoint.")
            return self.store.get_job(job_id)

    def resume(self, job_id: str) -> dict:
        with self._lock:
            job = self.store.transition(job_id, ("paused",), status="queued")
            if job is None:
                status = self.store.get_job(job_id)["status"]
                raise JobStateError(f"Job {job_id} is {status}; only paused jobs can be resumed.")
            self.store.add_event(job_id, "Fine-tuning job resumed")
        self.wake()
        return job

    # -- the loop ------------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            try:
                self.tick()
            except Exception:  # a bug here must not stop the queue (or the server): log it and go on
                self.log("jobs worker error:\n" + traceback.format_exc())
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def tick(self) -> None:
        for job in self.store.jobs_in("validating_files"):
            self._guarded(job, self._validate)
        for job in self.store.jobs_in("running"):
            self._guarded(job, self._follow)
        free = self.max_running - len(self.store.jobs_in("running"))
        for job in self.store.jobs_in("queued")[: max(free, 0)]:
            self._guarded(job, self._start)

    def _guarded(self, job: dict, step) -> None:
        with self._lock:
            job = self.store.get_job(job["id"])  # the API may have changed it meanwhile
            try:
                step(job)
            except Exception as err:
                self.log(f"job {job['id']}: {traceback.format_exc()}")
                self._fail(job, JobError("server_error", f"{type(err).__name__}: {err}"))

    def _fail(self, job: dict, error: JobError) -> None:
        if job["process"]:
            self.executor.stop(job["process"])
        done = self.store.transition(job["id"], ("validating_files", "queued", "running"), status="failed",
                                     event=(f"The job failed: {error.message}", "error"),
                                     error=error.to_dict(), finished_at=now(), estimated_finish=None, process=None)
        if done is not None:
            self._release_files(job)

    def _release_files(self, job: dict) -> None:
        for file_id in (job["training_file"], job["validation_file"]):
            record = self.store.any_file(file_id) if file_id else None
            if record is not None and record["deleted_at"] is not None:
                self.files.collect(record["blob"])

    # -- validating_files -> queued ------------------------------------------------------------------------------
    def _validate(self, job: dict) -> None:
        from tuneforge.data.split import split_examples
        from tuneforge.models.load import load_length_tokenizer
        from tuneforge.jobs.datasets import default_base
        from tuneforge.jobs.spec import AUTO_BASE, resolve, shown_resolved
        from tuneforge.data.estimate import steps_per_epoch
        from tuneforge.train.encoder_defaults import is_encoder_base
        from tuneforge.models.resolve import base_display_name

        request = job["request"]
        values = request["train_values"]
        # A job whose model is "auto" gets its base from the rows (below); its files are checked as the base it
        # falls back to, the server's first, would read them.
        checked_base = default_base(self.catalog) if job["base"] == AUTO_BASE else job["base"]
        tokenizer = limit = None  # a sentence encoder has no chat template: its head's inputs are counted in training
        if not is_encoder_base(checked_base):
            try:
                tokenizer, limit, _, _ = load_length_tokenizer(checked_base, values.get("max_seq_len", 1024))
            except (LookupError, OSError, ValueError) as err:
                # An "auto" job names the base it fell back to: "auto" is not what failed to load.
                shown = (repr(job["model"]) if job["base"] != AUTO_BASE
                         else f"{base_display_name(checked_base)!r} (the fallback for model 'auto')")
                return self._fail(job, JobError("model_not_available", f"base model {shown}: {err}", "model"))
        checked = {}
        for role in ("training", "validation"):
            file_id = job[f"{role}_file"]
            if not file_id:
                continue
            record = self.store.any_file(file_id)
            try:
                checked[role] = check_file(self.files.path_of(record), file_id, record["filename"],
                                           values["objective"], role, tokenizer, limit)
            except JobError as err:
                return self._fail(job, err)
            for warning in checked[role].warnings[:5]:
                self.store.add_event(job["id"], f"Warning: {warning}", level="warn")
        examples = checked["training"].examples
        train = examples if values.get("eval_data") else split_examples(
            examples, values.get("eval_split", 0.0), values["seed"])[0]
        try:  # planned from the rows as `tuneforge train` plans (a head on labels when the kind is left to the data)
            cfg, notes = resolve(values, train, request["lr_multiplier"], checked_base,
                                 request["body"].get("tuneforge") or {})
        except UserError as err:  # settings the data cannot train with, e.g. a sentence encoder given free text
            return self._fail(job, JobError("invalid_training_file", str(err), "training_file"))
        run_dir = Path(job["run_dir"])
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        (run_dir.parent / CONFIG_FILE).write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False), encoding="utf-8")
        total = steps_per_epoch(len(train), cfg.batch_size, cfg.grad_accum, 1) * cfg.epochs
        if cfg.max_steps:
            total = min(total, cfg.max_steps)
        queued = self.store.transition(job["id"], ("validating_files",), status="queued", config=cfg.model_dump(),
                                       base=cfg.base,
                                       hyperparameters=shown_resolved(cfg, request["lr_multiplier"]),
                                       total_steps=total)
        if queued is not None:
            for note in notes:
                self.store.add_event(job["id"], f"auto: {note}")
            self.store.add_event(job["id"], "Files validated, moving job to queued state")

    # -- queued -> running ---------------------------------------------------------------------------------------
    def _start(self, job: dict) -> None:
        from tuneforge.train.checkpoint import latest_checkpoint

        run_dir = Path(job["run_dir"])
        found = latest_checkpoint(run_dir)
        if found is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # a start that never checkpointed: begin afresh
        launch = Launch(job["id"], run_dir.parent / CONFIG_FILE, found is not None, run_dir.parent / LOG_FILE)
        record = self.executor.start(launch)
        started = self.store.transition(job["id"], ("queued",), status="running", process=record,
                                        started_at=job["started_at"] or now(), attempts=job["attempts"] + 1)
        if started is None:
            self.executor.stop(record)
            return
        step = int(found.name.removeprefix("step-")) if found else 0
        self._pace[job["id"]] = (time.time(), step)
        self.store.add_event(job["id"], f"Fine-tuning job resumed from checkpoint at step {step}" if found
                             else "Fine-tuning job started")

    # -- running: follow, then succeed or fail -------------------------------------------------------------------
    def _follow(self, job: dict) -> None:
        if not job["process"]:
            return
        code = self.executor.poll(job["process"])
        job = self._sync_metrics(job)
        if code is None:
            return
        if code == 0 and (Path(job["run_dir"]) / "run.json").is_file():
            return self._finish(job)
        tail = _log_tail(Path(job["run_dir"]).parent / LOG_FILE)
        self._fail(job, JobError("training_failed", f"training exited with code {code}: {tail}"))

    def _sync_metrics(self, job: dict) -> dict:
        """metrics.jsonl -> metrics events (each step once, also across resumes) and epoch checkpoints."""
        from tuneforge.train.checkpoint import step_checkpoints

        run_dir = Path(job["run_dir"])
        path = run_dir / "metrics.jsonl"
        if not path.is_file():
            return job
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # the line being written right now
        total, last = job["total_steps"], job["last_step"]
        evals = {r["step"]: r["eval_loss"] for r in records if "eval_loss" in r and "epoch_end" not in r}
        for r in records:
            if "loss" in r and r["step"] > last:
                last = r["step"]
                data = {"step": r["step"], "train_loss": r["loss"], "total_steps": total}
                if r.get("token_accuracy") is not None:
                    data["train_mean_token_accuracy"] = r["token_accuracy"]
                data.update({k: r[k] for k in ("tokens_per_s", "trained_tokens") if r.get(k) is not None})  # live speed
                if evals.get(r["step"]) is not None:
                    data["valid_loss"] = evals[r["step"]]
                message = f"Step {r['step']}/{total}: training loss={r['loss']:.4f}"
                self.store.add_step_event(job["id"], r["step"], message, data)
            elif "epoch_end" in r:
                folder = run_dir / "checkpoints" / f"step-{r['step']}"
                if folder not in step_checkpoints(run_dir):
                    continue  # written right after this record; the next tick records it
                metrics = {"step": r["step"], "train_loss": r["train_loss"]}
                if r.get("eval_loss") is not None:
                    metrics["valid_loss"] = metrics["full_valid_loss"] = r["eval_loss"]
                if self.store.add_checkpoint(job["id"], r["step"], r["epoch_end"], str(folder), metrics):
                    self.store.add_event(job["id"], f"Checkpoint created at step {r['step']} (epoch {r['epoch_end']})")
                    self.store.add_event(job["id"], f"Epoch {r['epoch_end']}: training loss={r['train_loss']:.4f}"
                                         + (f", full validation loss={r['eval_loss']:.4f}"
                                            if r.get("eval_loss") is not None else ""), type="metrics", data=metrics)
        update = {"last_step": last}
        pace = self._pace.get(job["id"])
        if pace and last > pace[1] and total:
            per_step = (time.time() - pace[0]) / (last - pace[1])
            update["estimated_finish"] = int(time.time() + per_step * max(total - last, 0))
        return self.store.update_job(job["id"], **update)

    def _finish(self, job: dict) -> None:
        """Register the adapter with its lineage, serve it, write the results file, mark the job succeeded."""
        from tuneforge.registry import owners
        from tuneforge.registry.store import Registry

        run_dir = Path(job["run_dir"])
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        model_id = fine_tuned_model_id(job)
        if self.store.get_model(model_id) is None:
            lineage = {"job": job["id"], "owner": job["owner"], "fine_tuned_model": model_id,
                       "training_file": _file_lineage(self.store, job["training_file"]),
                       "validation_file": _file_lineage(self.store, job["validation_file"])}
            (run_dir / "job.json").write_text(json.dumps(lineage, indent=2) + "\n", encoding="utf-8")
            registry = Registry()
            try:
                variant = registry.register(run_dir, _registry_name(job["id"]))
            finally:
                registry.close()
            owners.claim(variant.name, job["owner"])  # the name, and its retrained versions, are the owner's
            if self.catalog is not None:
                self.catalog.add(model_id, run_dir, owner=job["owner"], variant_ref=variant.ref)
            self.store.add_model(id=model_id, job_id=job["id"], owner=job["owner"], run_path=str(run_dir),
                                 variant_ref=variant.ref, created_at=now())
            self.store.add_event(job["id"], f"New fine-tuned model created: {model_id}")
        results = self.files.save_bytes(job["owner"], "step_metrics.csv", results_csv(run_dir), "fine-tune-results")
        done = self.store.transition(job["id"], ("running",), status="succeeded", fine_tuned_model=model_id,
                                     event=("The job has successfully completed", "info"),
                                     finished_at=now(), estimated_finish=None, process=None,
                                     trained_tokens=run.get("trained_tokens"), result_files=[results["id"]])
        if done is not None:
            self._release_files(job)
        self._pace.pop(job["id"], None)


def _file_lineage(store: JobStore, file_id: str | None) -> dict | None:
    record = store.any_file(file_id) if file_id else None
    return None if record is None else {"id": file_id, "filename": record["filename"], "sha256": record["sha256"]}


def results_csv(run_dir: Path) -> bytes:
    """The per-step metrics as OpenAI's results file (step_metrics.csv): one row per step, empty cells for the
    metrics tuneforge does not measure (validation token accuracy)."""
    rows: dict[int, dict] = {}
    path = Path(run_dir) / "metrics.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        r = json.loads(line)
        row = rows.setdefault(r["step"], {"step": r["step"]})
        if "loss" in r:
            row["train_loss"] = r["loss"]
            row["train_accuracy"] = r.get("token_accuracy", "")
        if r.get("eval_loss") is not None:
            row["valid_loss"] = r["eval_loss"]
    out = io.StringIO()
    writer = csv.DictWriter(out, RESULTS_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for step in sorted(rows):
        writer.writerow(rows[step])
    return out.getvalue().encode("utf-8")


def _log_tail(path: Path, n: int = 400) -> str:
    try:
        lines = [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return "(no log)"
    errors = [x for x in lines if x.startswith("error:")]
    return (errors[-1] if errors else (lines[-1] if lines else "(empty log)"))[:n]
