"""The fine-tuning service a server holds: the job store, the file store and the worker, and the OpenAI objects
built from their rows. The HTTP routes (serve/files_api.py, serve/jobs_api.py) call into it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from tuneforge.jobs.files import DEFAULT_MAX_FILE_BYTES, FileStore
from tuneforge.jobs.spec import CreateJob, multiplier, shown_model, shown_requested, train_values
from tuneforge.jobs.store import JobStore, new_id, now
from tuneforge.jobs.worker import Worker
from tuneforge.paths import home


class JobsService:
    def __init__(self, catalog=None, max_running: int = 1, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 executor=None, poll_s: float = 0.5, log=print):
        self.catalog = catalog
        self.store = JobStore()
        self.files = FileStore(self.store, max_bytes=max_file_bytes)
        self.worker = Worker(self.store, self.files, catalog, executor, max_running, poll_s, log)
        self.log = log

    def start(self) -> "JobsService":
        """Serve the fine-tuned models of earlier jobs again, then recover and start the queue."""
        if self.catalog is not None:
            for model in self.store.live_models():
                if model["variant_ref"] in self.catalog.entries:  # loaded as a public registry variant: hide it
                    self.catalog.remove(model["variant_ref"])
                if model["id"] not in self.catalog.entries:
                    try:
                        self.catalog.add(model["id"], model["run_path"], owner=model["owner"],
                                         variant_ref=model["variant_ref"])
                    except (OSError, ValueError) as err:
                        self.log(f"cannot serve {model['id']}: {err}")
        self.worker.start()
        return self

    def close(self) -> None:
        self.worker.close()
        self.store.close()

    def body_limits(self) -> dict[str, int]:
        """Request-size limits by path prefix: uploads may be larger than other requests (multipart overhead)."""
        return {"/v1/files": self.files.max_bytes + 64 * 1024}

    # -- jobs ----------------------------------------------------------------------------------------------------
    def base_for(self, model: str) -> str:
        """The base to train for a requested `model`: a base this server serves (by its served id), else the name
        as `tuneforge train --base` takes it (a bundled name, a local folder or a hub id)."""
        if self.catalog is not None:
            entry = self.catalog.entries.get(model)
            if entry is not None and entry.kind == "base":
                return entry.base_id
        return model

    def create_job(self, owner: str, body: CreateJob) -> dict:
        """Insert a job in `validating_files`; the worker checks its files next. SpecError for a bad request."""
        job_id = new_id("ftjob-")
        seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
        folder = home() / "jobs" / job_id
        data = self.files.path_of(self.store.any_file(body.training_file))
        evals = self.files.path_of(self.store.any_file(body.validation_file)) if body.validation_file else None
        values = train_values(body, self.base_for(body.model), str(data), str(evals) if evals else None,
                              str(folder / "run"), seed)
        request = {"body": body.model_dump(exclude_none=True), "train_values": values,
                   "lr_multiplier": multiplier(body)}
        job = self.store.add_job(id=job_id, owner=owner, created_at=now(), model=body.model, base=values["base"],
                                 training_file=body.training_file, validation_file=body.validation_file,
                                 suffix=body.suffix, seed=seed, metadata=body.metadata, request=request,
                                 hyperparameters=shown_requested(body), status="validating_files",
                                 run_dir=str(folder / "run"))
        self.store.add_event(job_id, f"Validating training file: {body.training_file}"
                             + (f" and validation file: {body.validation_file}" if body.validation_file else ""))
        self.worker.wake()
        return job

    def delete_model(self, model: dict) -> None:
        """Stop serving a fine-tuned model and archive its registry variant (so no restart serves it again)."""
        from tuneforge.registry.store import Registry

        self.store.delete_model(model["id"])
        if self.catalog is not None and model["id"] in self.catalog.entries:
            self.catalog.remove(model["id"])
        registry = Registry()
        try:
            variant = registry.find(model["variant_ref"]) if model["variant_ref"] else None
            if variant is not None and variant.stage != "archived":
                registry.archive(variant.ref)
        finally:
            registry.close()

    def checkpoint_exists(self, row: dict) -> bool:
        from tuneforge.train.checkpoint import step_checkpoints

        path = Path(row["path"])
        return path in step_checkpoints(path.parent.parent)  # pruned checkpoints are no longer listed


def job_object(job: dict) -> dict:
    """OpenAI's `fine_tuning.job` object."""
    body = job["request"]["body"]
    kind = (body.get("method") or {}).get("type", "supervised")
    hp = job["hyperparameters"]
    return {
        "id": job["id"], "object": "fine_tuning.job", "created_at": job["created_at"],
        "model": shown_model(job), "organization_id": job["owner"], "status": job["status"],
        "training_file": job["training_file"], "validation_file": job["validation_file"],
        "fine_tuned_model": job["fine_tuned_model"], "finished_at": job["finished_at"],
        "error": job["error"], "hyperparameters": {k: v for k, v in hp.items() if k != "beta"},
        "trained_tokens": job["trained_tokens"], "result_files": job["result_files"], "seed": job["seed"],
        "estimated_finish": job["estimated_finish"] if job["status"] == "running" else None,
        "integrations": [], "metadata": job["metadata"], "user_provided_suffix": job["suffix"],
        "method": {"type": kind, kind: {"hyperparameters": dict(hp)}},
    }


def event_object(event: dict) -> dict:
    return {"id": event["id"], "object": "fine_tuning.job.event", "created_at": event["created_at"],
            "level": event["level"], "message": event["message"], "type": event["type"], "data": event["data"] or {}}


def checkpoint_object(row: dict, job: dict) -> dict:
    return {"id": row["id"], "object": "fine_tuning.job.checkpoint", "created_at": row["created_at"],
            "fine_tuning_job_id": row["job_id"], "step_number": row["step"], "metrics": row["metrics"],
            "fine_tuned_model_checkpoint": f"{job['fine_tuned_model'] or _pending_name(job)}:ckpt-step-{row['step']}"}


def _pending_name(job: dict) -> str:
    from tuneforge.jobs.worker import fine_tuned_model_id

    return fine_tuned_model_id(job)
