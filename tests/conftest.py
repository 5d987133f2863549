"""Shared fixtures: every test gets its own TUNEFORGE_HOME; converted base models are cached once per session."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

LABELS = ["software", "travel", "hardware"]
SYSTEM = "Categorise the invoice line. Answer with the category only."
_LINES = {
    "software": ["adobe licence", "microsoft 365 subscription", "github team plan", "slack annual", "jira cloud"],
    "travel": ["train ticket berlin", "klm flight amsterdam", "hotel room munich", "taxi airport", "rail pass"],
    "hardware": ["dell laptop", "lenovo monitor", "usb keyboard", "apple macbook", "logitech mouse"],
}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_HOME", str(tmp_path_factory.mktemp("home")))
    # One conversion of the bundled model for the whole session, shared by every per-test home.
    cache = os.environ.get("TUNEFORGE_TEST_CACHE") or str(tmp_path_factory.getbasetemp() / "shared-cache")
    monkeypatch.setenv("TUNEFORGE_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tuneforge.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


# ChatML with Hermes tool calling: tools listed in the system turn, calls as <tool_call>{json}</tool_call>,
# tool results as a user turn holding <tool_response>.
HERMES_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}

{% endif %}You may call these functions:
<tools>
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}</tools>
Answer a call as <tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif messages[0]['role'] == 'system' %}<|im_start|>system
{{ messages[0]['content'] }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message['role'] == 'system' %}
{%- elif message['role'] == 'assistant' and message.tool_calls %}<|im_start|>assistant
{% if message['content'] %}{{ message['content'] }}
{% endif %}{% for call in message.tool_calls %}<tool_call>
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% elif message['role'] == 'tool' %}<|im_start|>user
<tool_response>
{{ message['content'] }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


@pytest.fixture(scope="session")
def tools_model_dir(tmp_path_factory) -> Path:
    """The tiny model with a Hermes tool-calling chat template (the way Qwen's renders `tools`)."""
    from transformers import AutoTokenizer

    from tuneforge.models.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-tools"))
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = HERMES_TEMPLATE
    tok.save_pretrained(folder)
    # Tool definitions are long in the tiny 400-token vocabulary: give the prompt room (rope needs no training).
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 4096}))
    return folder


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, for a server started by a test."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(env, *args) -> str:
    """`tuneforge ARGS` in a subprocess with `env`, as a user runs it; its stdout, or a failure with its stderr."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "tuneforge.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until_healthy(proc, url: str, log_text, timeout: float = 180) -> None:
    """Wait for a `tuneforge serve` subprocess to answer /health; fail with its log if it exits or never does."""
    import time

    import httpx

    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{log_text()}")
        time.sleep(0.2)


def serve_env(home: Path) -> dict:
    """The environment of a CLI command or server given its own TUNEFORGE_HOME, offline. PYTHONUNBUFFERED is
    dropped: a user's shell does not set it (this machine's does), and the server must print without it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1"}


@contextmanager
def served(home: Path, *serve_args: str, env: dict | None = None):
    """`tuneforge serve ARGS` as a user starts it: a subprocess on a free port, its output in home/server.log.
    Yields (process, url) once /health answers; the server is stopped on the way out."""
    import subprocess
    import sys

    port = free_port()
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tuneforge.cli.main", "serve", *serve_args, "--port", str(port)],
                                env=env or serve_env(home), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(proc, url, log_path.read_text)
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def tiny_lora_config(data, base, out, **overrides):
    """A quick LoRA run of the generative loop on a tiny model (the loop with step checkpoints and --resume; label
    data would default to a classifier): fp32, no trackers, a fifth held out; `overrides` change any setting."""
    from tuneforge.config import TrainConfig

    args = dict(data=str(data), base=str(base), out=str(out), variant_type="generative", epochs=1, batch_size=4,
                lr=5e-3, lora_r=4, eval_split=0.2, progress=False, precision="fp32", report_to="none")
    return TrainConfig(**{**args, **overrides})


def answer_logprob(model, tokenizer, messages: list[dict]) -> tuple[float, int]:
    """(summed log-probability of the answer tokens, their number) of a conversation, by one plain forward pass:
    an independent reference for what the trainers compute."""
    import torch

    from tuneforge.chat_encoding import IGNORE_INDEX, encode_conversation

    e = encode_conversation(tokenizer, messages, 512)
    labels = torch.tensor(e.labels[1:])
    with torch.inference_mode():
        logp = torch.log_softmax(model(torch.tensor([e.input_ids])).logits[0, :-1].float(), -1)
    keep = labels != IGNORE_INDEX
    return float(logp[keep].gather(1, labels[keep, None]).sum()), int(keep.sum())


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_row(user: str, answer: str, system: str | None = SYSTEM) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return {"messages": msgs}


@pytest.fixture
def label_data(tmp_path) -> Path:
    rows = [chat_row(text, label) for label, texts in _LINES.items() for text in texts]
    return write_jsonl(tmp_path / "labels.jsonl", rows)


