"""Where metrics go: metrics.jsonl always, plus TensorBoard, MLflow or W&B as `report_to` asks.

A tracker that is asked for but not installed is an error before training starts, not a silent gap in the logs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tuneforge.errors import UserError

KNOWN = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def requested_trackers(report_to: str) -> list[str]:
    names = [n.strip().lower() for n in report_to.split(",") if n.strip()]
    if names in ([], ["none"]):
        return []
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise UserError(f"report_to: unknown tracker(s) {unknown}; choose from {', '.join(KNOWN)} or none")
    missing = [n for n in names if importlib.util.find_spec(KNOWN[n]) is None]
    if missing:
        raise UserError(f"report_to: {', '.join(missing)} requested but not installed (pip install {' '.join(missing)})")
    return names


class Tracker:
    """Writes each metrics record to every destination; a no-op on non-main processes."""

    def __init__(self, run_dir: Path, report_to: str, config: dict, enabled: bool = True, append: bool = False):
        self.enabled = enabled
        self.names = requested_trackers(report_to)
        if not enabled:
            return
        self.jsonl = (Path(run_dir) / "metrics.jsonl").open("a" if append else "w", encoding="utf-8")
        self.tb = self.mlflow = self.wandb = None
        if "tensorboard" in self.names:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        if "mlflow" in self.names:
            import mlflow

            self.mlflow = mlflow
            mlflow.start_run(run_name=Path(run_dir).name)
            mlflow.log_params({k: v for k, v in config.items() if v is not None})
        if "wandb" in self.names:
            import wandb

            self.wandb = wandb.init(name=Path(run_dir).name, config=config, dir=str(run_dir))

    def log(self, record: dict, step: int) -> None:
        if not self.enabled:
            return
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k not in ("step", "epoch_end")}
        if self.tb:
            for k, v in numbers.items():
                self.tb.add_scalar(k, v, step)
            self.tb.flush()
        if self.mlflow:
            self.mlflow.log_metrics(numbers, step=step)
        if self.wandb:
            self.wandb.log(numbers, step=step)

    def close(self) -> None:
        if not self.enabled:
            return
        self.jsonl.close()
        if self.tb:
            self.tb.close()
        if self.mlflow:
            self.mlflow.end_run()
        if self.wandb:
            self.wandb.finish()
