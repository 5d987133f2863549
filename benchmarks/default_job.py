"""The web app's default fine-tuning job on the invoice demo, end to end through the jobs API, scored on the test rows.

What the Train page sends when nothing is changed (`tuneforge.variant_type: "auto"`, and since 2026-12-02 `model:
"auto"`), here through the `openai` client against a real `tuneforge serve --model smollm2-135m` on a fresh
TUNEFORGE_HOME: the training file is the invoice demo's train.jsonl less the held-out split a saved dataset version
sets aside (10%, seed 42), which goes as the validation file, as the page sends it. The fine-tuned model then
answers the 108 test rows through chat completions, scored as `tuneforge eval` scores a label
(eval/tasks/classification.py `score_example`: case, quotes and end punctuation do not count).

    python benchmarks/default_job.py --model auto
    python benchmarks/default_job.py --model smollm2-135m            # a base named on the page
    python benchmarks/default_job.py --model smollm2-135m --src OLD   # another checkout's code (a git worktree's src)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="auto", help="the job's model (default auto, the Train page's default)")
    ap.add_argument("--src", default=str(ROOT / "src"), help="the tuneforge sources the server runs")
    ap.add_argument("--out", help="write the result as JSON here too")
    args = ap.parse_args()

    import openai
    from serve_process import start_server, stop  # beside this script

    from tuneforge.data.formats import load_examples
    from tuneforge.data.normalise import normalise_answer
    from tuneforge.eval.tasks.classification import score_example
    from tuneforge.jobs.datasets import held_out_split

    home = Path(tempfile.mkdtemp(prefix="default-job-home-"))
    env = {**os.environ, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": args.src}
    key = subprocess.run([sys.executable, "-m", "tuneforge.cli.main", "keys", "create", "ops"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    server, url = start_server(["--model", "smollm2-135m"], env=env)
    try:
        every, _ = load_examples(ROOT / "examples/invoice-categories/train.jsonl")
        train, held = held_out_split(every)  # what a saved dataset version holds out, sent as the validation file
        client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)
        upload = lambda name, rows: client.files.create(  # noqa: E731
            file=(name, "".join(e.jsonl_line() for e in rows).encode()), purpose="fine-tune")
        started = time.time()
        job = client.fine_tuning.jobs.create(model=args.model, training_file=upload("train.jsonl", train).id,
                                             validation_file=upload("held.jsonl", held).id, seed=42,
                                             extra_body={"tuneforge": {"variant_type": "auto"}})
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(2)
            job = client.fine_tuning.jobs.retrieve(job.id)
        events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data][::-1]
        result = {"model_asked": args.model, "status": job.status, "error": str(job.error), "job_model": job.model,
                  "fine_tuned_model": job.fine_tuned_model, "job_seconds": round(time.time() - started),
                  "chosen": [m for m in events if m.startswith("auto:")]}
        if job.status == "succeeded":
            test, _ = load_examples(ROOT / "examples/invoice-categories/test.jsonl")
            labels = sorted({normalise_answer(e.answer) for e in every})
            right = sum(score_example(client.chat.completions.create(
                model=job.fine_tuned_model, max_tokens=16, temperature=0, messages=e.prompt_messages,
            ).choices[0].message.content or "", e.answer, labels)["correct"] for e in test)
            result.update(test_rows=len(test), right=int(right), accuracy=round(100 * right / len(test), 1))
    finally:
        stop(server)
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
