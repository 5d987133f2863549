"""Structured generation libraries compared on CPU: llguidance (what the server uses) vs lm-format-enforcer.

For each model (the tiny test model and the bundled SmolLM2-135M) and each schema, decode greedily under the
library's token mask and time only the library's work per token (the model's forward pass is the same for both
and is left out), plus the one-off setup (vocabulary preparation, schema compilation). Each answer is checked:
does it parse, and does it satisfy the schema (jsonschema_rs)?

    python benchmarks/structured_generation.py              # needs: pip install lm-format-enforcer jsonschema_rs
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

SCHEMAS = {
    "object": {"type": "object"},
    "invoice": {
        "type": "object",
        "properties": {"category": {"enum": ["software", "travel", "hardware"]},
                       "amount": {"type": "number"}, "vendor": {"type": "string", "maxLength": 20}},
        "required": ["category", "amount", "vendor"], "additionalProperties": False,
    },
    "nested": {
        "type": "object",
        "properties": {"lines": {"type": "array", "maxItems": 3, "items": {
            "type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                                             "qty": {"type": "integer", "minimum": 1}},
            "required": ["sku", "qty"], "additionalProperties": False}},
                       "paid": {"type": "boolean"}},
        "required": ["lines", "paid"], "additionalProperties": False,
    },
}
MAX_TOKENS = 48
PROMPT = [{"role": "user", "content": "Invoice: 2 laptops from Dell, 1800 EUR. Answer as JSON."}]


class LlguidanceRow:
    name = "llguidance"

    def __init__(self, tokenizer, stops, schema, shared):
        from tuneforge.models.structured import Grammars

        if "grammars" not in shared:
            shared["grammars"] = Grammars(tokenizer, stops)
            shared["grammars"].ll_tokenizer  # noqa: B018 - vocabulary preparation counts as setup
        self.row = shared["grammars"].row(schema)

    def allowed(self, width, generated):
        return self.row.allowed(width)

    def advance(self, tok):
        self.row.advance(tok)


def _shim_transformers_5():
    # lm-format-enforcer 0.11.3 imports transformers.tokenization_utils, which transformers 5 removed: without this
    # alias its transformers integration does not import at all (one reason it lost).
    import sys
    import types

    import transformers

    if "transformers.tokenization_utils" not in sys.modules:
        alias = types.ModuleType("transformers.tokenization_utils")
        alias.PreTrainedTokenizerBase = transformers.PreTrainedTokenizerBase
        sys.modules["transformers.tokenization_utils"] = alias


class FormatEnforcerRow:
    name = "lm-format-enforcer"

    def __init__(self, tokenizer, stops, schema, shared):
        _shim_transformers_5()
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer
        from lmformatenforcer.integrations.transformers import build_token_enforcer_tokenizer_data

        if "data" not in shared:
            shared["data"] = build_token_enforcer_tokenizer_data(tokenizer)
        self.enforcer = TokenEnforcer(shared["data"], JsonSchemaParser(schema))

    def allowed(self, width, generated):
        import torch

        mask = torch.zeros(width, dtype=torch.bool)
        mask[list(self.enforcer.get_allowed_tokens(generated).allowed_tokens)] = True
        return mask

    def advance(self, tok):
        pass  # the enforcer follows the token sequence it is given


def decode(model, tokenizer, stops, prompt_ids, row):
    import torch
    from transformers import DynamicCache

    cache, ids, generated, spent = DynamicCache(), torch.tensor([prompt_ids]), [], []
    with torch.inference_mode():
        for _ in range(MAX_TOKENS):
            logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits[0, -1].float()
            t = time.perf_counter()
            mask = row.allowed(logits.shape[0], list(prompt_ids) + generated)
            tok = int(torch.argmax(logits.masked_fill(~mask, float("-inf"))))
            row.advance(tok)
            spent.append(time.perf_counter() - t)
            if tok in stops:
                break
            generated.append(tok)
            ids = torch.tensor([[tok]])
    return tokenizer.decode(generated, skip_special_tokens=True), spent


def check(text, schema) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return "no parse"
    import jsonschema_rs

    return "valid" if jsonschema_rs.validator_for(schema).is_valid(value) else "parses, violates schema"


def main():
    import torch

    from tuneforge.models.load import load_model, load_tokenizer, stop_token_ids
    from tuneforge.models.resolve import resolve_base
    from tuneforge.models.tiny import build_tiny_model
    from tuneforge.chat_encoding import encode_prompt

    torch.manual_seed(0)
    models = {"tiny": build_tiny_model(tempfile.mkdtemp()), "smollm2-135m": resolve_base("smollm2-135m").path}
    print(f"{'model':13} {'library':19} {'schema':8} {'setup ms':>9} {'ms/token':>9} {'tokens':>6}  result")
    for model_name, path in models.items():
        tokenizer, model = load_tokenizer(path), load_model(path)
        stops = sorted(stop_token_ids(tokenizer, model))
        prompt_ids = encode_prompt(tokenizer, PROMPT)
        for lib in (LlguidanceRow, FormatEnforcerRow):
            shared: dict = {}
            for schema_name, schema in SCHEMAS.items():
                t = time.perf_counter()
                row = lib(tokenizer, stops, schema, shared)
                setup = (time.perf_counter() - t) * 1000
                text, spent = decode(model, tokenizer, stops, prompt_ids, row)
                per_token = statistics.median(spent) * 1000
                print(f"{model_name:13} {lib.name:19} {schema_name:8} {setup:9.1f} {per_token:9.3f} {len(spent):6}  "
                      f"{check(text, schema)}: {text[:60]!r}", flush=True)


if __name__ == "__main__":
    main()
