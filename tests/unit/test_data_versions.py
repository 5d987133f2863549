"""Dataset versions: immutable, content-addressed, and accepted by training, which records the version."""

from __future__ import annotations

import json

import pytest
from conftest import chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.data.formats import load_examples
from tuneforge.data.versions import DATA_FILE, MANIFEST, datasets_dir, resolve_data_path


def _add(path, *args):
    return CliRunner().invoke(app, ["data", "add", str(path), *args])


def test_add_stores_normalised_data_and_a_manifest(label_data):
    result = _add(label_data, "--name", "invoices", "--seed", "7")
    assert result.exit_code == 0, result.output
    (folder,) = [d for d in datasets_dir().iterdir() if d.is_dir()]
    assert folder.name.startswith("invoices@") and f"stored: {folder.name}" in result.output
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["id"] == folder.name and manifest["name"] == "invoices"
    assert manifest["content_hash"].startswith("sha256:") and folder.name.endswith(manifest["content_hash"][7:19])
    assert manifest["source"]["path"] == str(label_data.resolve()) and manifest["source"]["format"] == "chat"
    assert manifest["source"]["sha256"].startswith("sha256:")
    assert manifest["counts"]["examples"] == 15 and manifest["counts"]["labels"]["software"] == 5
    assert manifest["split"] == {"seed": 7, "eval_fraction": 0.1}
    assert manifest["checks"]["check"]["errors"] == 0 and manifest["checks"]["check"]["warnings"] == 1  # < 100
    assert manifest["checks"]["clean_scan"]["exact_duplicates"]["found"] == 0
    stored, _ = load_examples(folder / DATA_FILE)
    original, _ = load_examples(label_data)
    assert [e.messages for e in stored] == [e.messages for e in original]
    # Immutable: read-only files, and adding the same content again changes nothing.
    assert oct((folder / DATA_FILE).stat().st_mode & 0o777) == "0o444"
    again = _add(label_data, "--name", "invoices")
    assert again.exit_code == 0 and f"already stored: {folder.name}" in again.output


def test_changed_data_is_a_new_version_and_the_old_one_stays(tmp_path, label_data):
    assert _add(label_data, "--name", "inv").exit_code == 0
    rows = [json.loads(line) for line in label_data.read_text().splitlines()]
    changed = write_jsonl(tmp_path / "changed.jsonl", rows + [chat_row("new line", "software")])
    assert _add(changed, "--name", "inv").exit_code == 0
    versions = sorted(d.name for d in datasets_dir().iterdir() if d.is_dir())
    assert len(versions) == 2
    listed = CliRunner().invoke(app, ["data", "list"])
    assert all(v in listed.output for v in versions)


def test_files_with_errors_are_not_stored(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [}\n', encoding="utf-8")
    result = _add(bad)
    assert result.exit_code == 1 and "bad JSON" in result.output
    assert not [d for d in datasets_dir().iterdir() if d.is_dir()]


def test_preference_pairs_round_trip_through_a_version(tmp_path):
    rows = [{"prompt": f"question {k}", "chosen": f"good {k}", "rejected": f"bad {k}"} for k in range(12)]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    assert _add(path, "--name", "pairs").exit_code == 0
    stored, fmt = load_examples(resolve_data_path("pairs")[0])
    assert fmt == "preference" and stored[3].meta == {"chosen": "good 3", "rejected": "bad 3"}


def test_resolve_data_path(label_data):
    assert resolve_data_path(str(label_data)) == (label_data, None)
    _add(label_data, "--name", "inv")
    (vid,) = [d.name for d in datasets_dir().iterdir() if d.is_dir()]
    path, version = resolve_data_path(vid)
    assert version == vid and path == datasets_dir() / vid / DATA_FILE
    assert resolve_data_path("inv") == (path, vid)  # a bare name means its newest version
    assert resolve_data_path("nope")[1] is None


@pytest.mark.parametrize("name", ["../evil", "a b", "x" * 65])
def test_bad_names_are_refused(label_data, name):
    result = _add(label_data, "--name", name)
    assert result.exit_code == 1 and "use letters, digits" in result.output
    assert not [d for d in datasets_dir().iterdir() if d.is_dir()]


def test_training_accepts_a_version_id_and_records_it(label_data, tiny_model_dir, tmp_path):
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    _add(label_data, "--name", "inv")
    (vid,) = [d.name for d in datasets_dir().iterdir() if d.is_dir()]
    out = train(TrainConfig(data=vid, base=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=1, variant_type="generative",
                            batch_size=8, eval_split=0.2, progress=False), log=lambda *_: None)
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["version"] == vid
    assert run["data"]["path"] == str(datasets_dir() / vid / DATA_FILE)
    assert run["data"]["hash"] == json.loads((datasets_dir() / vid / MANIFEST).read_text())["content_hash"]


def test_clean_and_report_of_a_version_write_outside_the_version_folder(label_data, tmp_path, monkeypatch):
    _add(label_data, "--name", "inv")
    (folder,) = [d for d in datasets_dir().iterdir() if d.is_dir()]
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["data", "clean", "inv"]).exit_code == 0
    assert CliRunner().invoke(app, ["data", "report", "inv", "--base", "none"]).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == [DATA_FILE, MANIFEST]
    assert (tmp_path / (folder.name.replace("@", "-") + ".clean.jsonl")).is_file()
    assert (tmp_path / (folder.name.replace("@", "-") + ".report.html")).is_file()
