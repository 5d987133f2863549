"""An extraction variant behind `tuneforge serve`, asked as a client would (the official openai client, no
response_format), against the same requests with `response_format: {"type": "text"}` (the model's free text):
valid-JSON rate with exactly the learned keys, exact-object match and field accuracy against the references.

    python benchmarks/serve_extraction.py --model RUN_DIR --data examples/invoice-extraction/test.jsonl

With --eval-json EVAL (the eval.json of `tuneforge eval` on the same rows), it also counts the rows where the
server's default answer is the same object as the one the evaluation scored for the variant: `predict`,
`eval` and the server decode under one grammar (models/answer_grammar.py), so the rows that differ are the ones
where batching moved a near-tie of the greedy choice.

The server is started here as a subprocess on a free port (TUNEFORGE_HOME as in the environment); requests are
sent --concurrency at a time, so they share the engine's batches as real traffic does.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _score(texts: list[str], refs: list[dict], keys: list[str]) -> dict:
    valid = exact = fields = 0
    for text, ref in zip(texts, refs):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or list(obj) != keys:
            continue
        valid += 1
        exact += obj == ref
        fields += sum(obj.get(k) == ref.get(k) for k in keys)
    n = len(texts)
    return {"valid_json": valid / n, "exact": exact / n, "field_acc": fields / (n * len(keys))}


def _agreement(texts: list[str], data: str, eval_json: str, system: str) -> None:
    """Rows where the served object equals the evaluated one (values compared as eval scores them)."""
    from tuneforge.data.answer_schema import parse_json_object
    from tuneforge.data.formats import load_examples
    from tuneforge.eval.tasks.extraction import normalise_value

    examples = json.loads(Path(eval_json).read_text(encoding="utf-8"))["examples"]
    by_input = {x["input"]: x["predictions"][system] for x in examples}
    rows, _ = load_examples(data)  # eval.json names each example by its Example.user_text
    same, differ = 0, []
    for line, (text, row) in enumerate(zip(texts, rows), start=1):
        user = row.user_text
        if user not in by_input:
            raise SystemExit(f"{eval_json} has no example with the input of data row {line}")
        served, evaluated = parse_json_object(text) or {}, parse_json_object(by_input[user]) or {}
        fields = {k: (evaluated.get(k), served.get(k)) for k in {**evaluated, **served}
                  if normalise_value(evaluated.get(k)) != normalise_value(served.get(k))}
        if list(served) == list(evaluated) and not fields:
            same += 1
        else:
            differ.append((line, fields))
    print(f"served = evaluated ({system}) on {same} of {len(texts)} rows")
    for line, fields in differ:
        print(f"  row {line}: (evaluated, served) {fields}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an extraction run folder")
    ap.add_argument("--data", required=True, help="chat JSONL whose last message is the reference answer")
    ap.add_argument("--limit", type=int, default=0, help="first N rows only (0: all)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=None, help="default: none sent (the server's default)")
    ap.add_argument("--text-rows", type=int, default=0,
                    help="ask the free-text comparison on the first N rows only (0: all; free text runs long)")
    ap.add_argument("--eval-json", help="eval.json of the same rows: compare the server's answers with its "
                    "'fine-tuned' system's, row by row")
    ap.add_argument("--eval-system", default="fine-tuned", help="which system of --eval-json to compare with")
    args = ap.parse_args()

    import openai

    from serve_process import start_server, stop  # beside this script

    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    keys = json.loads((Path(args.model) / "run.json").read_text())["data"]["answer_schema"]["keys"]
    refs = [json.loads(r["messages"][-1]["content"]) for r in rows]
    proc, url = start_server(["--model", args.model, "--max-batch-size", str(args.concurrency), "--local-only"],
                             {**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="local", max_retries=0, timeout=600)
        model = Path(args.model).resolve().name  # a run folder is served under its folder's name
        print(f"model {model}, {len(rows)} rows, keys {keys}")
        for mode, extra in (("default (no response_format)", {}), ("response_format text", {"response_format":
                                                                                           {"type": "text"}})):
            def ask(row, extra=extra):
                kw = {"max_tokens": args.max_tokens} if args.max_tokens else {}
                done = client.chat.completions.create(model=model, messages=row["messages"][:-1], temperature=0,
                                                      **kw, **extra)
                return done.choices[0].message.content, done.choices[0].finish_reason

            asked = rows[: args.text_rows] if extra and args.text_rows else rows
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                answers = list(pool.map(ask, asked))
            took = time.perf_counter() - t0
            s = _score([a for a, _ in answers], refs[: len(asked)], keys)
            cut = sum(f == "length" for _, f in answers)
            print(f"{mode:30s} {len(asked):3d} rows  valid JSON {s['valid_json']:.1%}  exact {s['exact']:.1%}  fields "
                  f"{s['field_acc']:.1%}  cut by max_tokens {cut}  {took:.1f}s")
            if args.eval_json and not extra:
                _agreement([a for a, _ in answers], args.data, args.eval_json, args.eval_system)
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
