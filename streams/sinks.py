"""Sinks: the Redis hot store, the dead-letter stream, the anomalies stream.

Every sink writes one pipeline per batch and is idempotent, because a flow resumed
from its recovery snapshot re-emits what followed that snapshot:

- snapshots: ``HSET`` of the latest per (window, dims) (a re-emitted window
  overwrites), history ``ZREMRANGEBYSCORE start start`` + ``ZADD`` (one member
  per window start) trimmed to ``history_hours`` behind the newest window;
- anomalies: a seen-marker per (fingerprint, window end, status) set with
  ``SET NX`` and the ``XADD`` in one Lua script, so a replayed anomaly is not
  added twice;
- dead letters: ``XADD`` capped with ``MAXLEN ~``, each after a check of its
  position in its event stream (entry id, ordinal among the entry's letters)
  against the last position written from that stream, in one Lua script
  (``sqm.eventlog.append_dead_letters``): a re-read entry's letters are not
  added again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis as redis_lib
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from sqm.eventlog import DeadLetter, StreamPosition, append_dead_letters
from sqm.keys import ANOMALIES, FLOW_STATS, KPI_LIVE, anomaly_seen, dims_field, kpi_aggregates, kpi_history, kpi_latest
from sqm.models import Anomaly, encode
from sqm.store import connect
from streams.rollup import Minute

log = logging.getLogger(__name__)

RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 10.0)
"""Back-off between attempts of a sink write while Redis is unreachable (then the flow fails and recovery resumes it)."""

T = TypeVar("T")
X = TypeVar("X")


def retrying(what: str, write: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``write``; on a Redis connection error, retry with back-off, then re-raise."""
    for pause in RETRY_S:
        try:
            return write()
        except (redis_lib.ConnectionError, redis_lib.TimeoutError) as err:
            log.warning("%s: Redis unreachable (%s); retrying in %.1f s", what, err, pause)
            sleep(pause)
    return write()


class _RedisSink(DynamicSink[X]):
    """One partition per worker, each with its own Redis client."""

    def __init__(self, redis_url: str, partition: Callable[[redis_lib.Redis], StatelessSinkPartition[X]]) -> None:
        self.redis_url = redis_url
        self.partition = partition

    def build(self, step_id: str, worker_index: int, worker_count: int) -> StatelessSinkPartition[X]:
        return self.partition(connect(self.redis_url))


class KpiStorePartition(StatelessSinkPartition[Minute]):
    def __init__(self, client: Any, history_s: float, keep_s: dict[str, float] | None = None) -> None:
        self.client = client
        self.history_s = history_s
        self.keep_s = keep_s

    def write_batch(self, items: list[Minute]) -> None:
        retrying("kpi_store", lambda: write_minutes(self.client, items, self.history_s, self.keep_s))

    def close(self) -> None:
        self.client.close()


def write_minutes(client: Any, minutes: Iterable[Minute], history_s: float,
                  keep_s: dict[str, float] | None = None) -> None:
    """Write closed minutes' snapshots (and the hours and days they completed, kept ``keep_s[grain]``
    seconds) to the hot store in one pipeline; publish them."""
    pipe = client.pipeline(transaction=False)
    stats: dict[str, Any] | None = None
    for minute in minutes:
        latest: dict[str, dict[str, bytes]] = {}
        for snap in minute.snapshots:
            raw = encode(snap)
            latest.setdefault(snap.window, {})[dims_field(snap.team, snap.channel, snap.region)] = raw
            if snap.final:
                key = kpi_history(snap.series)
                start = snap.start.timestamp()
                pipe.zremrangebyscore(key, start, start)
                pipe.zadd(key, {raw: start})
                pipe.zremrangebyscore(key, "-inf", f"({snap.end.timestamp() - history_s}")
        for agg in minute.aggregates:
            key = kpi_aggregates(agg.series)
            start = agg.start.timestamp()
            pipe.zremrangebyscore(key, start, start)
            pipe.zadd(key, {encode(agg): start})
            pipe.zremrangebyscore(key, "-inf", f"({agg.end.timestamp() - (keep_s or {}).get(agg.grain, 400 * 86400.0)}")
        for window, mapping in latest.items():
            pipe.hset(kpi_latest(window), mapping=mapping)
        if minute.snapshots:
            pipe.publish(KPI_LIVE, b"[" + b",".join(encode(s) for s in minute.snapshots) + b"]")
        stats = minute.stats or stats
    if stats:
        pipe.hset(FLOW_STATS, mapping={k: str(v) for k, v in stats.items()})
    pipe.execute()


