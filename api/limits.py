"""Request rate limits: a token bucket per caller, in the API process's memory.

The caller is its API key (hashed, never kept in clear) or, without one, its
client address. Health checks, metrics and the live stream are not limited.
With several API processes each has its own buckets (the limit is per process).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.metrics import ApiMetrics
from api.security import presented_key

EXEMPT = ("/healthz", "/readyz", "/metrics", "/v1/live", "/static/")


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up, per key; the oldest keys are forgotten past ``max_keys``.

    >>> now = [0.0]
    >>> b = TokenBucket(rate=1.0, burst=2, clock=lambda: now[0])
    >>> [b.take("a")[0] for _ in range(3)], b.take("b")[0]
    ([True, True, False], True)
    >>> round(b.take("a")[1], 3)
    1.0
    >>> now[0] = 1.0; b.take("a")[0]
    True
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float]:
        """Take one token: (allowed, seconds until a token is available if not)."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self.rate


def caller(scope: Scope) -> str:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    client = scope.get("client")
    return f"addr:{client[0] if client else '?'}"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, bucket: TokenBucket, metrics: ApiMetrics) -> None:
        self.app = app
        self.bucket = bucket
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        allowed, wait = self.bucket.take(caller(scope))
        if allowed:
            await self.app(scope, receive, send)
            return
        self.metrics.rate_limited.inc()
        body = b'{"detail":"too many requests: slow down and retry after the Retry-After seconds"}'
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode())]})
        await send({"type": "http.response.body", "body": body})
