"""The registry: versions and lineage from run folders, stages, the eval gate, rollback, and its CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import write_eval
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.registry.gate import check_gate
from tuneforge.registry.store import MIGRATIONS, Registry, RegistryError
from tuneforge.sqlite_db import open_db


@pytest.fixture
def runs(tiny_variants, tmp_path):
    """Copies of the tiny variant runs, each with its own eval.json."""
    out = {}
    for name, folder in tiny_variants.items():
        out[name] = shutil.copytree(folder, tmp_path / name)
    return out


def test_register_records_lineage_and_versions(runs, tiny_model_dir):
    write_eval(runs["alpha"] / "eval.json", tuned=0.9, baseline=0.4)
    reg = Registry()
    v1 = reg.register(runs["alpha"], "invoice-coder")
    v2 = reg.register(runs["beta"], "invoice-coder")
    assert (v1.ref, v2.ref) == ("invoice-coder:1", "invoice-coder:2")
    assert v1.stage == "candidate" and v1.dataset_hash == "sha256:tiny-variant-1"
    assert v1.base == str(tiny_model_dir) and v1.run_path == str(runs["alpha"].resolve())
    assert v1.config == {"seed": 1, "lora_r": 8}
    assert v1.metrics["eval"]["systems"]["fine-tuned"]["exact_match"] == 0.9
    assert v2.metrics["eval"] == {}  # beta has no eval.json
    # The bare name picks the newest non-archived version while nothing is in production.
    assert reg.get("invoice-coder").ref == "invoice-coder:2"
    with pytest.raises(RegistryError, match="no such variant"):
        reg.get("nope:1")
    with pytest.raises(RegistryError, match="lower-case"):
        reg.register(runs["alpha"], "Bad Name")


def test_promotion_gate_rollback_and_archive(runs):
    write_eval(runs["alpha"] / "eval.json", tuned=0.8, baseline=0.5)
    write_eval(runs["beta"] / "eval.json", tuned=0.3, baseline=0.5)
    reg = Registry()
    reg.register(runs["alpha"], "coder")
    reg.register(runs["beta"], "coder")

    with pytest.raises(RegistryError, match="does not beat the best prompted baseline"):
        reg.promote("coder:2", "production")
    assert reg.get("coder:2").stage == "candidate"  # a refused promotion changes nothing

    v, gate = reg.promote("coder:1", "production")
    assert v.stage == "production" and gate.passed and gate.candidate == 0.8
    assert reg.get("coder").ref == "coder:1" and reg.get("coder@production").ref == "coder:1"

    # A waived gate is possible and recorded; the old production version steps down to staging.
    v2, gate2 = reg.promote("coder:2", "production", require_gate=False)
    assert gate2 is None and reg.get("coder:1").stage == "staging"
    assert "gate waived" in reg.history(v2)[-1]["reason"]

    restored, retired = reg.rollback("coder")
    assert (restored.ref, restored.stage) == ("coder:1", "production")
    assert (retired.ref, retired.stage) == ("coder:2", "archived")
    with pytest.raises(RegistryError, match="no earlier production version"):
        reg.rollback("coder")
    assert reg.archive("coder:1").stage == "archived"
    with pytest.raises(RegistryError, match="no such variant"):
        reg.get("coder")  # everything archived: the bare name resolves to nothing
    stages = [e["to_stage"] for e in reg.history(reg.get("coder:1"))]
    assert stages == ["candidate", "production", "staging", "production", "archived"]


def test_gate_compares_with_production_on_same_data(tmp_path):
    cand = write_eval(tmp_path / "cand.json", tuned=0.7, baseline=0.5)
    prod = write_eval(tmp_path / "prod.json", tuned=0.75, baseline=0.5)
    other = write_eval(tmp_path / "other.json", tuned=0.99, baseline=0.5, data="/elsewhere.jsonl")
    assert check_gate(cand).passed
    worse = check_gate(cand, prod)
    assert not worse.passed and "below the current production" in worse.summary()
    assert check_gate(cand, other).passed  # different test data: not comparable
    assert not check_gate(cand, min_margin=0.3).passed
    (tmp_path / "bad.json").write_text('{"systems": {"fine-tuned": {}}}')
    with pytest.raises(ValueError, match="systems.fine-tuned.exact_match"):
        check_gate(tmp_path / "bad.json")


def test_migrations_are_named_and_applied_once(tmp_path):
    path = tmp_path / "r.db"
    Registry(path).close()
    conn = open_db(path, MIGRATIONS)  # reopening must not re-run (CREATE TABLE would fail)
    names = [r["name"] for r in conn.execute("SELECT name FROM migrations")]
    assert names == ["0001_variants", "0002_one_production_per_name"]
    extra = MIGRATIONS + [("0003_note", "ALTER TABLE variants ADD COLUMN note TEXT")]
    conn = open_db(path, extra)
    assert "note" in [r[1] for r in conn.execute("PRAGMA table_info(variants)")]


def test_models_cli_register_list_show_promote(runs):
    write_eval(runs["alpha"] / "eval.json", tuned=0.9, baseline=0.4)
    cli = CliRunner()
    r = cli.invoke(app, ["models", "register", str(runs["alpha"]), "--name", "invoice-coder"])
    assert r.exit_code == 0, r.output
    assert "registered invoice-coder:1 (candidate)" in r.output
    r = cli.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "invoice-coder:1" in r.output and "smollm2-135m" in r.output
    r = cli.invoke(app, ["models", "show", "invoice-coder:1"])
    shown = json.loads(r.output)
    assert shown["dataset_hash"] == "sha256:tiny-variant-1" and shown["history"][0]["to_stage"] == "candidate"
    r = cli.invoke(app, ["models", "promote", "invoice-coder:1"])
    assert r.exit_code == 0 and "eval gate passed" in r.output and "now in production" in r.output
    r = cli.invoke(app, ["models", "promote", "nope:3"])
    assert r.exit_code == 1 and "no such variant" in r.output
