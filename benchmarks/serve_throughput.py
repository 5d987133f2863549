"""Throughput of `tuneforge serve` under 1, 8 and 32 concurrent clients vs sequential `model.generate`.

Both sides use the bundled base model, the same prompts (a demo task's held-out inputs with its system prompt),
greedy decoding and the same answer cap. The baseline is measured first in this process; then a real server process is started and
clients (threads with httpx, one request at a time each) hammer it. Prints requests/s, tokens/s, p50/p95
latency, errors and the ratio of tokens/s to the baseline. Target: >= 3x the baseline's tokens/s at 8 clients.

    .venv/bin/python benchmarks/serve_throughput.py                # ~2-3 minutes on a 2-core CPU
    .venv/bin/python benchmarks/serve_throughput.py --threads 1     # on a busy shared machine
    .venv/bin/python benchmarks/serve_throughput.py --clients 1 8 --requests-per-client 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


TASKS = {"classification": "invoice-categories", "extraction": "invoice-extraction"}


def prompts(task: str, n: int) -> list[list[dict]]:
    rows = [json.loads(line) for line in (ROOT / "examples" / TASKS[task] / "test.jsonl").read_text().splitlines()]
    out = []
    for r in rows[:n]:
        msgs = [m for m in r["messages"] if m["role"] != "assistant"]
        out.append(msgs)
    while len(out) < n:
        out += out[: n - len(out)]
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def sequential_baseline(model_name: str, msgs: list[list[dict]], max_tokens: int) -> dict:
    import torch

    from tuneforge.models.load import load_model, load_tokenizer, stop_token_ids
    from tuneforge.models.resolve import resolve_base
    from tuneforge.chat_encoding import encode_prompt

    path = resolve_base(model_name).path
    tok, model = load_tokenizer(path), load_model(path).eval()
    stops = stop_token_ids(tok, model)
    latencies, tokens = [], 0
    start = time.perf_counter()
    with torch.inference_mode():
        for m in msgs:
            ids = torch.tensor([encode_prompt(tok, m)])
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                 do_sample=False, eos_token_id=stops, pad_token_id=tok.pad_token_id)
            latencies.append(time.perf_counter() - t0)
            new = out[0, ids.shape[1]:].tolist()
            tokens += next((k for k, t in enumerate(new) if t in stops), len(new))
    wall = time.perf_counter() - start
    return {"requests": len(msgs), "errors": 0, "wall_s": wall, "tokens": tokens, "latencies": latencies}


def start_tuneforge(model_name: str, max_batch: int, home: str, threads: int):
    """(process, url) of the server under test."""
    from serve_process import start_server  # beside this script

    # The server gets the same number of torch threads as the baseline, so the comparison is like for like.
    env = {**os.environ, "TUNEFORGE_HOME": home, "OMP_NUM_THREADS": str(threads)}
    return start_server(["--model", model_name, "--local-only", "--max-batch-size", str(max_batch), "--max-queue",
                         "256", "--no-log-traffic"], env, timeout=300)


def load_test(url: str, model_id: str, msgs: list[list[dict]], clients: int, per_client: int, max_tokens: int) -> dict:
    import httpx

    def client(c: int):
        results = []
        with httpx.Client(timeout=600) as http:
            for k in range(per_client):
                body = {"model": model_id, "messages": msgs[(c * per_client + k) % len(msgs)], "temperature": 0,
                        "max_tokens": max_tokens}
                t0 = time.perf_counter()
                r = http.post(url + "/v1/chat/completions", json=body)
                dt = time.perf_counter() - t0
                ok = r.status_code == 200
                results.append((ok, dt, r.json()["usage"]["completion_tokens"] if ok else 0))
        return results

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        all_results = [x for rs in pool.map(client, range(clients)) for x in rs]
    wall = time.perf_counter() - start
    return {"requests": len(all_results), "errors": sum(not ok for ok, _, _ in all_results), "wall_s": wall,
            "tokens": sum(t for _, _, t in all_results), "latencies": [dt for ok, dt, _ in all_results if ok]}


def row(label: str, r: dict, base_tps: float | None) -> str:
    tps = r["tokens"] / r["wall_s"]
    lat = r["latencies"] or [float("nan")]
    ratio = f"{tps / base_tps:5.2f}x" if base_tps else "  1.00x"
    return (f"{label:<26} {r['requests']:>5} {r['errors']:>6} {r['requests'] / r['wall_s']:>8.2f} {tps:>9.1f} "
            f"{statistics.median(lat):>8.2f} {percentile(lat, 0.95):>8.2f} {ratio:>8}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--task", choices=sorted(TASKS), default="classification",
                    help="whose demo prompts to send (each has one system prompt shared by its requests)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests-per-client", type=int, default=None,
                    help="default: 4 requests for 1 client, 4 each for 8, 2 each for 32 (enough for a steady state)")
    ap.add_argument("--baseline-requests", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both sides (default: torch's)")
    ap.add_argument("--max-batch", type=int, default=32)
    args = ap.parse_args()
    import torch

    from serve_process import stop  # beside this script

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    msgs = prompts(args.task, 64)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), model {args.model}, {args.task} prompts, max_tokens {args.max_tokens}, greedy")
    base = sequential_baseline(args.model, msgs[: args.baseline_requests], args.max_tokens)
    base_tps = base["tokens"] / base["wall_s"]
    header = f"{'':<26} {'reqs':>5} {'errors':>6} {'req/s':>8} {'tok/s':>9} {'p50 s':>8} {'p95 s':>8} {'vs seq':>8}"
    print(header)
    print(row("sequential model.generate", base, None))
    with tempfile.TemporaryDirectory() as home:
        proc, url = start_tuneforge(args.model, args.max_batch, home, threads)
        try:
            load_test(url, args.model, msgs, 1, 1, 4)  # warm-up
            for c in args.clients:
                per = args.requests_per_client or {1: 4, 8: 4}.get(c, 2)
                r = load_test(url, args.model, msgs, c, per, args.max_tokens)
                print(row(f"server, {c} client(s)", r, base_tps), flush=True)
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
