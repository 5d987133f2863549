"""Issue 12 defect 3 and item 5: resuming never unpickles (a planted payload is refused, not run), a full disk
during a checkpoint save is one clear error that leaves the earlier checkpoints intact, and Ctrl-C says how to
resume."""

from __future__ import annotations

import errno
import functools
import os
import pickle

import pytest
from conftest import tiny_lora_config
from typer.testing import CliRunner

from tuneforge.train import checkpoint
from tuneforge.train.sft import train
from tuneforge.train.state_io import StateFileError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


_cfg = functools.partial(tiny_lora_config, epochs=2)


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def run(label_data, tiny_model_dir, tmp_path):
    return train(_cfg(label_data, tiny_model_dir, tmp_path / "run"), log=lambda *_: None)


def test_a_pickle_payload_in_a_checkpoint_is_refused_and_never_runs(run, label_data, tiny_model_dir, tmp_path):
    marker = tmp_path / "pwned"
    latest = checkpoint.latest_checkpoint(run)
    for f in latest.glob("trainer_state.*"):
        f.unlink()
    (latest / "trainer_state.pt").write_bytes(pickle.dumps(_Payload(marker)))  # the old format, crafted
    with pytest.raises(StateFileError, match="old pickle format"):
        train(_cfg(label_data, tiny_model_dir, run, resume=True), log=lambda *_: None)
    assert not marker.exists()


def test_pickle_bytes_in_place_of_a_state_file_are_refused(run, label_data, tiny_model_dir, tmp_path):
    marker = tmp_path / "pwned"
    latest = checkpoint.latest_checkpoint(run)
    (latest / "rng-rank-0.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(StateFileError, match="rng-rank-0.safetensors: damaged"):
        train(_cfg(label_data, tiny_model_dir, run, resume=True), log=lambda *_: None)
    assert not marker.exists()


def test_no_module_reads_files_with_pickle():
    from pathlib import Path

    import tuneforge

    root = Path(tuneforge.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if any(s in p.read_text(encoding="utf-8") for s in ("weights_only=False", "pickle.load", "np.load("))]
    assert offenders == []


def test_disk_full_during_a_checkpoint_is_a_clear_error(label_data, tiny_model_dir, tmp_path, monkeypatch):
    real, calls = checkpoint.save_state, []

    def fill_up(stem, obj):
        calls.append(stem)
        if len(calls) > 2:  # the first checkpoint (RNG + trainer state) succeeds, the second hits a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(stem, obj)

    monkeypatch.setattr(checkpoint, "save_state", fill_up)
    out = tmp_path / "run"
    with pytest.raises(checkpoint.CheckpointSaveError,
                       match=r"No space left on device.*last complete checkpoint is step-3.*--resume"):
        train(_cfg(label_data, tiny_model_dir, out), log=lambda *_: None)
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(("step", ".tmp"))] == ["step-3"]


def test_ctrl_c_prints_how_to_resume(label_data, tiny_model_dir, tmp_path, monkeypatch):
    from tuneforge.cli.main import app

    out = tmp_path / "run"
    real = checkpoint.save_checkpoint

    def interrupt_after_first_checkpoint(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_checkpoint", interrupt_after_first_checkpoint)
    result = CliRunner().invoke(app, ["train", str(label_data), "--base", str(tiny_model_dir), "--out", str(out),
                                      "--epochs", "2", "--batch-size", "4", "--no-progress", "--report-to", "none",
                                      "--variant-type", "generative"])
    assert result.exit_code == 130, result.output
    assert "interrupted; the last complete checkpoint is" in result.output
    assert "same command plus: --resume" in result.output and str(out) in result.output
