"""Running the real dataflow against the test Redis until a condition holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqm.config import Settings
from sqm.keys import FLOW_STATS, kpi_history, partition_for
from sqm.models import WINDOWS, KpiSnapshot, ServiceEvent, decode_snapshot
from streams.runner import run_flow

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A busy time of the simulator's day (its rhythm follows the start's time zone)."""


class StandInMonitor:
    """A tiny detector for tests: records what it saw; flags volume above ``limit``."""

    def __init__(self, limit: float = 1e9) -> None:
        self.limit = limit
        self.seen: list[tuple[str, int]] = []
        self.ends: list[float] = []

    def update(self, snapshot: KpiSnapshot, children: Iterable[KpiSnapshot] = ()) -> list[Any]:
        from sqm.models import Anomaly

        self.seen.append((snapshot.series, len(list(children))))
        self.ends.append(snapshot.end.timestamp())
        vol = snapshot.kpis["volume"] or 0.0
        if vol <= self.limit:
            return []
        return [Anomaly(kpi="volume", window=snapshot.window, team=snapshot.team, channel=snapshot.channel,
                        region=snapshot.region, start=snapshot.start, end=snapshot.end, value=vol,
                        detector="stand-in", n=int(vol))]


def stats(redis: Any) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in redis.hgetall(FLOW_STATS).items()}


def run_until(settings: Settings, redis_url: str, redis: Any, done: Callable[[dict[str, int]], bool], *,
              workers: int = 1, timeout: float = 90.0, **kwargs: Any) -> float:
    """Run the flow (in this thread) until ``done(stats)``; returns the wall seconds it took."""
    stop = threading.Event()
    t0 = time.monotonic()
    failed: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            if done(stats(redis)):
                break
            if time.monotonic() - t0 > timeout:
                failed.append(f"flow did not finish within {timeout} s: {stats(redis)}")
                break
            time.sleep(0.1)
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    kwargs.setdefault("monitor_factory", StandInMonitor)
    run_flow(settings, redis_url, workers=workers, stop=stop, epoch_interval_s=1.0, **kwargs)
    stop.set()
    watcher.join()
    assert not failed, failed[0]
    return time.monotonic() - t0


def history(redis: Any, series_ids: Iterable[str]) -> list[KpiSnapshot]:
    out = []
    for sid in series_ids:
        out.extend(decode_snapshot(raw) for raw in redis.zrange(kpi_history(sid), 0, -1))
    return out


def all_series(redis: Any) -> list[str]:
    prefix = kpi_history("")
    return sorted(k.decode()[len(prefix):] for k in redis.scan_iter(match=prefix + "*", count=1000))


def closed_until(start: datetime, minutes: int) -> Callable[[dict[str, int]], bool]:
    end = (start + timedelta(minutes=minutes)).timestamp()
    return lambda st: st.get("closed_until", 0) >= end


def event_time_closes(events: Iterable[ServiceEvent], settings: Settings) -> float:
    """Where event time alone closes minutes: the slowest partition's newest event minus the lateness."""
    newest: dict[int, float] = {}
    for ev in events:
        p = partition_for(ev.team, settings.streams.partitions)
        newest[p] = max(newest.get(p, 0.0), ev.ts.timestamp())
    wm = min(newest.values()) - settings.streams.allowed_lateness_s
    return (wm // 60) * 60


def closes(events: Iterable[ServiceEvent], settings: Settings) -> Callable[[dict[str, int]], bool]:
    """Done when every minute event time can close is closed."""
    end = event_time_closes(events, settings)
    return lambda st: st.get("closed_until", 0) >= end


__all__ = ["MORNING", "START", "WINDOWS", "StandInMonitor", "all_series", "closed_until", "closes", "event_time_closes",
           "history", "run_until", "stats"]
