"""An Ollama Modelfile for an exported GGUF: the chat template (in Ollama's Go template syntax), stop tokens and
the system prompt the variant was trained with, so `ollama create` gives the same prompt format as training."""

from __future__ import annotations

from tuneforge.errors import UserError

# ChatML (SmolLM2, Qwen, tuneforge's tiny test model) in Ollama's template language.
_CHATML_GO = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


def ollama_template(chat_template: str) -> tuple[str, list[str]]:
    """(Go template, stop strings) for a Hugging Face chat template; refuses templates it cannot translate."""
    if "<|im_start|>" in chat_template and "<|im_end|>" in chat_template:
        return _CHATML_GO, ["<|im_end|>"]
    raise UserError("cannot translate this chat template to Ollama's syntax (only ChatML is supported); "
                     "the template is still in the GGUF file's tokenizer.chat_template metadata")


def _quote(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def write_modelfile(path, gguf_name: str, chat_template: str, system_prompt: str | None) -> str:
    template, stops = ollama_template(chat_template)
    lines = [f"FROM ./{gguf_name}", f"TEMPLATE {_quote(template)}"]
    if system_prompt:
        lines.append(f"SYSTEM {_quote(system_prompt)}")
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines.append("PARAMETER temperature 0")  # tuneforge evaluates variants greedily
    text = "\n".join(lines) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text
