"""Registered variants: a run folder under a human name `name:version`, its lineage and its stage.

References a user can type: `invoice-coder:3` (one version), `invoice-coder@production` (the version in a
stage) and `invoice-coder` (production if there is one, else the newest version that is not archived).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.eval.eval_file import EVAL_FILE, read_eval
from tuneforge.eval.gate import DEFAULT_CONFIDENCE, GateDecision, best_baseline, decide, default_metric, side
from tuneforge.paths import home
from tuneforge.run_record import read_run
from tuneforge.sqlite_db import open_db, transaction, utc_now

STAGES = ("candidate", "staging", "production", "archived")
# The system name under which an evaluation includes the current production version (registry/evaluate.py,
# monitor/retrain.py), so the gate can compare with it on the same examples.
PRODUCTION_SYSTEM = "production"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

MIGRATIONS = [
    (
        "0001_variants",
        """
        CREATE TABLE variants (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            run_path TEXT NOT NULL,
            base TEXT NOT NULL,
            dataset_path TEXT,
            dataset_hash TEXT,
            config_json TEXT NOT NULL,
            metrics_json TEXT NOT NULL,
            eval_path TEXT,
            stage TEXT NOT NULL DEFAULT 'candidate',
            created_at TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            UNIQUE (name, version)
        );
        CREATE TABLE stage_events (
            id INTEGER PRIMARY KEY,
            variant_id INTEGER NOT NULL REFERENCES variants(id),
            from_stage TEXT,
            to_stage TEXT NOT NULL,
            reason TEXT,
            at TEXT NOT NULL
        )
        """,
    ),
    (
        # One production version per name, enforced by the database: two concurrent promotions once left two.
        # A registry already in that state keeps the newest in production; the others move to staging, recorded.
        "0002_one_production_per_name",
        """
        INSERT INTO stage_events (variant_id, from_stage, to_stage, reason, at)
            SELECT id, 'production', 'staging', 'repair: another version of this name was also in production',
                   strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
            FROM variants v WHERE stage = 'production' AND EXISTS (
                SELECT 1 FROM variants w WHERE w.name = v.name AND w.stage = 'production' AND w.version > v.version);
        UPDATE variants SET stage = 'staging' WHERE stage = 'production' AND EXISTS (
            SELECT 1 FROM variants w WHERE w.name = variants.name AND w.stage = 'production'
            AND w.version > variants.version);
        CREATE UNIQUE INDEX one_production_per_name ON variants (name) WHERE stage = 'production'
        """,
    ),
]


class RegistryError(UserError):
    """A reference that names nothing, or a stage change that is not allowed."""


class GateRefused(RegistryError):
    """Promotion to production refused by the gate; `decisions` are the gate's (eval/gate.GateDecision)."""

    def __init__(self, message: str, decisions: list):
        super().__init__(message)
        self.decisions = decisions


@dataclass
class Variant:
    id: int
    name: str
    version: int
    run_path: str
    base: str
    dataset_path: str | None
    dataset_hash: str | None
    config: dict
    metrics: dict
    eval_path: str | None
    stage: str
    created_at: str
    registered_at: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def from_row(cls, row) -> "Variant":
        d = dict(row)
        d["config"] = json.loads(d.pop("config_json"))
        d["metrics"] = json.loads(d.pop("metrics_json"))
        return cls(**d)


def registry_path() -> Path:
    return home() / "registry.db"


def _eval_metrics(eval_path: Path | None) -> dict:
    if eval_path is None or not eval_path.is_file():
        return {}
    report = read_eval(eval_path)
    return {"data": report.data, "task": report.raw.get("task"), "systems": report.systems}


