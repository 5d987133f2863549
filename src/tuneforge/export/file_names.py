"""The files an export (and a run folder's card) holds beside the weights, named once: the writers (export.py,
merge.py, model_card.py) and the readers (llama_cpp_check.py, the tests) take the names from here, so neither side
imports the other for a constant."""

CARD_FILE = "README.md"  # the model card
EXPORT_FILE = "tuneforge-export.json"  # what was exported, from which run, and its parity check
# An extraction variant is evaluated decoding under the grammar of its learned keys; an export carries it for other
# servers: as GBNF for llama.cpp beside GGUF files, as Lark (what the evaluation compiled) beside merged weights.
ANSWER_GRAMMAR_FILE = "answer.gbnf"
ANSWER_LARK_FILE = "answer.lark"
