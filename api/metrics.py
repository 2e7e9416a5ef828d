"""Prometheus metrics of the API process, on a registry of its own (one per app).

Besides request counts and latencies, a collector reads the queue depths that
matter to whoever runs sqm at scrape time: the length of each event stream
partition, of the dead-letter stream and of the anomalies stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqm import keys

log = logging.getLogger("sqm.api")




class _StreamDepths(Collector):
    def __init__(self, redis: Any, partitions: int) -> None:
        self.redis = redis
        self.partitions = partitions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        events = GaugeMetricFamily("sqm_events_stream_entries", "entries in each event stream partition", labels=["partition"])
        other = GaugeMetricFamily("sqm_stream_entries", "entries in the dead-letter and anomalies streams", labels=["stream"])
        try:
            pipe = self.redis.pipeline(transaction=False)
            for p in range(self.partitions):
                pipe.xlen(keys.events_stream(p))
            pipe.xlen(keys.DLQ)
            pipe.xlen(keys.ANOMALIES)
            pipe.hgetall(keys.FLOW_STATS)
            *lengths, flow = pipe.execute()
        except Exception as err:  # a scrape must not fail because Redis is down: /readyz says so
            log.warning("api: /metrics could not read stream lengths: %s", err)
            return
        for p, n in enumerate(lengths[: self.partitions]):
            events.add_metric([str(p)], n)
        other.add_metric(["dlq"], lengths[-2])
        other.add_metric(["anomalies"], lengths[-1])
        counters = GaugeMetricFamily("sqm_flow_counter", "the dataflow's counters (sqm:flow:stats)", labels=["name"])
        for name, value in flow.items():
            try:
                counters.add_metric([name.decode() if isinstance(name, bytes) else name], float(value))
            except ValueError:
                continue
        yield events
        yield other
        yield counters


class ApiMetrics:
    """The API's own metrics."""

    def __init__(self, redis: Any, partitions: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("sqm_api_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "sqm_api_request_seconds", "HTTP request time to the start of the response", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=r,
        )
        self.events_accepted = Counter("sqm_api_events_accepted", "events written to the event streams", registry=r)
        self.events_rejected = Counter("sqm_api_events_rejected", "event requests refused", ["reason"], registry=r)
        self.auth_failures = Counter("sqm_api_auth_failures", "requests refused by authentication", ["reason"], registry=r)
        self.rate_limited = Counter("sqm_api_rate_limited", "requests refused by the rate limit", registry=r)
        self.sse_clients = Gauge("sqm_api_sse_clients", "open /v1/live connections", registry=r)
        self.registry.register(_StreamDepths(redis, partitions))


SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_DOCS = "/docs"  # Swagger UI's page starts itself with an inline script (its assets are ours: /docs/assets)


class ObservingMiddleware:
    """Pure ASGI middleware (it does not buffer, so SSE streams pass through):
    counts and times requests by route template and adds the security headers — to every
    answer, errors included: an unhandled exception is logged and answered 500 here, inside,
    rather than by Starlette's outermost handler, which would send no security headers."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500
        started_response = False
        path: str = scope["path"]

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not path.startswith(_DOCS):
                    headers.append((b"content-security-policy", CSP))
                message["headers"] = headers
                route = scope.get("route")
                template = getattr(route, "path", None) or "<unmatched>"
                self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # an unhandled error would reach Starlette's outermost handler, which answers without our headers
            log.exception("api: %s %s failed", scope["method"], path)
            if status_code != 500 or started_response:
                raise
            body = b'{"detail":"internal error"}'
            await send_wrapper({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send_wrapper({"type": "http.response.body", "body": body})
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/static" if path.startswith("/static/") else "<unmatched>")
            self.metrics.requests.labels(scope["method"], template, str(status_code)).inc()
