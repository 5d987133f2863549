"""`tuneforge jobs ...`: fine-tuning jobs on a tuneforge server (local or remote) through OpenAI's fine-tuning API,
with the official openai client, so the same commands drive any server that implements that API."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Fine-tuning jobs on a tuneforge server, through OpenAI's fine-tuning API.",
                  no_args_is_help=True)

TERMINAL = ("succeeded", "failed", "cancelled")
DEFAULT_URL = "http://127.0.0.1:8000/v1"

_URL = typer.Option(None, "--base-url", envvar="TUNEFORGE_BASE_URL",
                    help=f"Server API base URL (env TUNEFORGE_BASE_URL).  [default: {DEFAULT_URL}]")
_KEY = typer.Option(None, "--api-key", envvar="TUNEFORGE_API_KEY",
                    help="API key (env TUNEFORGE_API_KEY, else OPENAI_API_KEY; none needed for --local-only).")


def _client(base_url: str | None, api_key: str | None):
    import openai

    key = api_key or os.environ.get("OPENAI_API_KEY") or "local-only"
    return openai.OpenAI(base_url=base_url or DEFAULT_URL, api_key=key, max_retries=2)


def _fail(err) -> None:
    """The server's answer (an OpenAI API error) is the user's to act on: the CLI's one handler prints it."""
    from tuneforge.errors import UserError

    raise UserError(str(getattr(err, "message", err))) from None


@contextmanager
def _server_errors():
    """Inside it, the server's refusal (an OpenAI API error) becomes the UserError that _fail raises."""
    import openai

    try:
        yield
    except openai.APIError as err:
        _fail(err)


def _file_id(client, ref: str) -> str:
    """A file id as it is, or a local path uploaded with purpose fine-tune."""
    if ref.startswith("file-") and not Path(ref).exists():
        return ref
    path = Path(ref)
    if not path.is_file():
        raise typer.BadParameter(f"{ref}: neither an uploaded file id (file-...) nor a local file")
    with path.open("rb") as fh:
        uploaded = client.files.create(file=(path.name, fh), purpose="fine-tune")
    typer.echo(f"uploaded {path} as {uploaded.id} ({uploaded.bytes} bytes)", err=True)
    return uploaded.id


def _print_event(e) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(e.created_at))
    typer.echo(f"{stamp} {e.level:<5} {e.message}")


def _follow(client, job_id: str, poll_s: float = 1.0):
    """Print events oldest first as they come, until the job ends; return the finished job."""
    shown: set[str] = set()
    while True:
        with _server_errors():
            # The status first, then the events: the server writes a terminal status together with its event, so
            # events read after a terminal status include the last one.
            job = client.fine_tuning.jobs.retrieve(job_id)
            events = list(client.fine_tuning.jobs.list_events(job_id, limit=100))
        for e in reversed(events):
            if e.id not in shown:
                shown.add(e.id)
                _print_event(e)
        if job.status in TERMINAL:
            return job
        time.sleep(poll_s)


