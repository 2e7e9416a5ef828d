"""InfluxDB sink: final KPI snapshots as points, batched, retried, never blocking the flow.

Measurement ``settings.influx.measurement`` (default ``sqm_kpi``); tags ``window``,
``team``, ``channel``, ``region`` (``*`` where rolled up); fields: every KPI by
its name (float, absent when null) and its denominator as ``<kpi>_n`` (integer);
time: the window's start (a re-written window overwrites its point). Writes go
through influxdb-client's batching writer (a background thread: ``batch_size``
points or ``flush_interval_ms``, retries with exponential back-off up to
``max_retry_s``), so the dataflow only appends to a buffer. Outcomes are logged
and counted in ``sqm:flow:stats`` (``influx_points``, ``influx_errors``,
``influx_retries``).
"""

from __future__ import annotations

import logging
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import WriteOptions, WriteType

from sqm.config import InfluxSettings
from sqm.keys import FLOW_STATS
from sqm.models import KpiSnapshot
from sqm.store import connect
from streams.rollup import Minute

log = logging.getLogger(__name__)


def to_point(measurement: str, snap: KpiSnapshot) -> Point:
    p = (Point(measurement).tag("window", snap.window).tag("team", snap.team).tag("channel", snap.channel)
         .tag("region", snap.region).time(int(snap.start.timestamp()), WritePrecision.S))
    for name, value in snap.kpis.items():
        if value is not None:
            p = p.field(name, float(value))
        p = p.field(f"{name}_n", int(snap.n.get(name, 0)))
    return p


class InfluxWriter:
    """One influxdb-client batching writer; ``write`` never waits for the server."""

    def __init__(self, cfg: InfluxSettings, stats_redis: Any | None = None, *, max_retries: int = 5,
                 retry_interval_ms: int = 1000, max_retry_s: float = 60.0) -> None:
        self.cfg = cfg
        self.stats_redis = stats_redis
        self.counts = {"influx_points": 0, "influx_errors": 0, "influx_retries": 0}
        self.client = InfluxDBClient(url=cfg.url, token=cfg.token.get_secret_value() or "none", org=cfg.org,
                                     timeout=cfg.timeout_ms)
        options = WriteOptions(write_type=WriteType.batching, batch_size=cfg.batch_size,
                               flush_interval=cfg.flush_interval_ms, retry_interval=retry_interval_ms,
                               max_retries=max_retries, max_retry_delay=int(max_retry_s * 1000),
                               max_retry_time=int(max_retry_s * 4000), exponential_base=2,
                               max_close_wait=int(max_retry_s * 1000))
        self.api = self.client.write_api(write_options=options, success_callback=self._ok,
                                         error_callback=self._error, retry_callback=self._retry)

    def _count(self, key: str, n: int) -> None:
        self.counts[key] += n
        if self.stats_redis is not None:
            try:
                self.stats_redis.hincrby(FLOW_STATS, key, n)
            except Exception as err:  # metrics must never break the writer thread
                log.debug("could not count %s: %s", key, err)

    def _ok(self, conf: Any, data: Any) -> None:
        lines = data.count(b"\n") + 1 if isinstance(data, bytes) else str(data).count("\n") + 1
        self._count("influx_points", lines)

    def _error(self, conf: Any, data: Any, err: Exception) -> None:
        log.error("InfluxDB write to %s failed for good: %s", self.cfg.url, err)
        self._count("influx_errors", 1)

    def _retry(self, conf: Any, data: Any, err: Exception) -> None:
        log.warning("InfluxDB write to %s failed, retrying: %s", self.cfg.url, err)
        self._count("influx_retries", 1)

    def write(self, snapshots: list[KpiSnapshot]) -> None:
        points = [to_point(self.cfg.measurement, s) for s in snapshots if s.final]
        if points:
            self.api.write(bucket=self.cfg.bucket, org=self.cfg.org, record=points)

    def close(self) -> None:
        self.api.close()
        self.client.close()


class _InfluxPartition(StatelessSinkPartition[Minute]):
    def __init__(self, writer: InfluxWriter) -> None:
        self.writer = writer

    def write_batch(self, items: list[Minute]) -> None:
        self.writer.write([s for m in items for s in m.snapshots])

    def close(self) -> None:
        self.writer.close()


class InfluxSink(DynamicSink[Minute]):
    def __init__(self, cfg: InfluxSettings, redis_url: str | None = None) -> None:
        self.cfg = cfg
        self.redis_url = redis_url

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _InfluxPartition:
        return _InfluxPartition(InfluxWriter(self.cfg, connect(self.redis_url) if self.redis_url else None))