class DlqPartition(StatelessSinkPartition[DeadLetter]):
    """Writes the flow's rejects (``sqm.eventlog.dead_letter``, source ``<part>/<entry id>``) once each."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last: tuple[str, int] = ("", -1)
        """Source of the last letter and its ordinal: an entry's letters may span two batches."""

    def write_batch(self, items: list[DeadLetter]) -> None:
        positions = []
        source, ordinal = self.last
        for item in items:
            ordinal = ordinal + 1 if item["source"] == source else 0
            source = str(item["source"])
            positions.append(stream_position(source, ordinal))
        self.last = (source, ordinal)
        retrying("dead_letter", lambda: append_dead_letters(self.client, items, positions))

    def close(self) -> None:
        self.client.close()


def stream_position(source: str, ordinal: int) -> StreamPosition | None:
    """``("0003", "1700000000000-0", ordinal)`` of a reject's source ``0003/1700000000000-0``; None if not of that form.

    >>> stream_position("0003/1700000000000-2", 1)
    ('0003', '1700000000000-2', 1)
    >>> stream_position("webhook:zendesk", 0) is None
    True
    """
    part, _, entry_id = source.rpartition("/")
    ms, _, seq = entry_id.partition("-")
    if not (part and ms.isdigit() and seq.isdigit()):
        return None
    return (part, entry_id, ordinal)


class AnomalyPartition(StatelessSinkPartition[Anomaly]):
    def __init__(self, client: Any, ttl_s: int = 7 * 86400) -> None:
        self.client = client
        self.ttl_s = ttl_s

    def write_batch(self, items: list[Anomaly]) -> None:
        retrying("anomaly_stream", lambda: write_anomalies(self.client, items, self.ttl_s))

    def close(self) -> None:
        self.client.close()


_ADD_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'a', ARGV[1])
end
return false
"""


def write_anomalies(client: Any, anomalies: list[Anomaly], ttl_s: int = 7 * 86400) -> int:
    """XADD each anomaly not written before (by fingerprint, window end, status); returns how many.

    Marker and XADD are one Lua script (atomic: a lost connection cannot leave a
    marker without its entry); the marker's hash tag puts it in the stream's slot.
    """
    if not anomalies:
        return 0
    pipe = client.pipeline(transaction=False)
    for a in anomalies:
        marker = anomaly_seen(a.fingerprint, a.end.isoformat(), a.status)
        pipe.eval(_ADD_ONCE, 2, marker, ANOMALIES, encode(a), ttl_s)
    return sum(1 for added in pipe.execute() if added)


def kpi_sink(redis_url: str, history_hours: float, keep_days: dict[str, float] | None = None) -> DynamicSink[Minute]:
    keep_s = {grain: days * 86400.0 for grain, days in (keep_days or {}).items()}
    return _RedisSink(redis_url, lambda client: KpiStorePartition(client, history_hours * 3600.0, keep_s))


def dlq_sink(redis_url: str) -> DynamicSink[DeadLetter]:
    return _RedisSink(redis_url, DlqPartition)


def anomaly_sink(redis_url: str) -> DynamicSink[Anomaly]:
    return _RedisSink(redis_url, AnomalyPartition)
