"""The KPI dataflow, top to bottom (docs/streams.md).

    sqm:events:{p}  →  read (per stream, where it is read: validate, dedupe, late, durations, minute deltas)
                    →  rollup (one key: close minutes, dimensions, 1m / 5m / 1h / rolling 60m)
                    →  Redis hot store (+ InfluxDB)  and  detectors (per series)  →  sqm:anomalies
    rejects and late events → sqm:dlq
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic

from sqm.config import Settings
from sqm.models import Anomaly, KpiSnapshot, series_id
from streams import partition as P
from streams import rollup as R
from streams.bucketing import BucketingSource
from streams.sinks import anomaly_sink, dlq_sink, kpi_sink
from streams.source import RedisStreamSource, part_name

ROLLUP_KEY = "all"
log = logging.getLogger(__name__)


class Monitor(Protocol):
    def update(self, snapshot: KpiSnapshot, children: Iterable[KpiSnapshot] = ()) -> list[Anomaly]: ...


class RollupLogic(StatefulBatchLogic[P.PartOut, R.Minute, bytes]):
    def __init__(self, partitions: list[str], max_series: int, detector_window: str, resume: bytes | None,
                 day_offset_min: int = 0) -> None:
        self.state: R.RollupState = pickle.loads(resume) if resume else R.RollupState(partitions, max_series)
        self.state.day_offset_min = day_offset_min
        self.detector_window = detector_window

    def on_batch(self, values: list[P.PartOut]) -> tuple[list[R.Minute], bool]:
        st = self.state
        for out in values:
            st.add(out.part, out.wm, out.deltas, out.stats)
        minutes = R.close_minutes(st, self.detector_window)
        if minutes:
            minutes[-1].stats = R.stats_of(st)
        return minutes, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self.state, pickle.HIGHEST_PROTOCOL)


def _detector_inputs(
    detector_window: str, evidence_window: str | None = None
) -> Callable[[R.Minute], list[tuple[str, tuple[KpiSnapshot, list[KpiSnapshot]]]]]:
    """Per closed minute, (detector series, (snapshot, children)) for each monitor: the detector window's
    final snapshots and, with ``evidence_window``, that window's final snapshots of the same dimensions
    first (the monitor's per-minute evidence and fast windows; they have no children)."""
    windows = (evidence_window, detector_window) if evidence_window not in (None, detector_window) else (detector_window,)

    def inputs(minute: R.Minute) -> list[tuple[str, tuple[KpiSnapshot, list[KpiSnapshot]]]]:
        out: list[tuple[str, tuple[KpiSnapshot, list[KpiSnapshot]]]] = []
        for window in windows:  # the evidence of a minute before the detector window's snapshot that ends with it
            own = window == detector_window
            for s in minute.snapshots:
                if s.final and s.window == window:
                    if own:
                        out.append((s.series, (s, minute.children.get(s.series, []))))
                    else:
                        out.append((series_id(detector_window, *s.dims), (s, [])))
        return out
    return inputs


class DetectLogic(StatefulBatchLogic[tuple[KpiSnapshot, list[KpiSnapshot]], Anomaly, bytes]):
    """One series' monitor (``detectors.build_monitor``); its snapshot is pickled, not deep-copied.

    A monitor that raises (a bug, or state resumed from a snapshot of an older sqm whose
    layout differs) is logged and replaced by a fresh one, which learns again: the KPIs,
    the other series and the flow go on.
    """

    def __init__(self, factory: Callable[[], Monitor], resume: bytes | None) -> None:
        self.factory = factory
        self.monitor: Monitor = factory()
        if resume:
            try:
                self.monitor = pickle.loads(resume)
            except Exception:
                log.exception("detector state in the recovery snapshot cannot be read (an older sqm?): learning again")

    def on_batch(self, values: list[tuple[KpiSnapshot, list[KpiSnapshot]]]) -> tuple[list[Anomaly], bool]:
        found: list[Anomaly] = []
        for snap, children in values:
            try:
                found.extend(self.monitor.update(snap, children=children))
            except Exception:
                log.exception("detectors of %s failed on the window ending %s: starting them afresh (learning again)",
                              snap.series, snap.end.isoformat())
                self.monitor = self.factory()
        return found, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self.monitor, pickle.HIGHEST_PROTOCOL)


def build_flow(
    settings: Settings,
    redis_url: str,
    *,
    stop: threading.Event | None = None,
    source: Source[P.PartOut] | None = None,
    monitor_factory: Callable[[], Monitor] | None = None,
    wall: Callable[[], float] = time.time,
) -> Dataflow:
    """The dataflow reading the event streams of ``redis_url`` (or ``source``, for tests)."""
    s = settings.streams
    params = P.Params.of(settings)
    parts = [part_name(p) for p in range(s.partitions)]
    window = settings.detectors.window
    if monitor_factory is None:
        from detectors import build_monitor

        def monitor_factory() -> Monitor:
            return build_monitor(settings)

    raw = RedisStreamSource(redis_url, s.partitions, count=max(1, s.batch_size // 10), poll_ms=s.read_block_ms,
                            stop=stop, trim=s.recovery)
    src = source or BucketingSource(raw, params, wall)

    flow = Dataflow("sqm_kpis")
    parts_out = op.input("read", flow, src)  # PartOut(part, wm, {(minute, dims): Acc}, dlq, stats) per stream read
    rejects = op.flat_map("rejects", parts_out, lambda out: out.dlq)  # {reason, field, raw, source}
    op.output("dead_letter", rejects, dlq_sink(redis_url))
    to_rollup = op.key_on("to_rollup", parts_out, lambda _: ROLLUP_KEY)  # ("all", PartOut)
    offset = R.day_offset_min(settings.alerts.timezone)
    minutes = op.stateful_batch("rollup", to_rollup, lambda r: RollupLogic(parts, s.max_series, window, r, offset))  # ("all", Minute)
    closed = op.map("closed", minutes, lambda kv: kv[1])  # Minute
    keep = {"1h": settings.improve.hour_days, "1d": settings.improve.day_days}
    op.output("kpi_store", closed, kpi_sink(redis_url, s.history_hours, keep))
    if settings.influx.enabled:
        from streams.influx import InfluxSink  # influxdb-client takes 0.5 s to import: only when used

        op.output("influx", closed, InfluxSink(settings.influx, redis_url))
    evidence = settings.detectors.evidence_window
    by_series = op.flat_map("detector_inputs", closed, _detector_inputs(window, evidence))  # (series, (KpiSnapshot, children))
    found = op.stateful_batch("detect", by_series, lambda r: DetectLogic(monitor_factory, r))  # (series, Anomaly)
    anomalies = op.map("anomalies", found, lambda kv: kv[1])  # Anomaly
    op.output("anomaly_stream", anomalies, anomaly_sink(redis_url))
    return flow

