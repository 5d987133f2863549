"""Issue 12 defect 2 and 7: a tampered dataset version is refused naming it, `data verify` checks every version,
a damaged manifest hides no other version, two processes adding the same data both succeed, and the newest
version of a name is the one added last even within one second."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from conftest import chat_row, write_jsonl
from tuneforge.cli.main import app
from tuneforge.data.version_check import VersionTampered
from tuneforge.data.versions import DATA_FILE, MANIFEST, datasets_dir, resolve_data_path

runner = CliRunner()


def _add(path, name="inv"):
    r = runner.invoke(app, ["data", "add", str(path), "--name", name])
    assert r.exit_code == 0, r.output
    return r.output.split("stored: ")[1].split(" ")[0]


def _tamper(vid: str, change_mtime: bool = True, new: str = '"travel"') -> None:
    data = datasets_dir() / vid / DATA_FILE
    st = data.stat()
    data.chmod(0o644)
    text = data.read_text().replace('"software"', new, 1)
    data.write_text(text)
    if not change_mtime:  # a careful tamperer: same size is not guaranteed, same mtime is
        os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:  # a later time for sure (file times are coarser than the clock: an edit within a tick would keep it)
        os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_a_tampered_version_is_refused_by_name_everywhere(label_data):
    vid = _add(label_data)
    _tamper(vid)
    with pytest.raises(VersionTampered, match=f"dataset version {vid}: .* was changed after it was stored"):
        resolve_data_path(vid)
    with pytest.raises(VersionTampered, match=vid):
        resolve_data_path("inv")  # by name too
    r = runner.invoke(app, ["data", "check", vid, "--base", "none"])
    assert r.exit_code == 1 and "changed after it was stored" in r.output


def test_an_edit_that_keeps_the_size_is_refused_on_use(label_data):
    vid = _add(label_data)
    data = datasets_dir() / vid / DATA_FILE
    size = data.stat().st_size
    _tamper(vid, new='"hardware"')
    assert data.stat().st_size == size  # only the modification time can tell the on-use fast path
    with pytest.raises(VersionTampered, match=f"dataset version {vid}: .* was changed after it was stored"):
        resolve_data_path(vid)


def test_data_verify_hashes_every_version_in_full(label_data, tmp_path):
    good = _add(label_data, "good")
    other = write_jsonl(tmp_path / "b.jsonl", [chat_row(f"line {i}", "software") for i in range(12)])
    bad = _add(other, "bad")
    _tamper(bad, change_mtime=False)  # the on-use fast path (size + mtime) could miss this; verify does not
    r = runner.invoke(app, ["data", "verify"])
    assert r.exit_code == 1, r.output
    assert f"ok: {good}" in r.output and f"FAILED: dataset version {bad}" in r.output
    assert "2 version(s) checked, 1 failed" in r.output


def test_a_damaged_manifest_does_not_break_data_list(label_data, tmp_path):
    good = _add(label_data, "good")
    other = write_jsonl(tmp_path / "b.jsonl", [chat_row(f"line {i}", "software") for i in range(12)])
    broken = _add(other, "broken")
    manifest = datasets_dir() / broken / MANIFEST
    manifest.chmod(0o644)
    manifest.write_text('{"format": "tuneforge.dataset/1", "id": ')  # cut off mid-write
    r = runner.invoke(app, ["data", "list"])
    assert r.exit_code == 0, r.output
    assert good in r.output and f"damaged: {manifest}: damaged manifest" in r.output


def test_newest_version_is_the_last_added_even_within_one_second(tmp_path):
    ids = []
    for k in range(3):  # three versions in well under a second: created_at cannot order them
        data = write_jsonl(tmp_path / f"d{k}.jsonl", [chat_row(f"text {k} {i}", "software") for i in range(12)])
        ids.append(_add(data, "fast"))
    seqs = [json.loads((datasets_dir() / v / MANIFEST).read_text())["sequence"] for v in ids]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert resolve_data_path("fast")[1] == ids[-1]


def test_two_processes_adding_the_same_data_both_succeed(label_data, monkeypatch):
    """Threads stand in for processes: a barrier holds every writer between "not stored yet" and the rename, the
    window two `data add` processes once collided in (OSError: Directory not empty)."""
    import threading

    from tuneforge.data import versions
    from tuneforge.data.formats import load_examples

    examples, fmt = load_examples(label_data)
    barrier = threading.Barrier(4, timeout=30)
    real = versions._next_sequence

    def everyone_gets_here_first(root):
        barrier.wait()
        return real(root)

    monkeypatch.setattr(versions, "_next_sequence", everyone_gets_here_first)
    results, errors = [], []

    def add():
        try:
            results.append(versions.add_version(examples, label_data, fmt, "race"))
        except Exception as err:  # collected: the assertion below shows it
            errors.append(repr(err))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({vid for vid, _, _ in results}) == 1 and sorted(c for _, _, c in results) == [False, False, False, True]
    stored = [d for d in datasets_dir().iterdir() if d.is_dir()]
    assert [d.name for d in stored] == [results[0][0]]  # one version, no temporary leftovers
