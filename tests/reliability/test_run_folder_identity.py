"""Issue 12 defect 1: a run folder holds one run. A new run into another run's folder is refused (naming what
differs) or replaced whole with --overwrite; --resume continues only the same data, base and settings."""

from __future__ import annotations

import os

import pytest

from conftest import chat_row, tiny_lora_config, write_jsonl
from tuneforge.train.run_folder import IDENTITY_FILE, RunFolderError
from tuneforge.train.sft import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


_cfg = tiny_lora_config


@pytest.fixture
def other_data(tmp_path):
    rows = [chat_row(f"other invoice line {i}", ["software", "travel", "hardware"][i % 3]) for i in range(15)]
    return write_jsonl(tmp_path / "other.jsonl", rows)


@pytest.fixture
def run_a(label_data, tiny_model_dir, tmp_path):
    return train(_cfg(label_data, tiny_model_dir, tmp_path / "runA"), log=lambda *_: None)


def test_a_new_run_into_another_runs_folder_is_refused_naming_the_data(run_a, other_data, tiny_model_dir):
    before = sorted(p.name for p in (run_a / "checkpoints").iterdir())
    with pytest.raises(RunFolderError, match=r"(?s)holds another run.*data hash: sha256:"):
        train(_cfg(other_data, tiny_model_dir, run_a, max_steps=2), log=lambda *_: None)
    assert sorted(p.name for p in (run_a / "checkpoints").iterdir()) == before  # nothing touched


def test_a_classification_variant_into_another_runs_folder_is_refused(run_a, other_data, tiny_model_dir):
    # The classification path trains in its own loop; it must keep the one-run-per-folder rule all the same.
    before = sorted(p.name for p in run_a.iterdir())
    with pytest.raises(RunFolderError, match="holds another run"):
        train(_cfg(other_data, tiny_model_dir, run_a, variant_type="classification"), log=lambda *_: None)
    assert sorted(p.name for p in run_a.iterdir()) == before


def test_the_same_command_again_points_at_resume(run_a, label_data, tiny_model_dir):
    with pytest.raises(RunFolderError, match="continue it with --resume"):
        train(_cfg(label_data, tiny_model_dir, run_a), log=lambda *_: None)


def test_overwrite_replaces_the_folder_whole(run_a, other_data, tiny_model_dir):
    stale = run_a / "checkpoints" / "step-999"  # a checkpoint of the old run that pruning would have kept
    stale.mkdir()
    (stale / "trainer_state.json").write_text("{}")
    train(_cfg(other_data, tiny_model_dir, run_a, overwrite=True), log=lambda *_: None)
    assert not stale.exists()
    assert "step-999" not in {p.name for p in (run_a / "checkpoints").iterdir()}


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(label_data, tiny_model_dir, tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(RunFolderError, match="not a run folder"):
        train(_cfg(label_data, tiny_model_dir, precious, overwrite=True), log=lambda *_: None)
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_resume_with_other_data_or_settings_names_the_difference(run_a, label_data, other_data, tiny_model_dir):
    with pytest.raises(RunFolderError, match=r"(?s)--resume .*data hash"):
        train(_cfg(other_data, tiny_model_dir, run_a, resume=True), log=lambda *_: None)
    with pytest.raises(RunFolderError, match=r"(?s)lr: 0.005 in the folder, 0.001 now.*seed: 42 in the folder, 7"):
        train(_cfg(label_data, tiny_model_dir, run_a, resume=True, lr=1e-3, seed=7), log=lambda *_: None)
    # Settings that only change logging and checkpointing may differ.
    train(_cfg(label_data, tiny_model_dir, run_a, resume=True, keep_checkpoints=1, log_every=5), log=lambda *_: None)


def test_resume_takes_every_setting_not_given_from_the_folder(run_a, label_data, tiny_model_dir):
    """`--resume` with only the data and the folder continues the run as it started: its base, rate, rank and
    method are the folder's, even where today's no-flag rules would choose otherwise (full fine-tuning for this
    small base, as for folders that an earlier rule trained with LoRA)."""
    import json

    from tuneforge.config import TrainConfig

    lines = []
    train(TrainConfig(data=str(label_data), out=str(run_a), resume=True, progress=False, report_to="none"),
          log=lines.append)
    (taken,) = [line for line in lines if line.startswith("resume: settings not given are the run folder's: ")]
    assert f"base={str(tiny_model_dir)!r}" in taken and "lr=0.005" in taken and "lora_r=4" in taken
    assert any(line.startswith("resume: step-") for line in lines)
    assert not any(line.startswith("chose method=") for line in lines)
    assert json.loads((run_a / "run.json").read_text())["method"] == "lora"
    # A setting given is still the user's, and still checked against the folder.
    with pytest.raises(RunFolderError, match="method: 'lora' in the folder, 'full' now"):
        train(TrainConfig(data=str(label_data), out=str(run_a), resume=True, method="full", progress=False),
              log=lambda *_: None)


def test_resume_of_a_folder_without_identity_is_refused(run_a, label_data, tiny_model_dir):
    (run_a / IDENTITY_FILE).unlink()  # e.g. checkpoints copied in from elsewhere
    with pytest.raises(RunFolderError, match="cannot be verified"):
        train(_cfg(label_data, tiny_model_dir, run_a, resume=True), log=lambda *_: None)


def test_out_that_is_a_file_is_a_clear_error(label_data, tiny_model_dir, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        train(_cfg(label_data, tiny_model_dir, target), log=lambda *_: None)


def test_out_without_permission_is_a_clear_error(label_data, tiny_model_dir, tmp_path):
    if os.geteuid() == 0:
        out = "/sys/tuneforge-run"  # root may write anywhere except pseudo file systems like sysfs
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "run"
    with pytest.raises(RunFolderError, match="no permission"):
        train(_cfg(label_data, tiny_model_dir, out), log=lambda *_: None)
