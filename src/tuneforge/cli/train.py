"""`tuneforge train`: flags generated from TrainConfig."""

from __future__ import annotations

from tuneforge.cli.errors import user_errors
from tuneforge.cli.options import add_config_command
from tuneforge.config import TrainConfig

EPILOG = """\b
Examples:
  tuneforge train examples/invoice-categories/train.jsonl --out runs/invoice
  tuneforge train DATA.jsonl --base smollm2-135m --epochs 1 --batch-size 8 --lr 2e-4 --lora-r 16 --out DIR
  tuneforge train --config train.yaml --epochs 3      # YAML keys are the flag names
"""


@user_errors
def _run(cfg: TrainConfig):
    from tuneforge.train.sft import train

    out = train(cfg)
    print(f"next: tuneforge eval --model {out} --data HELD_OUT.jsonl")
    return out


def register(app):
    add_config_command(
        app, TrainConfig, "train", _run,
        help="Fine-tune a base model with LoRA on your examples (loss on the answers only).",
        epilog=EPILOG,
    )
