"""Ctrl-C during `tuneforge train`: say where the run stands and the exact way to continue it, then exit 130."""

from __future__ import annotations

from pathlib import Path


def _run_folder(cfg) -> Path | None:
    if cfg.out:
        return Path(cfg.out)
    from tuneforge.paths import runs_dir

    # Without --out the run went to a fresh timestamped folder under runs/: the newest one is it.
    found = [p for p in runs_dir().glob("*") if p.is_dir()] if runs_dir().is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def interrupted_hint(cfg) -> str:
    from tuneforge.train.checkpoint import latest_checkpoint

    out = _run_folder(cfg)
    found = latest_checkpoint(out) if out else None
    if found is None:
        return "interrupted before the first checkpoint; nothing to resume (run the command again)"
    more = "--resume" if cfg.out else f"--out {out} --resume"
    return (f"interrupted; the last complete checkpoint is {found}\n"
            f"continue the run with the same command plus: {more}")
