"""``sqm alerter``: read anomalies from Redis, run the engine, until stopped.

The alerter reads ``sqm:anomalies`` through the consumer group ``sqm-alerter``:
an entry is acknowledged (XACK) only after its alert state and groups are
stored, so a restart resumes where the last run stopped (entries it had read
but not acknowledged are read again, from its own pending list or, after
``claim_idle_s``, from another consumer's), and two alerters share the stream.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import msgspec
import redis as redis_lib

from alerts.engine import Engine
from alerts.heartbeats.monitor import HeartbeatMonitor
from sqm import keys
from sqm.clock import Clock
from sqm.config import Settings
from sqm.models import Anomaly, decode_anomaly
from sqm.store import connect

log = logging.getLogger("sqm.alerts")


def ensure_group(redis: redis_lib.Redis, start: str = "0") -> None:
    """Create the consumer group at the stream's start (a fresh alerter sees every anomaly), or at ``start``
    (``$``: only anomalies added from now on are alerted); an existing group keeps its position."""
    try:
        redis.xgroup_create(keys.ANOMALIES, keys.ALERTER_GROUP, id=start, mkstream=True)
    except redis_lib.ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


def forget_idle_consumers(redis: redis_lib.Redis, keep: str, idle_s: float = 86400.0) -> list[str]:
    """Drop consumers of past alerter runs that hold nothing and were idle a day (each restart adds a name)."""
    gone = []
    for c in redis.xinfo_consumers(keys.ANOMALIES, keys.ALERTER_GROUP):
        name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
        if name != keep and int(c["pending"]) == 0 and int(c["idle"]) > idle_s * 1000:
            redis.xgroup_delconsumer(keys.ANOMALIES, keys.ALERTER_GROUP, name)
            gone.append(name)
    return gone


def default_consumer(settings: Settings) -> str:
    return settings.alerts.consumer or f"{socket.gethostname()}-{os.getpid()}"


def _decode(entries: Any) -> tuple[list[Anomaly], list[bytes]]:
    found, ids = [], []
    for _stream, items in entries or []:
        for entry_id, fields in items:
            ids.append(entry_id)
            if not fields:  # trimmed from the stream while pending: nothing left to read
                continue
            raw = fields.get(b"a") if b"a" in fields else fields.get("a")
            if raw is None:
                continue
            try:
                found.append(decode_anomaly(raw))
            except msgspec.DecodeError as err:
                log.error("anomaly %s skipped: %s", entry_id, err)
    return found, ids


class Alerter:
    """One alerter process's loop; ``step()`` does one round (tests drive it directly)."""

    def __init__(self, settings: Settings, redis: redis_lib.Redis, *, clock: Clock | None = None,
                 consumer: str | None = None, console: TextIO | None = None, workers: int = 8,
                 claim_idle_s: float = 30.0, periodic: Sequence[Callable[[], object]] = (),
                 periodic_every_s: float = 60.0) -> None:
        self.redis = redis
        self.periodic = periodic
        """Work the composition root adds to the loop (the improvement loop's round), run every periodic_every_s."""
        self.periodic_every_s = periodic_every_s
        self.consumer = consumer or default_consumer(settings)
        self.engine = Engine(settings, redis, clock=clock, console=console, consumer=self.consumer, workers=workers)
        self.heartbeat = (HeartbeatMonitor(settings, redis, consumer=self.consumer, now=self.engine.now,
                                           monotonic=self.engine.clock.monotonic)
                          if settings.alerts.heartbeat.enabled else None)
        """Beats for this alerter and, once a minute, watches arrivals, the flow and the other alerters."""
        self.claim_idle_ms = int(claim_idle_s * 1000)
        ensure_group(redis)
        with contextlib.suppress(redis_lib.ResponseError):
            forget_idle_consumers(redis, self.consumer)
        self._backlog = True  # first read our own pending entries (a previous run with this name died)

    def close(self) -> None:
        self.engine.close()
        if self.heartbeat is not None:
            with contextlib.suppress(redis_lib.RedisError):
                self.heartbeat.leave()

    def read(self, block_ms: int | None, count: int = 500) -> int:
        """Read, handle and acknowledge one batch of anomalies; returns how many entries were read."""
        entries: Any = []
        if self._backlog:
            entries = self.redis.xreadgroup(keys.ALERTER_GROUP, self.consumer, {keys.ANOMALIES: "0"}, count=count)
            if not entries or not entries[0][1]:
                self._backlog = False
                entries = self._autoclaim(count)
        if not entries:
            entries = self.redis.xreadgroup(keys.ALERTER_GROUP, self.consumer, {keys.ANOMALIES: ">"}, count=count,
                                            block=block_ms)
        anomalies, ids = _decode(entries)
        if anomalies:
            self.engine.handle(anomalies)
        if ids:
            self.redis.xack(keys.ANOMALIES, keys.ALERTER_GROUP, *ids)
        return len(ids)

    def _autoclaim(self, count: int) -> Any:
        """Entries another (dead) consumer read but never acknowledged."""
        with contextlib.suppress(redis_lib.ResponseError):
            got = self.redis.xautoclaim(keys.ANOMALIES, keys.ALERTER_GROUP, self.consumer, self.claim_idle_ms, "0-0",
                                        count=count)
            if got and got[1]:
                return [(keys.ANOMALIES, got[1])]
        return []

    def step(self, *, block_ms: int | None = None, wait: bool = True) -> dict[str, int]:
        if self.heartbeat is not None:
            self.heartbeat.beat()
        read = self.read(block_ms)
        done = self.engine.tick(wait=wait)
        done["read"] = read
        if self.heartbeat is not None:
            done["heartbeats"] = len(self.heartbeat.tick())
        return done

    def run(self, stop: threading.Event, *, max_block_s: float = 0.25) -> None:
        next_backlog = time.monotonic() + self.claim_idle_ms / 1000
        next_periodic = time.monotonic()
        while not stop.is_set():
            try:
                block = int(self.engine.next_wake(max_block_s) * 1000)
                self.step(block_ms=max(10, block), wait=False)
                if time.monotonic() >= next_backlog:  # now and then, pick up what dead consumers left behind
                    self._backlog = True
                    next_backlog = time.monotonic() + self.claim_idle_ms / 1000
                if self.periodic and time.monotonic() >= next_periodic:
                    next_periodic = time.monotonic() + self.periodic_every_s
                    for work in self.periodic:
                        work()
            except redis_lib.ConnectionError as err:
                log.warning("Redis unreachable (%s); retrying in 1 s", err)
                stop.wait(1.0)
            except Exception:  # keep alerting: one bad round must not stop the process
                log.exception("alerter round failed; retrying in 1 s")
                stop.wait(1.0)
        self.engine.outbox.wait_idle()


@contextlib.contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, lambda *_: stop.set())
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_alerter(settings: Settings, redis_url: str, *, stop: threading.Event | None = None,
                clock: Clock | None = None, console: TextIO | None = None,
                periodic: Callable[[redis_lib.Redis], Sequence[Callable[[], object]]] | None = None) -> None:
    """Run the alert engine until ``stop`` is set or SIGINT/SIGTERM arrives (blocking).

    ``periodic`` builds, from the alerter's Redis client, extra work run once a minute in its loop."""
    stop = stop or threading.Event()
    redis = connect(redis_url)
    alerter = Alerter(settings, redis, clock=clock, console=console, periodic=periodic(redis) if periodic else ())
    log.info("alerter %s: %d receivers, routing from %r", alerter.consumer, len(settings.alerts.receivers),
             settings.alerts.route.receiver)
    try:
        with _signals(stop):
            alerter.run(stop)
    finally:
        alerter.close()
        redis.close()
