"""The registry: versions and lineage from run folders, stages, the eval gate, rollback, and its CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import write_eval
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.registry.store import MIGRATIONS, Registry, RegistryError
from tuneforge.sqlite_db import open_db


@pytest.fixture
def runs(tiny_variants, tmp_path):
    """Copies of the tiny variant runs, each with its own eval.json."""
    out = {}
    for name, folder in tiny_variants.items():
        out[name] = shutil.copytree(folder, tmp_path / name)
    return out


def test_rollback_puts_back_the_latest_earlier_production_version(runs):
    reg = Registry()
    for _ in range(3):
        reg.register(runs["alpha"], "coder")
    for k in (1, 2, 3):
        reg.promote(f"coder:{k}", "production", require_gate=False)
    restored, retired = reg.rollback("coder")
    assert (restored.ref, retired.ref) == ("coder:2", "coder:3")  # the one just before, not the first ever
    assert reg.get("coder@production").ref == "coder:2"


def test_register_records_lineage_and_versions(runs, tiny_model_dir):
    write_eval(runs["alpha"] / "eval.json", tuned=0.9, baseline=0.4)
    reg = Registry()
    v1 = reg.register(runs["alpha"], "invoice-coder")
    v2 = reg.register(runs["beta"], "invoice-coder")
    assert (v1.ref, v2.ref) == ("invoice-coder:1", "invoice-coder:2")
    assert v1.stage == "candidate" and v1.dataset_hash == "sha256:tiny-variant-1"
    assert v1.base == str(tiny_model_dir) and v1.run_path == str(runs["alpha"].resolve())
    assert v1.config == {"seed": 1, "lora_r": 8}
    assert v1.metrics["eval"]["systems"]["fine-tuned"]["metrics"]["accuracy"] == 0.9
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

    with pytest.raises(RegistryError, match="not promoted: FAIL .*#fine-tuned vs .*#base zero-shot"):
        reg.promote("coder:2", "production")
    assert reg.get("coder:2").stage == "candidate"  # a refused promotion changes nothing

    v, gate = reg.promote("coder:1", "production")
    assert v.stage == "production" and gate[0].passed and gate[0].candidate == 0.8 and gate[0].metric == "accuracy"
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


def _promote_over(runs, tmp_path, prod_score, cand_score, data="/data/test.jsonl", **gate):
    """Production holds a version scoring `prod_score`; try to promote one scoring `cand_score` (baseline 0.3)."""
    write_eval(runs["alpha"] / "eval.json", tuned=prod_score, baseline=0.3)
    write_eval(runs["beta"] / "eval.json", tuned=cand_score, baseline=0.3, data=data)
    reg = Registry(tmp_path / "r.db")
    reg.register(runs["alpha"], "coder")
    reg.register(runs["beta"], "coder")
    reg.promote("coder:1", "production")
    return reg.promote("coder:2", "production", **gate)


def test_promotion_uses_the_eval_gate_against_production(runs, tmp_path):
    with pytest.raises(RegistryError, match="not promoted: FAIL .*#fine-tuned vs .*alpha.*#fine-tuned: accuracy 0.7 vs 0.75"):
        _promote_over(runs, tmp_path / "worse", 0.75, 0.7)
    v, gate = _promote_over(runs, tmp_path / "other", 0.99, 0.7, data="/elsewhere.jsonl")
    assert v.stage == "production" and len(gate) == 1  # production was evaluated on other data: not compared
    v, gate = _promote_over(runs, tmp_path / "better", 0.7, 0.95)
    assert [d.passed for d in gate] == [True, True] and gate[1].incumbent == 0.7


def _retrain_eval(path, cand: float, prod: float):
    """An eval.json as a retrain writes it: the candidate beside the production version, no prompted baselines."""
    report = json.loads(write_eval(path, tuned=cand, baseline=prod).read_text())
    for part in (report["systems"], *[e["scores"] for e in report["examples"]],
                 *[e["timing"] for e in report["examples"]]):
        part["production"] = part.pop("base zero-shot")
    report["systems"]["production"]["kind"] = "variant"
    path.write_text(json.dumps(report))


def test_a_retrained_version_is_gated_against_production_in_its_own_eval(runs, tmp_path):
    write_eval(runs["alpha"] / "eval.json", tuned=0.6, baseline=0.3)
    reg = Registry(tmp_path / "r.db")
    reg.register(runs["alpha"], "coder")
    reg.promote("coder:1", "production")
    _retrain_eval(runs["beta"] / "eval.json", cand=0.55, prod=0.6)
    reg.register(runs["beta"], "coder")
    with pytest.raises(RegistryError, match=r"not promoted: FAIL .*#fine-tuned vs .*#production: accuracy 0.55 vs 0.6"):
        reg.promote("coder:2", "production")
    _retrain_eval(runs["beta"] / "eval.json", cand=0.95, prod=0.6)
    v, gate = reg.promote("coder:2", "production")
    assert v.stage == "production" and [(d.passed, d.incumbent) for d in gate] == [(True, 0.6)]
    # With nothing in production to compare with, such an eval still has no baseline: refused, not waved through.
    reg.register(runs["beta"], "other")
    with pytest.raises(RegistryError, match="no prompted baseline"):
        reg.promote("other:1", "production")


def test_promotion_refuses_a_candidate_that_is_not_significantly_better(runs, tmp_path):
    # 11/20 against a 10/20 baseline: better, but one example is no evidence.
    write_eval(runs["alpha"] / "eval.json", tuned=0.55, baseline=0.5)
    reg = Registry(tmp_path / "r.db")
    reg.register(runs["alpha"], "coder")
    with pytest.raises(RegistryError, match="not significant at 95% confidence"):
        reg.promote("coder:1", "production")
    with pytest.raises(RegistryError, match=r"improvement \+0.05, required more than \+0.1"):
        reg.promote("coder:1", "production", min_margin=0.1, confidence=0)
    v, gate = reg.promote("coder:1", "production", confidence=0)
    assert v.stage == "production" and gate[0].p_value > 0.05


def test_promotion_on_a_lower_is_better_metric(runs, tmp_path):
    """`--metric latency_p50_s`: the faster variant passes, the slower one is refused."""
    path = write_eval(runs["alpha"] / "eval.json", tuned=0.9, baseline=0.5)
    report = json.loads(path.read_text())
    for i, ex in enumerate(report["examples"]):
        ex["timing"] = {"fine-tuned": {"latency_s": 0.05 + i / 1000}, "base zero-shot": {"latency_s": 0.2 + i / 1000}}
    report["systems"]["fine-tuned"]["latency_p50_s"], report["systems"]["base zero-shot"]["latency_p50_s"] = 0.06, 0.21
    path.write_text(json.dumps(report))
    reg = Registry(tmp_path / "r.db")
    reg.register(runs["alpha"], "coder")
    v, gate = reg.promote("coder:1", "staging")
    assert gate is None  # only production is gated
    v, gate = reg.promote("coder:1", "production", metric="latency_p50_s")
    assert gate[0].improvement == pytest.approx(0.15) and gate[0].p_value < 0.05
    report["systems"]["fine-tuned"]["latency_p50_s"] = 0.5
    path.write_text(json.dumps(report))
    reg.register(runs["alpha"], "slow")
    with pytest.raises(RegistryError, match="lower is better"):
        reg.promote("slow:1", "production", metric="latency_p50_s")


def test_promote_refuses_a_file_that_is_not_an_eval(runs, tmp_path):
    (runs["alpha"] / "eval.json").write_text('{"systems": {"fine-tuned": {}}, "format": "tuneforge.eval/3"}')
    reg = Registry(tmp_path / "r.db")
    reg.register(runs["alpha"], "coder")
    with pytest.raises(RegistryError, match="no prompted baseline"):
        reg.promote("coder:1", "production")


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
    evaluation = write_eval(runs["alpha"] / "eval.json", tuned=0.9, baseline=0.4)
    report = json.loads(evaluation.read_text())  # as eval writes it for a variant that states probabilities
    report["systems"]["fine-tuned"]["calibration"] = {"ece": 0.0317, "mean_confidence": 0.88, "accuracy": 0.9}
    evaluation.write_text(json.dumps(report))
    cli = CliRunner()
    r = cli.invoke(app, ["models", "register", str(runs["alpha"]), "--name", "invoice-coder"])
    assert r.exit_code == 0, r.output
    assert "registered invoice-coder:1 (candidate)" in r.output
    r = cli.invoke(app, ["models", "list"], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "invoice-coder:1" in r.output and "smollm2-135m" in r.output
    assert "calibration error" in r.output and "3.2%" in r.output and "90.0%" in r.output
    r = cli.invoke(app, ["models", "show", "invoice-coder:1"])
    shown = json.loads(r.output)
    assert shown["dataset_hash"] == "sha256:tiny-variant-1" and shown["history"][0]["to_stage"] == "candidate"
    r = cli.invoke(app, ["models", "promote", "invoice-coder:1"])
    assert r.exit_code == 0 and r.output.startswith("PASS") and "now in production" in r.output
    r = cli.invoke(app, ["models", "promote", "nope:3"])
    assert r.exit_code == 1 and "no such variant" in r.output
