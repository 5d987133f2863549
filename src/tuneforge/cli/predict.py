"""`tuneforge predict`: one answer from a run (or a base model)."""

from __future__ import annotations

from typing import Optional

import typer


def predict(
    text: str = typer.Argument(..., help="The input, as the user turn."),
    model: str = typer.Option(..., "--model", help="Run folder or base model name."),
    system: Optional[str] = typer.Option(None, "--system-prompt", help="System prompt (default: the one the run was "
                                         "trained with)."),
    max_new_tokens: int = typer.Option(128, help="Longest answer in tokens."),
    probabilities: bool = typer.Option(False, help="Classification variants: also show each label's calibrated probability."),
):
    """Answer one input with a fine-tuned variant.

    \b
    Example:
      tuneforge predict --model runs/invoice "Adobe Creative Cloud annual licence"
    """
    _predict(text, model, system, max_new_tokens, probabilities)


def _predict(text, model, system, max_new_tokens, probabilities=False):
    from tuneforge.models.classifier import is_classifier_dir, print_classification

    if is_classifier_dir(model):  # a head over labels answers the label (argmax), optionally with probabilities
        return print_classification(model, text, probabilities)
    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(model)
    system = system if system is not None else loaded.default_system_prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    print(generate_batch(loaded.model, loaded.tokenizer, [messages], max_new_tokens)[0].text)


def register(root: typer.Typer) -> None:
    root.command("predict")(predict)
