"""Parity in the real runtime: load each exported GGUF in llama.cpp (llama-cpp-python) and compare it with what
tuneforge does with the adapter.

1. Token ids: llama.cpp's tokenizer against the training tokenizer on a probe set (apostrophes, dashes, accents,
   digits, emoji, Dutch, German, special tokens) and on every evaluation prompt as the chat template renders it.
2. Greedy answers: llama.cpp's own chat completion — the GGUF's chat template, no system prompt given, so the
   trained one must come from the template — against `tuneforge predict` (the adapter, its trained system
   prompt) on the evaluation set. An extraction variant's answers are decoded under its learned keys' grammar on
   both sides: llguidance's in `predict`, the export's `answer.gbnf` in llama.cpp, with the same token budget.

An F32 file is in the precision the variant was evaluated in and must agree on every answer. F16 and quantized
files round weights: their agreement rate is recorded, with every differing answer and the logit margin it came
down to (export/divergence.py). Token ids must be identical for every file.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tuneforge.errors import UserError

CHECK_FILE = "llama_cpp_check.json"
# Each probe covers a way two byte-level BPE pre-tokenizers can disagree.
PROBES = [
    "Don't stop: it's the user's call, isn't it? We'll see, they've said, I'd go, you're right.",  # apostrophes
    "Dashes - en – em — and a minus −5; well-known, e-mail, 2023–2024.",  # dashes
    "Café crème, naïve façade, Ångström, São Paulo, Æsir, piñata.",  # accents
    "Invoice 2024-00017: 3 × 1.299,95 EUR, 12345678901234567890, 0.5%, v2.10.3",  # digits
    "Thanks 🙏 great job 🚀🔥, flags 🇳🇱🇩🇪, family 👨‍👩‍👧 and ✓ ✗ ★",  # emoji
    "Factuur voor kantoorbenodigdheden: 5 dozen papier à € 24,95, excl. BTW; 's-Hertogenbosch",  # Dutch
    "Rechnung über Bürobedarf: Größe XL, Straße 7, zzgl. MwSt. — Grüße aus Köln",  # German
    "  leading spaces,\ttabs,\n\nnew lines   and trailing  ",  # whitespace runs
    "<|im_start|>user\nHello<|im_end|>",  # special tokens written as text
]
EXACT_TYPES = ("f32",)  # the evaluation precision: every answer must agree


@dataclass
class FileCheck:
    file: str
    type: str
    probes: int
    probes_identical: int
    prompts: int
    prompt_ids_identical: int
    answers: int
    answers_identical: int
    mismatches: list[dict] = field(default_factory=list)
    # Under an extraction variant's grammar: answers that part where llama.cpp wrote forced text (a key) in other
    # tokens than the evaluation's grammar engine allows. The same text so far, a different decoder: not the file.
    answers_tokenized_apart: int = 0

    @property
    def agreement(self) -> float:
        return self.answers_identical / self.answers if self.answers else 0.0

    @property
    def answer_mismatches(self) -> list[dict]:
        return [m for m in self.mismatches if "llama.cpp" in m and "predict" in m]

    @property
    def passed(self) -> bool:
        tokens_ok = self.probes_identical == self.probes and self.prompt_ids_identical == self.prompts
        explained = self.answers_identical + self.answers_tokenized_apart
        return tokens_ok and (self.type not in EXACT_TYPES or explained == self.answers)


@dataclass
class LlamaCppCheck:
    data: str
    files: list[FileCheck]

    @property
    def passed(self) -> bool:
        return bool(self.files) and all(f.passed for f in self.files)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CHECK_FILE
        body = {"data": self.data, "passed": self.passed,
                "files": [{**asdict(f), "agreement": round(f.agreement, 4), "passed": f.passed} for f in self.files]}
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def failures(self) -> list[dict]:
        """What made the check fail: mismatches of exact files, token-id mismatches of any file."""
        return [{"file": f.file, **m} for f in self.files if not f.passed for m in f.mismatches]

    def lines(self) -> list[str]:
        """Per file: token ids and answers; then each differing answer with the logit margin it came down to."""
        from tuneforge.export.divergence import describe, describe_grammar

        out = []
        for f in self.files:
            apart = (f"; {f.answers_tokenized_apart} part where llama.cpp wrote forced text in tokens the evaluation's "
                     "grammar engine does not use (the decoder, not the file)") if f.answers_tokenized_apart else ""
            out.append(f"llama.cpp {f.type}: token ids {f.probes_identical}/{f.probes} probes, "
                       f"{f.prompt_ids_identical}/{f.prompts} prompts identical; greedy answers "
                       f"{f.answers_identical}/{f.answers} identical to tuneforge predict ({100 * f.agreement:.1f}%)"
                       f"{apart}")
            for m in f.answer_mismatches:
                line = (describe_grammar(m) if "grammar_divergence" in m
                        else describe(m["prompt"], m["predict"], m["llama.cpp"], m.get("divergence")))
                out.append(f"  {f.type} differs on {line}")
        return out


def _open(path: Path, n_ctx: int, kv_cache: str, logits_all: bool = False):
    from tuneforge.export.quantize import require_llama_cpp

    llama_cpp = require_llama_cpp()
    # One thread: llama.cpp's OpenMP workers spin while they wait, which on a busy machine costs far more than
    # the arithmetic of a small model. logits_all keeps every position's logits (for the margins only).
    # The check judges the file, so the KV cache is kept in F32 (llama.cpp's --cache-type-k/v f32): llama.cpp's
    # default F16 cache is a runtime setting that rounds keys and values on its own, by up to 0.04 logits on the
    # demo variant, enough to flip a near-tie even for an F32 file (docs/export.md).
    kv = {"f32": llama_cpp.GGML_TYPE_F32, "f16": llama_cpp.GGML_TYPE_F16}[kv_cache]
    with _loading(llama_cpp, extra_buffers=not amx_cpu()):
        return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=1, n_threads_batch=1, n_batch=512,
                               logits_all=logits_all, type_k=kv, type_v=kv, verbose=False)


def amx_cpu() -> bool:
    """Whether this CPU has AMX (Linux's flags). llama.cpp built here (pip builds it from source with the CPU's
    own instructions) then puts quantized weights in ggml's AMX buffers, and decoding the tiny test model's export
    crashed the process (segfault in llama_decode; Intel Xeon with AMX, llama-cpp-python 0.3.36, 2026-12-02). The
    check loads such files without the extra buffer types there, so it runs llama.cpp's plain CPU kernels."""
    try:
        return "amx_tile" in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


