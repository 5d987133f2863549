"""The FastAPI application: wiring only. Routes live in serve/routes_*.py, error shapes in error_handlers.py.

Other parts of tuneforge add their own routers in `create_app` below (one `include_router` line each); a router
reads what it needs from `request.app.state` (catalog, keys, traffic, metrics).
"""

from __future__ import annotations

from fastapi import FastAPI

from tuneforge.serve import error_handlers
from tuneforge.serve.metrics import Metrics, MetricsMiddleware
from tuneforge.serve.security import BodySizeLimit


def create_app(catalog, keys=None, traffic=None, max_body_bytes: int = 1_000_000, fine_tuning=None) -> FastAPI:
    """`keys=None` serves without API keys (the CLI allows that only with --local-only on loopback).
    `fine_tuning`: a jobs.service.JobsService, to serve OpenAI's files and fine-tuning jobs API too."""
    from tuneforge.serve import routes_completions, routes_metrics, routes_models

    # The OpenAPI schema is served (/openapi.json) so clients and fuzzers can read the request shapes.
    app = FastAPI(title="tuneforge", docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.catalog, app.state.keys, app.state.traffic = catalog, keys, traffic
    app.state.metrics = Metrics(catalog)
    if fine_tuning is not None:
        from tuneforge.serve.jobs_api import mount_fine_tuning

        mount_fine_tuning(app, fine_tuning, keys)
        from tuneforge.serve.datasets_api import datasets_router

        app.include_router(datasets_router(fine_tuning, keys))  # the data workbench over HTTP (/v1/datasets)
    uploads = fine_tuning.body_limits() if fine_tuning is not None else {}
    if "/v1/files" in uploads:  # the web app's upload form forwards the file to POST /v1/files: the same limit
        uploads["/ui/data/upload"] = uploads["/v1/files"]
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, path_limits=uploads or None)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: also counts 413s
    error_handlers.install(app, max_body_bytes)

    # -- routers: add yours here ----------------------------------------------------------------------------------
    app.include_router(routes_models.router)
    app.include_router(routes_completions.router)
    app.include_router(routes_metrics.router)
    from tuneforge.serve.feedback_routes import monitor_router

    app.include_router(monitor_router(keys, traffic))  # POST /v1/feedback, GET /v1/review/queue (docs/monitor.md)
    from tuneforge.serve import evaluations_api, monitor_api, registry_api

    app.include_router(registry_api.registry_router())  # /v1/registry/models: versions, promote, rollback
    app.include_router(evaluations_api.evaluations_router())  # /v1/evaluations: eval.json of a version, or run one
    app.include_router(monitor_api.monitor_api_router(traffic))  # /v1/monitor/{name}: series, alerts, retrain
    return app