@pytest.fixture
def one_torch_thread():
    """Tiny-model training on a shared 2-core machine: one thread avoids OpenMP spin-waits that cost more than the
    math (a 64x32x400 matmul took 4 ms with two contended threads, 0.09 ms with one)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_variants(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    """Two LoRA run folders on the tiny model with different weights; `alpha` has a system prompt."""
    from tuneforge.models.tiny_variant import build_tiny_variant

    root = tmp_path_factory.mktemp("variants")
    data = write_jsonl(root / "data.jsonl", [chat_row(t, label) for label, texts in _LINES.items() for t in texts])
    return {
        "alpha": build_tiny_variant(root / "alpha", tiny_model_dir, seed=1, system_prompt=SYSTEM, data_path=str(data)),
        "beta": build_tiny_variant(root / "beta", tiny_model_dir, seed=2, data_path=str(data)),
    }


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    """A tiny random BERT sentence encoder with its WordPiece tokenizer (the packaged encoder's stand-in)."""
    from tuneforge.models.tiny import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def extraction_run(tiny_model_dir, tmp_path_factory) -> Path:
    """An extraction variant on the tiny model: JSON answers with keys supplier (string), total (number) and
    currency (string), recorded in its run.json as `data.answer_schema`. A LoRA adapter, as the tests that serve
    and export it beside the base expect (with no method, train would fine-tune the tiny base whole)."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    d = tmp_path_factory.mktemp("extract")
    answers = [{"supplier": f"Firma {i} GmbH", "total": 100 + i, "currency": "EUR"} for i in range(8)]
    data = write_jsonl(d / "train.jsonl", [chat_row(f"Rechnung von Firma {i} GmbH, {100 + i} EUR", json.dumps(a))
                                           for i, a in enumerate(answers)])
    return train(TrainConfig(data=str(data), base=str(tiny_model_dir), out=str(d / "run"), epochs=1, batch_size=4,
                             eval_split=0.0, progress=False, method="lora"), log=lambda *_: None)


def train_label_variant(folder: Path, base, **settings) -> tuple[Path, list[str]]:
    """A classification variant of the invoice lines (each twice, a fifth held out) on `base`, trained into
    folder/run with no trackers; `settings` change any TrainConfig field. Returns (run folder, logged lines)."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    data = write_jsonl(folder / "labels.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts] * 2)
    notes: list[str] = []
    cfg = TrainConfig(**{**dict(data=str(data), base=str(base), out=str(folder / "run"), epochs=6, lr=5e-3,
                                eval_split=0.2, progress=False, report_to="none"), **settings})
    return train(cfg, log=notes.append), notes


@contextmanager
def served_in_process(*run_dirs):
    """Run folders served by the app in-process, with the real openai client over it (TestClient is an
    httpx.Client): yields (client, catalog); the catalog is closed on the way out."""
    import openai
    from fastapi.testclient import TestClient

    from tuneforge.serve.app import create_app
    from tuneforge.serve.catalog import Catalog

    catalog = Catalog.load([str(d) for d in run_dirs])
    try:
        yield openai.OpenAI(base_url="http://testserver/v1", api_key="x", max_retries=0,
                            http_client=TestClient(create_app(catalog))), catalog
    finally:
        catalog.close()


def ask_with_logprobs(client, model: str, text: str, top_logprobs: int):
    """One chat completion for the invoice line `text` (after the task's system prompt), asking for logprobs."""
    return client.chat.completions.create(
        model=model, max_tokens=5, logprobs=True, top_logprobs=top_logprobs,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}])


def register_variant(run, name: str, eval_path=None, owner: str | None = None):
    """Register run folder `run` as a version of `name` in the test home's registry, owned by `owner` if given
    (as a finished job's name is)."""
    from tuneforge.registry import owners
    from tuneforge.registry.store import Registry

    registry = Registry()
    try:
        v = registry.register(run, name, eval_path)
    finally:
        registry.close()
    if owner:
        owners.claim(name, owner)
    return v


def write_eval(path: Path, tuned: float, baseline: float, data: str = "/data/test.jsonl", n: int = 20) -> Path:
    """An eval.json as eval/compare.py writes it: a classification task on `n` shared inputs, the fine-tuned
    variant right on a `tuned` share of them and the zero-shot baseline on a `baseline` share (the first ones, so
    the two overlap as much as they can: the paired test sees every disagreement)."""
    from tuneforge.eval.eval_file import FORMAT
    from tuneforge.eval.tasks import classification

    labels = ["x", "y"]
    def rows(share):
        return [classification.score_example("x" if i < round(share * n) else "y", "x", labels) for i in range(n)]

    scored = {"fine-tuned": rows(tuned), "base zero-shot": rows(baseline)}
    kinds = {"fine-tuned": "variant", "base zero-shot": "zero-shot"}
    path.write_text(json.dumps({
        "format": FORMAT, "data": data, "task": "classification", "headline_metrics": ["accuracy"],
        "task_spec": {"type": "classification", "labels": labels},
        "systems": {name: {"kind": kinds[name], "n": n, "metrics": classification.headline(r, labels),
                           "latency_p50_s": 0.1} for name, r in scored.items()},
        "examples": [{"input": f"line {i}", "scores": {name: r[i] for name, r in scored.items()},
                      "timing": {name: {"latency_s": 0.1} for name in scored}} for i in range(n)],
    }))
    return path


class FakeOpenAI:
    """A small OpenAI-compatible server on 127.0.0.1 (chat completions only). `respond(messages, model)` gives
    the answer; usage counts whitespace-separated words, so tests can compute token costs by hand."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.respond = lambda messages, model: "ok"
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                text = fake.respond(body["messages"], body["model"])
                prompt_words = sum(len(m["content"].split()) for m in body["messages"])
                payload = json.dumps({
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(text.split()),
                              "total_tokens": prompt_words + len(text.split())},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai():
    server = FakeOpenAI()
    yield server
    server.close()