@app.command("create", epilog="""\b
Examples:
  tuneforge jobs create train.jsonl --model smollm2-135m --suffix invoices --follow
  tuneforge jobs create file-abc --validation-file held_out.jsonl --epochs 3 --batch-size 8
  tuneforge jobs create pairs.jsonl --method dpo --beta 0.1 --config train.yaml   # YAML: any train option
  TUNEFORGE_BASE_URL=https://tuneforge.example.com/v1 TUNEFORGE_API_KEY=tf-... tuneforge jobs list
""")
def create(
    training_file: str = typer.Argument(..., help="Local data file (uploaded first) or an uploaded file id."),
    model: str = typer.Option("smollm2-135m", help="Base model to fine-tune (as the server names it)."),
    validation_file: Optional[str] = typer.Option(None, help="Held-out data: local file or file id."),
    suffix: Optional[str] = typer.Option(None, help="Added to the fine-tuned model's name."),
    method: str = typer.Option("supervised", help="supervised or dpo."),
    epochs: Optional[int] = typer.Option(None, help="n_epochs (default: auto)."),
    batch_size: Optional[int] = typer.Option(None, help="batch_size (default: auto)."),
    lr_multiplier: Optional[float] = typer.Option(None, help="learning_rate_multiplier (default: auto)."),
    beta: Optional[float] = typer.Option(None, help="DPO beta (default: auto)."),
    seed: Optional[int] = typer.Option(None, help="Seed (default: drawn by the server and recorded)."),
    config: Optional[str] = typer.Option(None, help="YAML of other `tuneforge train` options (lora_r, ...)."),
    follow: bool = typer.Option(False, "--follow", help="Print events until the job ends; exit 1 if it fails."),
    base_url: Optional[str] = _URL,
    api_key: Optional[str] = _KEY,
):
    """Create a fine-tuning job (uploading local files first)."""
    import openai

    from tuneforge.config import ConfigError, load_yaml_values

    client = _client(base_url, api_key)
    hp = {k: v for k, v in {"n_epochs": epochs, "batch_size": batch_size, "learning_rate_multiplier": lr_multiplier,
                            "beta": beta}.items() if v is not None}
    try:
        extra = load_yaml_values(config) if config else None
    except ConfigError as err:
        _fail(err)
    with _server_errors():
        job = client.fine_tuning.jobs.create(
            model=model, training_file=_file_id(client, training_file),
            validation_file=_file_id(client, validation_file) if validation_file else openai.omit,
            suffix=suffix or openai.omit, seed=openai.omit if seed is None else seed,
            method={"type": method, method: {"hyperparameters": hp}},
            extra_body={"tuneforge": extra} if extra else None)
    typer.echo(job.id)
    if follow:
        job = _follow(client, job.id)
        if job.status != "succeeded":
            _fail(f"job {job.status}: {job.error.message if job.error else ''}")
        typer.echo(f"fine-tuned model: {job.fine_tuned_model}")


@app.command("list", epilog="Example:  tuneforge jobs list --limit 5")
def list_jobs(limit: int = typer.Option(20, help="Most jobs shown, newest first."),
              base_url: Optional[str] = _URL, api_key: Optional[str] = _KEY):
    """List your fine-tuning jobs."""
    with _server_errors():
        page = _client(base_url, api_key).fine_tuning.jobs.list(limit=limit)
    for job in page.data:
        typer.echo(f"{job.id}\t{job.status}\t{job.model}\t{job.fine_tuned_model or '-'}")


@app.command("get", epilog="Example:  tuneforge jobs get ftjob-abc")
def get(job_id: str, base_url: Optional[str] = _URL, api_key: Optional[str] = _KEY):
    """A job as JSON (status, hyperparameters, error, fine_tuned_model, result files)."""
    with _server_errors():
        job = _client(base_url, api_key).fine_tuning.jobs.retrieve(job_id)
    typer.echo(json.dumps(job.model_dump(), indent=2))


@app.command("events", epilog="Example:  tuneforge jobs events ftjob-abc --follow")
def events(job_id: str, follow: bool = typer.Option(False, "--follow", help="Wait for new events until the end."),
           base_url: Optional[str] = _URL, api_key: Optional[str] = _KEY):
    """A job's events, oldest first."""
    client = _client(base_url, api_key)
    if follow:
        job = _follow(client, job_id)
        sys.exit(0 if job.status == "succeeded" else 1)
    with _server_errors():
        for e in reversed(list(client.fine_tuning.jobs.list_events(job_id, limit=100))):
            _print_event(e)


@app.command("cancel", epilog="Example:  tuneforge jobs cancel ftjob-abc")
def cancel(job_id: str, base_url: Optional[str] = _URL, api_key: Optional[str] = _KEY):
    """Cancel a job: its training process is stopped at once."""
    with _server_errors():
        job = _client(base_url, api_key).fine_tuning.jobs.cancel(job_id)
    typer.echo(f"{job.id}\t{job.status}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs")
