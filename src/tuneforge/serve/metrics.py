"""/metrics in Prometheus' text format (prometheus_client): requests, latency, tokens, queue depth, errors.

Each app has its own CollectorRegistry (tests build many apps in one process). Requests, latency and errors are
counted by an ASGI middleware from the status each response starts with, labelled by the route's path template
(never the raw path, so a scan of random URLs cannot grow the label set); tokens and client hang-ups are counted
by the responder, since a hang-up during a stream happens after its 200 was sent.
"""

from __future__ import annotations

import time

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self, catalog):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("tuneforge_requests", "HTTP requests by route and status code.",
                                ["route", "status"], registry=self.registry)
        self.errors = Counter("tuneforge_errors", "Error responses (status >= 400) by status code.",
                              ["status"], registry=self.registry)
        self.latency = Histogram("tuneforge_request_latency_seconds", "Time to the response's first byte "
                                 "(whole answer when not streaming).", ["route"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.tokens = Counter("tuneforge_tokens", "Prompt and completion tokens by served model.",
                              ["model", "kind"], registry=self.registry)
        self.closed = Counter("tuneforge_client_disconnects", "Requests whose client hung up before the answer "
                              "was complete (logged as 499).", ["endpoint"], registry=self.registry)
        queue = Gauge("tuneforge_queue_depth", "Rows waiting for a batch slot, all engines together.",
                      registry=self.registry)
        queue.set_function(lambda: sum(e.queue.qsize() for e in getattr(catalog, "engines", [])))

    def count_tokens(self, model: str, prompt: int, completion: int) -> None:
        self.tokens.labels(model, "prompt").inc(prompt)
        self.tokens.labels(model, "completion").inc(completion)

    def client_closed(self, endpoint: str) -> None:
        self.closed.labels(endpoint).inc()

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """ASGI middleware: counts every HTTP response by route template and status, with its latency."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def counting_send(message):
            if message["type"] == "http.response.start":
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                status = str(message["status"])
                self.metrics.requests.labels(template, status).inc()
                self.metrics.latency.labels(template).observe(time.perf_counter() - started)
                if message["status"] >= 400:
                    self.metrics.errors.labels(status).inc()
            await send(message)

        await self.app(scope, receive, counting_send)
