"""Request rate limits and live-stream slots, per validated caller, in the API process's memory.

A caller is a configured key that matched (``KeyRing``, constant time) — known by the
key's name — or else its client address: requests without a key and requests with a
key that matches nothing share their address's bucket, so inventing a new key per
request buys nothing. Key callers' buckets are kept apart from the addresses' (bounded
by the number of configured keys, never evicted), so a flood of addresses cannot
reset a real caller's bucket. Unknown keys are logged, sampled (``LogSampler``).

``StreamSlots`` caps the open ``/v1/live`` streams: in all, per key, per address and
for anonymous callers together, so that wallboards can never take every connection
the server has (uvicorn's ``limit_concurrency``) and starve ingest.

Health checks, metrics and static files are not rate-limited. With several API
processes each has its own buckets and slots (the limits are per process).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from api.metrics import ApiMetrics
from api.security import KeyRing, presented_key

log = logging.getLogger("sqm.api")

EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/")


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


class LogSampler:
    """Counts occurrences and says when to log them: at most once every ``every_s`` seconds, with the count since.

    >>> now = [0.0]
    >>> s = LogSampler(10.0, clock=lambda: now[0])
    >>> s.hit(), s.hit(), s.hit()
    (1, None, None)
    >>> now[0] = 11.0; s.hit()
    3
    """

    def __init__(self, every_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self._next = -math.inf
        self._count = 0
        self._lock = threading.Lock()

    def hit(self) -> int | None:
        """Count one; the number counted since the last log line when one is due now, else None."""
        now = self.clock()
        with self._lock:
            self._count += 1
            if now < self._next:
                return None
            self._next = now + self.every_s
            count, self._count = self._count, 0
        return count


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "?"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class CallerLimits:
    """The rate limit of each validated caller (see the module docstring)."""

    def __init__(self, keyring: KeyRing, rate: float, burst: int, *, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keyring = keyring
        self.keys = TokenBucket(rate, burst, max_keys=max(len(keyring), 1), clock=clock)
        self.addresses = TokenBucket(rate, burst, max_keys=max_addresses, clock=clock)
        self.unknown = LogSampler(10.0, clock=clock)

    def caller(self, scope: Scope) -> str:
        """``key:<name>`` for a key that matched, else ``addr:<client address>``."""
        headers = _headers(scope)
        key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
        address = client_address(scope)
        if key is not None and len(self.keyring):
            principal = self.keyring.match(key)
            if principal is not None:
                return f"key:{principal.name}"
            count = self.unknown.hit()
            if count is not None:
                log.info("api: %d request(s) with an unknown API key (latest from %s on %s); limited by address",
                         count, address, scope.get("path", ""))
        return f"addr:{address}"

    def take(self, scope: Scope) -> tuple[bool, float]:
        who = self.caller(scope)
        return (self.keys if who.startswith("key:") else self.addresses).take(who)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: CallerLimits, metrics: ApiMetrics) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        allowed, wait = self.limits.take(scope)
        if allowed:
            await self.app(scope, receive, send)
            return
        self.metrics.rate_limited.inc()
        body = b'{"detail":"too many requests: slow down and retry after the Retry-After seconds"}'
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode())]})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Slot:
    """One open live stream; ``release`` (idempotent) gives its place back."""

    owner: StreamSlots
    caller: str
    anonymous: bool
    released: bool = False

    def release(self) -> None:
        self.owner._release(self)


class SlotRefused(Exception):
    """No live stream for this caller now; ``status`` is 429 (its own cap) or 503 (the server's)."""

    def __init__(self, reason: str, status: int) -> None:
        self.status = status
        super().__init__(reason)


class StreamSlots:
    """Caps on open ``/v1/live`` streams: ``total``, ``per_caller`` (a key), ``per_address`` and ``anonymous``.

    >>> slots = StreamSlots(total=3, per_caller=2, per_address=1, anonymous=2)
    >>> a, b = slots.acquire("key:wall", anonymous=False), slots.acquire("key:wall", anonymous=False)
    >>> slots.acquire("key:wall", anonymous=False)
    Traceback (most recent call last):
    ...
    api.limits.SlotRefused: key:wall has 2 live streams open (api.sse_max_per_caller = 2)
    >>> c = slots.acquire("addr:10.0.0.1", anonymous=True); a.release(); a.release(); len(slots)
    2
    """

    def __init__(self, *, total: int, per_caller: int, per_address: int, anonymous: int) -> None:
        self.total = total
        self.per_caller = per_caller
        self.per_address = per_address
        self.anonymous = anonymous
        self._open: dict[str, int] = {}
        self._anonymous_open = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def acquire(self, caller: str, *, anonymous: bool) -> Slot:
        """A slot for ``caller``, or SlotRefused saying which cap is reached."""
        with self._lock:
            mine = self._open.get(caller, 0)
            if sum(self._open.values()) >= self.total:
                msg = f"the server has {self.total} live streams open (api.sse_max_streams); retry later"
                raise SlotRefused(msg, 503)
            if anonymous and self._anonymous_open >= self.anonymous:
                msg = (f"{self.anonymous} anonymous live streams are open (api.sse_max_anonymous); "
                       f"retry later or use a viewer key")
                raise SlotRefused(msg, 429)
            cap, name = (self.per_address, "sse_max_per_address") if anonymous else (self.per_caller, "sse_max_per_caller")
            if mine >= cap:
                msg = f"{caller} has {mine} live streams open (api.{name} = {cap})"
                raise SlotRefused(msg, 429)
            self._open[caller] = mine + 1
            self._anonymous_open += anonymous
        return Slot(self, caller, anonymous)

    def _release(self, slot: Slot) -> None:
        with self._lock:
            if slot.released:
                return
            slot.released = True
            left = self._open.get(slot.caller, 0) - 1
            if left > 0:
                self._open[slot.caller] = left
            else:
                self._open.pop(slot.caller, None)
            self._anonymous_open -= slot.anonymous
