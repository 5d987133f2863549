"""Issue 12 defects 5, 7 and 8 for the SQLite state: damaged or empty databases are named and left alone, the
registry allows one production version per name (the database enforces it, concurrent promotions serialise),
and state files are owner-only."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import threading

import pytest
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.monitor.traffic_log import TrafficLog
from tuneforge.paths import home
from tuneforge.registry.store import MIGRATIONS, Registry
from tuneforge.serve.keys import KeyStore
from tuneforge.sqlite_db import DatabaseDamaged, open_db

STORES = {"registry": (Registry, "registry.db"), "keys": (KeyStore, "keys.db"),
          "traffic": (TrafficLog, "traffic.db")}


@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize("content,message", [(b"", "is empty"), (b"not a database at all\n" * 200, "not a readable")])
def test_a_damaged_database_is_named_and_left_alone(store, content, message):
    cls, name = STORES[store]
    path = home() / name
    path.write_bytes(content)
    with pytest.raises(DatabaseDamaged, match=message) as err:
        cls(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == content  # never silently replaced by a new, empty database


def test_the_cli_reports_a_damaged_registry_without_a_traceback():
    (home() / "registry.db").write_bytes(b"")
    r = CliRunner().invoke(app, ["models", "promote", "coder:1"])
    assert r.exit_code == 1 and "registry.db: is empty" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("store", sorted(STORES))
def test_state_databases_are_owner_only(store):
    cls, name = STORES[store]
    obj = cls(home() / name)
    (obj.close if hasattr(obj, "close") else obj.conn.close)()
    assert stat.S_IMODE((home() / name).stat().st_mode) == 0o600


def test_an_old_world_readable_database_is_tightened(tmp_path):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    path.write_bytes(b"")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    path.chmod(0o644)
    open_db(path, []).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.fixture
def three_versions(tiny_variants, tmp_path):
    reg = Registry()
    for k in range(3):
        reg.register(shutil.copytree(tiny_variants["alpha"], tmp_path / f"v{k}"), "coder")
    return reg


def test_the_database_refuses_a_second_production_version(three_versions):
    reg = three_versions
    reg.promote("coder:1", "production", require_gate=False)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        reg.conn.execute("UPDATE variants SET stage = 'production' WHERE name = 'coder' AND version = 2")


def test_concurrent_promotions_leave_one_production_version_and_rollback_works(three_versions, monkeypatch):
    """Each promoting thread pauses right after reading the current production version. Read outside the write
    transaction (the old code), both read "none" and both promote; inside it, the second waits for the first."""
    path = three_versions.conn.execute("PRAGMA database_list").fetchone()["file"]
    barrier = threading.Barrier(2, timeout=2)
    real_find = Registry.find

    def find_then_pause(self, ref):
        found = real_find(self, ref)
        if ref.endswith("@production"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:  # the other thread is (correctly) waiting for our transaction
                pass
        return found

    monkeypatch.setattr(Registry, "find", find_then_pause)
    errors = []

    def promote(ref):
        try:
            Registry(path).promote(ref, "production", require_gate=False)
        except Exception as err:
            errors.append(repr(err))

    threads = [threading.Thread(target=promote, args=(f"coder:{k}",)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.undo()
    assert errors == []
    reg = Registry(path)
    production = [v.ref for v in reg.list("coder") if v.stage == "production"]
    assert len(production) == 1
    back, archived = reg.rollback("coder")  # failed when two versions were in production
    assert back.stage == "production" and archived.stage == "archived" and back.ref != archived.ref


def test_a_registry_with_two_production_versions_is_repaired_on_open(tiny_variants, tmp_path):
    path = tmp_path / "old-registry.db"
    conn = open_db(path, MIGRATIONS[:1])  # a registry made before the constraint
    for version in (1, 2):
        conn.execute("INSERT INTO variants (name, version, run_path, base, config_json, metrics_json, stage,"
                     " created_at, registered_at) VALUES ('c', ?, '/r', 'b', '{}', '{}', 'production', 'x', 'x')",
                     (version,))
    conn.close()
    reg = Registry(path)
    assert [(v.version, v.stage) for v in reg.list("c")] == [(1, "staging"), (2, "production")]
    assert "repair" in reg.history(reg.get("c:1"))[-1]["reason"]