class Registry:
    def __init__(self, path: str | Path | None = None):
        self.conn = open_db(path or registry_path(), MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    # -- reading ---------------------------------------------------------------------------------------------
    def list(self, name: str | None = None, include_archived: bool = True) -> list[Variant]:
        sql, args = "SELECT * FROM variants", []
        where = []
        if name:
            where.append("name = ?")
            args.append(name)
        if not include_archived:
            where.append("stage != 'archived'")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Variant.from_row(r) for r in self.conn.execute(sql + " ORDER BY name, version", args)]

    def get(self, ref: str) -> Variant:
        name, _, rest = ref.partition("@")
        if rest:
            if rest not in STAGES:
                raise RegistryError(f"{ref!r}: unknown stage {rest!r}; stages are {', '.join(STAGES)}")
            row = self.conn.execute(
                "SELECT * FROM variants WHERE name = ? AND stage = ? ORDER BY version DESC LIMIT 1", (name, rest)
            ).fetchone()
            if row is None:
                raise RegistryError(f"{ref!r}: no version of {name!r} is in stage {rest}")
            return Variant.from_row(row)
        name, sep, version = ref.partition(":")
        if sep:
            if not version.isdigit():
                raise RegistryError(f"{ref!r}: the version after ':' must be a number")
            row = self.conn.execute("SELECT * FROM variants WHERE name = ? AND version = ?", (name, int(version))).fetchone()
        else:
            row = self.conn.execute(
                "SELECT * FROM variants WHERE name = ? AND stage != 'archived' "
                "ORDER BY stage = 'production' DESC, version DESC LIMIT 1", (name,)
            ).fetchone()
        if row is None:
            known = sorted({v.name for v in self.list()})
            hint = f"; registered names: {', '.join(known)}" if known else "; the registry is empty"
            raise RegistryError(f"{ref!r}: no such variant in the registry{hint}")
        return Variant.from_row(row)

    def find(self, ref: str) -> Variant | None:
        try:
            return self.get(ref)
        except RegistryError:
            return None

    def history(self, variant: Variant) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM stage_events WHERE variant_id = ? ORDER BY id", (variant.id,))
        return [dict(r) for r in rows]

    # -- writing ---------------------------------------------------------------------------------------------
    def register(self, run_dir: str | Path, name: str, eval_path: str | Path | None = None) -> Variant:
        if not _NAME.match(name):
            raise RegistryError(f"{name!r}: a variant name is lower-case letters, digits, '.', '_' or '-' (max 64)")
        run_dir = Path(run_dir).resolve()
        run = read_run(run_dir)
        # An adapter, or the whole trained model (full fine-tuning, e.g. a classification variant of an encoder).
        if not any((run_dir / f).is_file() for f in ("adapter_config.json", "model.safetensors")):
            raise RegistryError(f"{run_dir}: no adapter_config.json or model.safetensors; only finished training runs "
                                "can be registered")
        evp = Path(eval_path).resolve() if eval_path else run_dir / EVAL_FILE
        if eval_path and not evp.is_file():
            raise UserError(f"{evp}: eval file not found")
        metrics = {"training": run.get("metrics", {}), "eval": _eval_metrics(evp)}
        data = run.get("data", {})
        now = utc_now()
        with transaction(self.conn):
            version = self.conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM variants WHERE name = ?", (name,)
            ).fetchone()[0]
            cur = self.conn.execute(
                "INSERT INTO variants (name, version, run_path, base, dataset_path, dataset_hash, config_json,"
                " metrics_json, eval_path, stage, created_at, registered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, version, str(run_dir), run["base"]["name"], data.get("path"), data.get("hash"),
                 json.dumps(run.get("config", {})), json.dumps(metrics), str(evp) if evp.is_file() else None,
                 "candidate", run.get("created_at", now), now),
            )
            self._event(cur.lastrowid, None, "candidate", "registered")
        return self.get(f"{name}:{version}")

    def record_eval(self, ref: str, eval_path: str | Path) -> Variant:
        """Attach an evaluation made after registration (a finished job is registered before it is evaluated), so
        the gate can read it at promotion."""
        v = self.get(ref)
        evp = Path(eval_path).resolve()
        metrics = {**v.metrics, "eval": _eval_metrics(evp)}
        self.conn.execute("UPDATE variants SET eval_path = ?, metrics_json = ? WHERE id = ?",
                          (str(evp), json.dumps(metrics), v.id))
        return self.get(v.ref)

    def _event(self, variant_id: int, from_stage: str | None, to_stage: str, reason: str) -> None:
        self.conn.execute(
            "INSERT INTO stage_events (variant_id, from_stage, to_stage, reason, at) VALUES (?,?,?,?,?)",
            (variant_id, from_stage, to_stage, reason, utc_now()),
        )

    def _set_stage(self, v: Variant, stage: str, reason: str) -> None:
        self.conn.execute("UPDATE variants SET stage = ? WHERE id = ?", (stage, v.id))
        self._event(v.id, v.stage, stage, reason)

    def promote(self, ref: str, stage: str, require_gate: bool = True, min_margin: float = 0.0,
                metric: str | None = None, confidence: float | None = DEFAULT_CONFIDENCE, note: str | None = None,
                ) -> tuple[Variant, "list[GateDecision] | None"]:
        """Move a variant to `stage`. Production takes the gate (unless waived) and demotes the old one.
        `note` says why a waived gate was waived (e.g. a retrain that ran the gate itself).

        Everything is read inside the write transaction (BEGIN IMMEDIATE), so two promotions at once run one
        after the other, each seeing the other's result; the partial unique index backs this up.
        """
        if stage not in STAGES or stage == "archived":
            raise RegistryError(f"--to: promote to candidate, staging or production (got {stage!r}); use archive")
        gate = None
        with transaction(self.conn):
            v = self.get(ref)
            if v.stage == stage:
                raise RegistryError(f"{v.ref} is already in {stage}")
            current = self.find(f"{v.name}@production") if stage == "production" else None
            if stage == "production" and require_gate:
                gate = self._gate(v, current, metric, min_margin, confidence)
                failed = [d for d in gate if not d.passed]
                if failed:
                    raise GateRefused(f"{v.ref} not promoted: " + "; ".join(d.summary() for d in failed), gate)
            if current is not None:
                self._set_stage(current, "staging", f"replaced by {v.ref}")
            reason = "promoted" + (f" ({'; '.join(d.summary() for d in gate)})" if gate else f" ({note})" if note
                                   else " (gate waived)" if stage == "production" else "")
            self._set_stage(v, stage, reason)
        return self.get(v.ref), gate

    def _gate(self, v: Variant, current: "Variant | None", metric: str | None, min_margin: float,
              confidence: float | None) -> list[GateDecision]:
        """The one gate (eval/gate.py), twice: against the best prompted baseline of the variant's own eval, and
        against the production version when that was evaluated on the same data."""
        if not v.eval_path:
            raise RegistryError(f"{v.ref}: no eval.json recorded; evaluate it and register the eval, or waive the gate")
        report = read_eval(v.eval_path)
        metric = metric or default_metric(report)
        baseline = best_baseline(report, metric)
        # A retrained version's eval compares it with the production version on the same examples (paired) and
        # needs no prompted baselines: production already beat them through this gate.
        beside_production = current is not None and PRODUCTION_SYSTEM in report.systems
        if baseline is None and not beside_production:
            raise RegistryError(f"{v.eval_path} has no prompted baseline to compare with (eval ran with --no-baselines)"
                                " and no production version in the same evaluation")
        decisions = [decide(side(report), side(report, baseline), metric, min_margin, confidence)] if baseline else []
        if beside_production:
            decisions.append(decide(side(report), side(report, PRODUCTION_SYSTEM), metric, min_margin, confidence))
        elif current is not None and current.eval_path and Path(current.eval_path).is_file():
            prod = read_eval(current.eval_path)
            if prod.data == report.data:
                decisions.append(decide(side(report), side(prod), metric, min_margin, confidence))
        return decisions

    def rollback(self, name: str) -> tuple[Variant, Variant]:
        """Put back the version that was in production before the current one; the current one is archived."""
        with transaction(self.conn):
            current = self.get(f"{name}@production")
            row = self.conn.execute(
                "SELECT v.* FROM stage_events e JOIN variants v ON v.id = e.variant_id "
                "WHERE v.name = ? AND e.from_stage = 'production' AND v.id != ? AND v.stage != 'archived' "
                "ORDER BY e.id DESC LIMIT 1", (name, current.id),
            ).fetchone()
            if row is None:
                raise RegistryError(f"{name}: no earlier production version to roll back to")
            previous = Variant.from_row(row)
            # Archive first: the unique index allows one production version at any moment.
            self._set_stage(current, "archived", f"rolled back to {previous.ref}")
            self._set_stage(previous, "production", f"rollback from {current.ref}")
        return self.get(previous.ref), self.get(current.ref)

    def archive(self, ref: str) -> Variant:
        with transaction(self.conn):
            v = self.get(ref)
            if v.stage == "archived":
                raise RegistryError(f"{v.ref} is already archived")
            self._set_stage(v, "archived", "archived")
        return self.get(v.ref)
