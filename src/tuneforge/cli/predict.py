"""`tuneforge predict`: answers from a run, a registered variant or a base model — one input, or a whole file."""

from __future__ import annotations

from tuneforge.cli.options import add_config_command
from tuneforge.config import PredictConfig
from tuneforge.errors import UserError

HELP = "Answer one input, or a JSONL/CSV file of inputs, with a fine-tuned variant."
EPILOG = """\b
Examples:
  tuneforge predict --model runs/invoice "Adobe Creative Cloud annual licence"
  tuneforge predict --model invoice-coder@production --input lines.csv --output predictions.csv
  tuneforge predict --model exports/invoice-merged "Adobe Creative Cloud annual licence"
  cat lines.jsonl | tuneforge predict --model invoice-coder:3 --input - --output - > predictions.jsonl
"""


def resolve_model(spec: str) -> str:
    """A run folder as given; a registry reference (name, name:3, name@production) to its run folder, as
    `serve` and `models export` resolve it; anything else (a base model, an exported folder) as given."""
    from tuneforge.run_record import is_run_dir

    if is_run_dir(spec):
        return spec
    from tuneforge.registry.store import Registry

    variant = Registry().find(spec)
    return variant.run_path if variant is not None else spec


def _run(cfg: PredictConfig):
    import sys

    from tuneforge.data.answer_schema import run_answer_schema
    from tuneforge.eval.batch_predict import answer, predict_file
    from tuneforge.models.variant import load_for_inference

    if (cfg.text is None) == (cfg.input is None):
        raise UserError("give one input as an argument, or a file with --input (not both)", field="--input")
    from tuneforge.export.classifier_export import is_exported_classifier, load_exported_classifier
    from tuneforge.models.classifier import is_classifier_dir, load_classifier, print_classification

    model = resolve_model(cfg.model)
    # A head over labels answers the label (argmax): from its run folder, or from its merged export.
    clf = (load_classifier(model) if is_classifier_dir(model)
           else load_exported_classifier(model) if is_exported_classifier(model) else None)
    if clf is not None:
        if cfg.input is not None:
            return predict_file(clf, cfg, None, lambda msg: print(msg, file=sys.stderr))
        return print_classification(clf, cfg.text, cfg.probabilities)
    loaded = load_for_inference(model)
    schema = run_answer_schema(loaded.run) if cfg.constrained else None
    if cfg.input is not None:
        return predict_file(loaded, cfg, schema, lambda msg: print(msg, file=sys.stderr))
    system = cfg.system_prompt if cfg.system_prompt is not None else loaded.default_system_prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": cfg.text}]
    print(answer(loaded, [messages], cfg, schema)[0])


def register(app) -> None:
    add_config_command(app, PredictConfig, "predict", _run, help=HELP, epilog=EPILOG)
