"""How exported GGUF files answer in llama.cpp against the variant, file by file, with the logit margin of every
differing answer: the check of `tuneforge models export --check` (export/llama_cpp_check.py), run on chosen files
of an existing export so that each llama.cpp pass over a test set fits in one sitting on a shared machine.

    tuneforge models export runs/invoice --format gguf --quantize f16,q8_0 --parity-samples 0 \
        --name invoice-categories --out exports/invoice-gguf
    python benchmarks/export_agreement.py runs/invoice exports/invoice-gguf \
        --data examples/invoice-categories/test.jsonl --types f32,f16 --json f32-f16.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the variant's run folder")
    parser.add_argument("folder", help="a GGUF export folder")
    parser.add_argument("--data", required=True, help="evaluation file (JSONL)")
    parser.add_argument("--types", default="f32", help="comma-separated GGUF types to check (f32,f16,q8_0,...)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--json", help="write the check here as JSON")
    args = parser.parse_args()

    from tuneforge.export.export import gguf_files
    from tuneforge.export.llama_cpp_check import check_gguf_files
    from tuneforge.export.parity import sample_prompts
    from tuneforge.run_record import read_run

    files = gguf_files(Path(args.folder))
    wanted = [t.strip() for t in args.types.split(",") if t.strip()]
    missing = [t for t in wanted if t not in files]
    if missing:
        raise SystemExit(f"{args.folder}: no GGUF file of type {', '.join(missing)} (has {', '.join(files)})")
    prompts = sample_prompts(read_run(args.run), 0, args.data)
    started = time.time()
    result = check_gguf_files({t: files[t] for t in wanted}, args.run, prompts, args.data, args.max_new_tokens)
    print("\n".join(result.lines()))
    print(f"passed: {result.passed} ({time.time() - started:.0f} s for {len(prompts)} lines)")
    if args.json:
        body = {"data": args.data, "passed": result.passed,
                "files": [{"type": f.type, "answers": f.answers, "answers_identical": f.answers_identical,
                           "probes_identical": f.probes_identical, "prompt_ids_identical": f.prompt_ids_identical,
                           "mismatches": f.mismatches} for f in result.files]}
        Path(args.json).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