_LOADING = threading.Lock()


@contextmanager
def _loading(llama_cpp, extra_buffers: bool):
    """`llama_cpp.Llama` loads with `use_extra_bufts` = extra_buffers (weight repacking, AMX). Its constructor takes
    no argument for that field, so the binding's default model params are wrapped while it loads."""
    if extra_buffers:
        yield
        return
    low = llama_cpp.llama_cpp
    with _LOADING:
        default = low.llama_model_default_params

        def without_extra_buffers():
            params = default()
            params.use_extra_bufts = False
            return params

        low.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            low.llama_model_default_params = default


def _llama_ids(llm, text: str) -> list[int]:
    # special=True: special tokens written in the text are parsed as such, as transformers does.
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def _hf_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class _LlamaChat:
    """A GGUF in llama.cpp, prompted as llama-cpp-python's chat completion prompts it: the file's own chat template
    (tokenizer.chat_template metadata) rendered by its Jinja formatter, tokenized by llama.cpp, decoded greedily
    until the file's end token."""

    def __init__(self, llm):
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm, self.llama_cpp = llm, llama_cpp
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise UserError("the GGUF has no tokenizer.chat_template")
        text = lambda tid: llm.detokenize([tid], special=True).decode("utf-8", "replace") if tid >= 0 else ""  # noqa: E731
        self.formatter = Jinja2ChatFormatter(template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos()))
        # The file's EOS token, where tuneforge stops too. llama.cpp would also stop at tokens it recognises by
        # their text (e.g. <|endoftext|> as end-of-turn); a trained variant ends with EOS, but a random test
        # model can emit those mid-answer, where transformers goes on.
        self.eos = llm.token_eos()

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        prompt = self.formatter(messages=messages).prompt
        # add_bos=True adds BOS only where the file says its vocabulary wants one, as completions do.
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def answer_ids(self, prompt_ids: list[int], max_new_tokens: int, grammar: str | None = None,
                   stops: tuple[int, ...] = ()) -> list[int]:
        """Greedy answer ids until the file's EOS (or one of `stops`); under `grammar` (GBNF) when given."""
        out: list[int] = []
        # Every prompt evaluated from scratch, as a fresh request is: reusing the previous prompt's cache would
        # compute the last prompt position alone instead of in the batch, which rounds differently.
        self.llm.reset()
        constraint = self.llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
        # temp 0 is llama.cpp's greedy sampler; no repetition penalty, as tuneforge decodes.
        for token in self.llm.generate(prompt_ids, temp=0.0, repeat_penalty=1.0, top_k=1, top_p=1.0, min_p=0.0,
                                       grammar=constraint):
            if token == self.eos or token in stops or len(out) >= max_new_tokens:
                break
            out.append(token)
        return out


