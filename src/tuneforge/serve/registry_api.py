"""The registry over HTTP: list names and versions (lineage, stage history, the job that made a version),
promote through the one gate (registry/store.Registry.promote, which calls eval/gate.decide) and roll back.
The same operations as `tuneforge models show/promote/rollback`; scoped by owner (serve/registry_access.py).

    GET  /v1/registry/models                  names the caller may see, each with its versions
    GET  /v1/registry/models/{name}           one name: versions with stage history, lineage events
    POST /v1/registry/models/{ref}/promote    body: config.PromoteBody; 409 with the gate's reason when refused
    POST /v1/registry/models/{name}/rollback  the previous production version back; the current one archived
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request

from tuneforge.config import PromoteBody
from tuneforge.serve.errors import ApiError
from tuneforge.serve.registry_access import caller, check_name, registry_error, visible_names


def _registry():
    from tuneforge.registry.store import Registry

    return Registry()


def gate_object(d) -> dict:
    """One eval/gate.GateDecision as JSON: the reason in words and the numbers behind it."""
    return {"passed": d.passed, "reason": d.summary(), "metric": d.metric, "candidate": d.candidate,
            "incumbent": d.incumbent, "improvement": d.improvement, "min_delta": d.min_delta, "p_value": d.p_value}


def _job_link(run_path: str) -> dict:
    """The fine-tuning job that made a run (RUN/job.json, written by jobs/worker.py), or {}."""
    path = Path(run_path) / "job.json"
    if not path.is_file():
        return {}
    job = json.loads(path.read_text(encoding="utf-8"))
    return {"job": job.get("job"), "fine_tuned_model": job.get("fine_tuned_model")}


def version_object(v, registry=None) -> dict:
    from tuneforge.registry.owners import owner_of

    ev = v.metrics.get("eval") or {}
    headline = {name: s.get("metrics", {}) for name, s in (ev.get("systems") or {}).items()}
    out = {"object": "registry.version", "ref": v.ref, "name": v.name, "version": v.version, "stage": v.stage,
           "owner": owner_of(v.name), "base": v.base, "dataset": v.dataset_path, "dataset_hash": v.dataset_hash,
           "created_at": v.created_at, "registered_at": v.registered_at, "evaluated": bool(v.eval_path),
           "task": ev.get("task"), "metrics": headline, **_job_link(v.run_path)}
    if registry is not None:
        out["history"] = [{"from": e["from_stage"], "to": e["to_stage"], "reason": e["reason"], "at": e["at"]}
                          for e in registry.history(v)]
    return out


def name_object(name: str, versions: list, registry=None) -> dict:
    production = next((v.ref for v in versions if v.stage == "production"), None)
    return {"object": "registry.model", "name": name, "production": production,
            "versions": [version_object(v, registry) for v in versions]}


def registry_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/registry/models")
    def list_models(request: Request):
        allowed = visible_names(caller(request))
        registry = _registry()
        try:
            by_name: dict[str, list] = {}
            for v in registry.list():
                if allowed is None or v.name in allowed:
                    by_name.setdefault(v.name, []).append(v)
            data = [name_object(n, vs) for n, vs in by_name.items()]
        finally:
            registry.close()
        return {"object": "list", "data": data}

    @router.get("/v1/registry/models/{name}")
    def show(name: str, request: Request):
        from tuneforge.registry import lineage

        name = check_name(caller(request), name)
        registry = _registry()
        try:
            out = name_object(name, registry.list(name=name), registry)
        finally:
            registry.close()
        out["lineage"] = [{"at": e["at"], "step": e["step"], "version": e["variant_ref"], "parent": e["parent_ref"],
                           "detail": e["detail"]} for e in lineage.events(name)]
        return out

    @router.post("/v1/registry/models/{ref}/promote")
    def promote(ref: str, body: PromoteBody, request: Request):
        from tuneforge.registry.store import GateRefused, RegistryError

        check_name(caller(request), ref, write=True)
        registry = _registry()
        try:
            v, gate = registry.promote(ref, body.to, min_margin=body.min_delta, metric=body.metric,
                                       confidence=body.confidence)
            history = registry.history(v)
        except GateRefused as err:
            raise ApiError(409, str(err), code="gate_failed", param="model") from None
        except RegistryError as err:
            raise registry_error(err) from None
        finally:
            registry.close()
        return {"object": "registry.promotion", "ref": v.ref, "stage": v.stage, "promoted": True,
                "reason": history[-1]["reason"], "gate": [gate_object(d) for d in gate or []]}

    @router.post("/v1/registry/models/{name}/rollback")
    def rollback(name: str, request: Request):
        from tuneforge.registry.store import RegistryError

        check_name(caller(request), name, write=True)
        registry = _registry()
        try:
            restored, retired = registry.rollback(name)
        except RegistryError as err:
            raise registry_error(err) from None
        finally:
            registry.close()
        return {"object": "registry.rollback", "restored": restored.ref, "archived": retired.ref,
                "reason": f"{restored.ref} is back in production; {retired.ref} is archived"}

    return router
