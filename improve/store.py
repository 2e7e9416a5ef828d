"""The improvement loop's Redis I/O: experiments and actions (one store for the API and the alerter),
the hourly KPI totals a comparison reads, and overdue reminders into the alert engine's stream."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from improve.actions import Action
from improve.experiments import Experiment
from improve.totals import Totals, from_aggregate, from_snapshot
from sqm import keys
from sqm.aggregates import decode_aggregate
from sqm.models import Anomaly, decode_snapshot, encode, series_id, to_builtins

T = TypeVar("T", Experiment, Action)

_ADD_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'a', ARGV[1])
end
return false
"""


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class Store:
    """Experiments and actions as JSON in two hashes; ``redis`` is a redis-py client."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def _all(self, key: str, cls: type[T]) -> list[T]:
        return sorted((msgspec.json.decode(raw, type=cls) for raw in self.redis.hvals(key)), key=lambda r: r.id)

    def _get(self, key: str, cls: type[T], id_: str) -> T | None:
        raw = self.redis.hget(key, id_)
        return None if raw is None else msgspec.json.decode(raw, type=cls)

    def experiments(self) -> list[Experiment]:
        return self._all(keys.EXPERIMENTS, Experiment)

    def experiment(self, id_: str) -> Experiment | None:
        return self._get(keys.EXPERIMENTS, Experiment, id_)

    def put_experiment(self, exp: Experiment) -> None:
        self.redis.hset(keys.EXPERIMENTS, exp.id, encode(exp))

    def delete_experiment(self, id_: str) -> bool:
        return bool(self.redis.hdel(keys.EXPERIMENTS, id_))

    def actions(self) -> list[Action]:
        return self._all(keys.ACTIONS, Action)

    def action(self, id_: str) -> Action | None:
        return self._get(keys.ACTIONS, Action, id_)

    def put_action(self, action: Action) -> None:
        self.redis.hset(keys.ACTIONS, action.id, encode(action))

    def delete_action(self, id_: str) -> bool:
        return bool(self.redis.hdel(keys.ACTIONS, id_))

    def remind(self, anomaly: Anomaly, action_id: str, slot: int, ttl_s: int) -> bool:
        """Add a reminder to ``sqm:anomalies`` once per slot (marker and XADD in one script)."""
        added = self.redis.eval(_ADD_ONCE, 2, keys.reminded(action_id, slot), keys.ANOMALIES, encode(anomaly), ttl_s)
        return bool(added)


Reader = Callable[[str, str, str, datetime, datetime], list[tuple[datetime, Totals]]]


def aggregates_reader(redis: Any, grain: str) -> Reader:
    """A series reader over the long history (``1h`` or ``1d`` aggregates the roll-up writes)."""

    def read(team: str, channel: str, region: str, since: datetime, until: datetime) -> list[tuple[datetime, Totals]]:
        key = keys.kpi_aggregates(f"{grain}|{team}|{channel}|{region}")
        raws = redis.zrangebyscore(key, since.timestamp(), f"({until.timestamp()}")
        by_start = {agg.start: agg for agg in map(decode_aggregate, raws)}
        return [(start, from_aggregate(by_start[start])) for start in sorted(by_start)]

    return read


def hourly_reader(redis: Any, settings: Any = None, grain: str = "1h") -> Reader:
    """The series reader the API and the alerter use: the long history's aggregates of ``grain``, or, for a
    series that has none in the range (a store written before the long history), the hot store's 1-hour
    snapshots."""
    long_history, hot = aggregates_reader(redis, grain), hourly_from_snapshots(redis)

    def read(team: str, channel: str, region: str, since: datetime, until: datetime) -> list[tuple[datetime, Totals]]:
        return long_history(team, channel, region, since, until) or hot(team, channel, region, since, until)

    return read


def hourly_from_snapshots(redis: Any) -> Callable[[str, str, str, datetime, datetime], list[tuple[datetime, Totals]]]:
    """A comparison's series reader: the final 1-hour snapshots of the hot store (the last ``history_hours``)."""

    def read(team: str, channel: str, region: str, since: datetime, until: datetime) -> list[tuple[datetime, Totals]]:
        raws = redis.zrangebyscore(keys.kpi_history(series_id("1h", team, channel, region)), since.timestamp(),
                                   f"({until.timestamp()}")
        out: dict[datetime, Totals] = {}
        for raw in raws:
            snap = decode_snapshot(raw)
            if snap.final:
                out[snap.start] = from_snapshot(to_builtins(snap))
        return sorted(out.items())

    return read
