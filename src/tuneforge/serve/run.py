"""Start the server: check the security settings, load the models, run uvicorn."""

from __future__ import annotations

from tuneforge.config import ServeConfig
from tuneforge.errors import UserError
from tuneforge.serve.security import LOOPBACK_HOSTS


def default_specs() -> list[str]:
    from tuneforge.models.resolve import DEFAULT_BASE
    from tuneforge.registry.store import Registry

    registry = Registry()
    try:
        refs = [v.ref for v in registry.list(include_archived=False)]
    finally:
        registry.close()
    return refs or [DEFAULT_BASE]


def key_store_for(cfg: ServeConfig):
    """The key store to check requests against, or None in local-only mode (refused off loopback)."""
    from tuneforge.serve.keys import KeyStore

    if cfg.local_only:
        if cfg.host not in LOOPBACK_HOSTS:
            raise UserError(f"--local-only serves without API keys, so it is allowed only on a loopback host "
                             f"({', '.join(sorted(LOOPBACK_HOSTS))}), not on {cfg.host!r}")
        return None
    keys = KeyStore()
    if keys.active_count() == 0:
        raise UserError("no API keys exist: create one with `tuneforge keys create NAME`, "
                         "or serve on 127.0.0.1 without keys with --local-only")
    return keys


def serve(cfg: ServeConfig, log=print) -> None:
    import uvicorn

    from tuneforge.monitor.traffic_log import TrafficLog
    from tuneforge.serve.app import create_app
    from tuneforge.serve.catalog import Catalog

    keys = key_store_for(cfg)
    specs = cfg.model or default_specs()
    log(f"loading {', '.join(specs)} ...")
    catalog = Catalog.load(specs, max_batch=cfg.max_batch_size, max_queue=cfg.max_queue,
                           batch_wait_s=cfg.batch_wait_ms / 1000, dtype=cfg.dtype,
                           trust_remote_code=cfg.trust_remote_code)
    traffic = TrafficLog(redact_pii=cfg.redact_pii) if cfg.log_traffic else None
    if cfg.follow_registry:
        from tuneforge.serve.follow import RegistryFollower

        RegistryFollower(catalog, cfg.follow_interval_s, log)
    fine_tuning = None
    try:
        if cfg.fine_tuning_api:
            from tuneforge.jobs.service import JobsService

            fine_tuning = JobsService(catalog, cfg.max_running_jobs, cfg.max_file_bytes, log=log).start()
        app = create_app(catalog, keys, traffic, cfg.max_body_bytes, fine_tuning)
        if cfg.ui:
            from tuneforge.ui import mount_ui

            mount_ui(app)
        log("serving: " + ", ".join(m.id for m in catalog.list()))
        log(f"OpenAI base URL: http://{cfg.host}:{cfg.port}/v1" + ("  (no API key needed)" if keys is None else ""))
        if cfg.ui:
            log(f"web app: http://{cfg.host}:{cfg.port}/ui/")
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    finally:
        if fine_tuning is not None:
            fine_tuning.close()  # stops training processes; their jobs resume at the next start
        catalog.close()
        if traffic is not None:
            traffic.close()
