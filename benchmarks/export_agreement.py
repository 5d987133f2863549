"""How exported GGUF files answer in llama.cpp against the variant, file by file, with the logit margin of every
differing answer: the check of `tuneforge models export --check` (export/llama_cpp_check.py), run on chosen files
of an existing export so that each llama.cpp pass over a test set fits in one sitting on a shared machine.

    tuneforge models export runs/invoice --format gguf --quantize f16,q8_0 --parity-samples 0 \
        --name invoice-categories --out exports/invoice-gguf
    python benchmarks/export_agreement.py runs/invoice exports/invoice-gguf \
        --data examples/invoice-categories/test.jsonl --types f32,f16 --json f32-f16.json

`--deviation` measures instead how far each export's logits are from the variant's, without greedy decoding:
every line's prompt and the variant's own answer through both (teacher forcing), the largest |logit difference|
along the answer, against the variant's closest call on that line (its smallest top-1 over top-2 gap). A line
whose gap is below the export's deviation is one rounding can flip; a real difference (tokenizer, template,
RoPE, norms, tied embeddings) shows as deviations of whole logits on every line.

    python benchmarks/export_agreement.py runs/invoice exports/invoice-gguf --types f32,f16,q8_0 \
        --merged exports/invoice-merged --merged exports/invoice-merged-bf16 \
        --data examples/invoice-categories/test.jsonl --deviation
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
    parser.add_argument("--deviation", action="store_true", help="logit deviations instead of greedy answers")
    parser.add_argument("--merged", action="append", default=[], help="merged export folders (--deviation)")
    parser.add_argument("--kv-cache", choices=("f16", "f32"), default="f32",
                        help="llama.cpp's KV cache type (f32, as `export --check` judges the file; f16 is llama.cpp's "
                             "own default, which adds its rounding)")
    args = parser.parse_args()
    if args.deviation:
        return deviations(args)

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
    result = check_gguf_files({t: files[t] for t in wanted}, args.run, prompts, args.data, args.max_new_tokens,
                              kv_cache=args.kv_cache)
    print(f"llama.cpp KV cache: {args.kv_cache}")
    print("\n".join(result.lines()))
    print(f"passed: {result.passed} ({time.time() - started:.0f} s for {len(prompts)} lines)")
    if args.json:
        body = {"data": args.data, "passed": result.passed,
                "files": [{"type": f.type, "answers": f.answers, "answers_identical": f.answers_identical,
                           "probes_identical": f.probes_identical, "prompt_ids_identical": f.prompt_ids_identical,
                           "mismatches": f.mismatches} for f in result.files]}
        Path(args.json).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def deviations(args) -> None:
    import numpy as np

    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.eval.generate import generate_batch
    from tuneforge.export.divergence import llama_cpp_logits, transformers_logits
    from tuneforge.export.export import gguf_files
    from tuneforge.export.llama_cpp_check import _LlamaChat, _open
    from tuneforge.export.parity import sample_prompts, without_trained_system
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(args.run)
    prompts = sample_prompts(loaded.run, 0, args.data)
    bare = without_trained_system(prompts, loaded.default_system_prompt)
    paths = [g.ids for g in generate_batch(loaded.model, loaded.tokenizer, prompts, args.max_new_tokens)]
    full = [encode_prompt(loaded.tokenizer, p) for p in prompts]
    variant = [transformers_logits(loaded.model, f, a) for f, a in zip(full, paths)]
    gaps = []
    for v, a in zip(variant, paths):
        closest = float("inf")
        for row, token in zip(v, a):
            others = np.delete(row, token)
            closest = min(closest, float(row[token] - others.max()))
        gaps.append(closest)

    def report(name: str, logits: list) -> None:
        dev = [float(np.abs(e - v).max()) for e, v in zip(logits, variant)]
        at_risk = sum(g < d for g, d in zip(gaps, dev))
        print(f"{name}: largest |logit difference| along the answers: median {np.median(dev):.4g}, "
              f"max {max(dev):.4g}; lines whose closest call is below it: {at_risk}/{len(dev)}")

    print(f"variant closest calls (top-1 over top-2 logit gap along its answer): median {np.median(gaps):.4g}, "
          f"smallest {sorted(gaps)[:5]}")
    for folder in args.merged:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(folder).eval()  # its own dtype, as a plain user loads it
        tok = load_tokenizer(folder)
        report(f"merged {folder} ({model.dtype})",
               [transformers_logits(model, encode_prompt(tok, b), a) for b, a in zip(bare, paths)])
    files = gguf_files(Path(args.folder))
    for qtype in [t.strip() for t in args.types.split(",") if t.strip()]:
        llm = _open(files[qtype], 1024, logits_all=True, kv_cache=args.kv_cache)
        try:
            chat = _LlamaChat(llm)
            report(f"llama.cpp {qtype}, KV cache {args.kv_cache}",
                   [llama_cpp_logits(llm, chat.prompt_ids(b), a) for b, a in zip(bare, paths)])
        finally:
            llm.close()


if __name__ == "__main__":
    main()
