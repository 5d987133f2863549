"""`tuneforge train`: flags generated from TrainConfig."""

from __future__ import annotations

import os
import sys

from tuneforge.cli.options import add_config_command
from tuneforge.config import TrainConfig

EPILOG = """\b
Examples:
  tuneforge train examples/invoice-categories/train.jsonl --out runs/invoice   # settings chosen from the data
  tuneforge train DATA.jsonl --variant-type generative --out DIR   # write the answer instead of a label head
  tuneforge train DATA.jsonl --base smollm2-135m --epochs 1 --batch-size 8 --lr 2e-4 --lora-r 16 --out DIR
  tuneforge train --config train.yaml --epochs 3      # YAML keys are the flag names
  tuneforge train DATA.jsonl --method dora --packing --group-by-length --out DIR
  tuneforge train PAIRS.jsonl --objective dpo --out DIR   # prompt/chosen/rejected pairs
  tuneforge train DATA.jsonl --nproc 2 --out DIR     # DDP, one process per GPU (gloo on CPU)
  tuneforge train DATA.jsonl --out DIR --resume      # continue a killed run from its last checkpoint
  accelerate launch --multi_gpu --num_processes 8 -m tuneforge train DATA.jsonl --out DIR
"""


def _run(cfg: TrainConfig):
    from tuneforge.export.model_card import write_model_card
    from tuneforge.train.launch import launch_processes, launched_by_a_launcher
    from tuneforge.train.sft import train

    try:
        out = launch_processes(cfg) if cfg.nproc > 1 and not launched_by_a_launcher() else train(cfg)
    except KeyboardInterrupt:
        from tuneforge.cli.train_interrupt import interrupted_hint

        print(interrupted_hint(cfg), file=sys.stderr)
        sys.exit(130)
    if launched_by_a_launcher() and int(os.environ.get("RANK", "0")) != 0:
        return out
    write_model_card(out)  # the run folder's README.md: this variant's card, not PEFT's blank template
    print(f"next: tuneforge eval --model {out} --eval-data HELD_OUT.jsonl")
    return out


def register(app):
    add_config_command(
        app, TrainConfig, "train", _run,
        help="Fine-tune a base model on your examples: LoRA/DoRA/QLoRA/full, SFT or DPO, one or many processes.",
        epilog=EPILOG,
    )