def check_file(path: Path, qtype: str, loaded, prompts: list[list[dict]], reference: list, max_new_tokens: int,
               kv_cache: str, n_ctx: int = 1024, grammar: str | None = None, schema: dict | None = None) -> FileCheck:
    """`loaded` is the variant (models/variant.py) and `reference` its greedy Generations; `prompts` are full
    conversations as tuneforge predict builds them (system prompt first, if any). llama.cpp gets them as a plain
    user sends them, without the trained system prompt; under `grammar` (GBNF, the learned keys of `schema`) when
    the variant answers JSON."""
    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.export.divergence import grammar_divergence
    from tuneforge.export.parity import without_trained_system
    from tuneforge.models.load import stop_token_ids

    tokenizer = loaded.tokenizer
    # Under a grammar llama.cpp allows only end-of-generation tokens once the object is closed, as llguidance
    # allows only tuneforge's stop tokens: either ends the answer.
    stops = tuple(stop_token_ids(tokenizer, loaded.model)) if grammar else ()
    llm = _open(path, n_ctx, kv_cache=kv_cache)
    differing = []  # (full prompt ids, llama.cpp prompt ids, reference answer ids, mismatch record)
    try:
        chat = _LlamaChat(llm)
        result = FileCheck(path.name, qtype, len(PROBES), 0, len(prompts), 0, len(prompts), 0)
        for text in PROBES:
            ours, theirs = _hf_ids(tokenizer, text), _llama_ids(llm, text)
            if ours == theirs:
                result.probes_identical += 1
            else:
                result.mismatches.append({"probe": text, "transformers": ours, "llama.cpp": theirs})
        for messages, bare, expected in zip(prompts, without_trained_system(prompts, loaded.default_system_prompt),
                                            reference):
            # The ids training would see for the full prompt, against llama.cpp's for the bare one: the template
            # must add the trained system prompt and the tokenizer must split the text the same way.
            ids, full = chat.prompt_ids(bare), encode_prompt(tokenizer, messages)
            if ids == full:
                result.prompt_ids_identical += 1
            else:
                result.mismatches.append({"prompt_ids_differ": messages[-1]["content"]})
            new = chat.answer_ids(ids, max_new_tokens, grammar, stops)
            answer = tokenizer.decode(new, skip_special_tokens=True).strip()
            if answer == expected.text:
                result.answers_identical += 1
            else:
                record = {"prompt": messages[-1]["content"], "predict": expected.text, "llama.cpp": answer}
                result.mismatches.append(record)
                if grammar and schema:
                    # Free-decoding margins would name the token the grammar forbade; this says where and why
                    # the two grammar decoders parted.
                    record["grammar_divergence"] = d = grammar_divergence(loaded, schema, full, expected.ids, new)
                    result.answers_tokenized_apart += not d["evaluation_allows_export_token"]
                else:
                    differing.append((full, ids, expected.ids, record))
    finally:
        llm.close()
    if differing:
        _add_margins(path, n_ctx, loaded.model, tokenizer, differing, kv_cache)
    return result


def _add_margins(path: Path, n_ctx: int, model, tokenizer, differing: list, kv_cache: str) -> None:
    """Each differing answer gets the logit margin it came down to: the variant and llama.cpp over the variant's
    own answer (a second instance of the file that keeps every position's logits)."""
    from tuneforge.export.divergence import first_divergence, llama_cpp_logits, margins_of, transformers_logits

    llm = _open(path, n_ctx, logits_all=True, kv_cache=kv_cache)
    try:
        for full, ids, answer_ids, record in differing:
            v = transformers_logits(model, full, answer_ids)
            e = llama_cpp_logits(llm, ids, answer_ids)
            record.update(margins_of(first_divergence(v, e, answer_ids, tokenizer)))
    finally:
        llm.close()


def check_gguf_files(files: dict[str, Path], run_dir: str | Path, prompts: list[list[dict]], data: str,
                     max_new_tokens: int = 32, kv_cache: str = "f32") -> LlamaCppCheck:
    """`files` maps a type (f16, q8_0, ...) to its GGUF; reference answers come from the adapter as `tuneforge
    predict` gives them: greedily, or for an extraction variant under its learned keys' grammar, which llama.cpp
    then applies from the export's answer.gbnf beside the files, within the same token budget (no such file: it
    answers freely). `kv_cache` "f16" measures llama.cpp's default cache instead of the file alone
    (benchmarks/export_agreement.py)."""
    from tuneforge.data.answer_schema import run_answer_schema
    from tuneforge.eval.constrained import json_answers
    from tuneforge.eval.generate import generate_batch
    from tuneforge.export.file_names import ANSWER_GRAMMAR_FILE
    from tuneforge.models.answer_grammar import answer_format
    from tuneforge.models.variant import load_for_inference

    grammar_file = next(iter(files.values())).parent / ANSWER_GRAMMAR_FILE
    grammar = grammar_file.read_text(encoding="utf-8") if grammar_file.is_file() else None
    loaded = load_for_inference(str(run_dir))
    schema = run_answer_schema(loaded.run)
    fmt = answer_format(schema)
    n_ctx = 1024
    if fmt is not None:
        reference = json_answers(loaded.model, loaded.tokenizer, prompts, schema)
        max_new_tokens = fmt.max_tokens
        n_ctx = max(n_ctx, max(g.tokens_in for g in reference) + max_new_tokens)
    else:
        reference = generate_batch(loaded.model, loaded.tokenizer, prompts, max_new_tokens)
    checks = [check_file(path, qtype, loaded, prompts, reference, max_new_tokens, kv_cache=kv_cache, n_ctx=n_ctx,
                         grammar=grammar if fmt is not None else None, schema=schema)
              for qtype, path in files.items()]
    return LlamaCppCheck(data, checks)
