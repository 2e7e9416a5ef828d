"""The KPI dataflow, top to bottom (docs/streams.md).

    sqm:events:{p}  →  read (per stream, where it is read: validate, dedupe, late, durations, minute deltas)
                    →  rollup (one key: close minutes, dimensions, 1m / 5m / 1h / rolling 60m)
                    →  Redis hot store (+ InfluxDB)  and  detectors (per series)  →  sqm:anomalies
    rejects and late events → sqm:dlq
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic
from bytewax.outputs import Sink

from sqm.config import Settings
from sqm.eventlog import DeadLetter
from sqm.models import Anomaly, KpiSnapshot, series_id
from streams import partition as P
from streams import rollup as R
from streams.source import part_name
from streams.state import StateVersionError

ROLLUP_KEY = "all"
log = logging.getLogger(__name__)


class Monitor(Protocol):
    def update(self, snapshot: KpiSnapshot, children: Sequence[KpiSnapshot] = ()) -> list[Anomaly]: ...


@dataclass(frozen=True)
class FlowSinks:
    """Where the flow writes (``streams.runner.redis_sinks`` in production, ``TestingSink`` in tests)."""

    kpis: Sink[R.Minute]
    """Closed minutes: their snapshots of every window and dimension, the hours and days they completed, the
    counters."""
    dead_letters: Sink[DeadLetter]
    """Rejected records and late events (``sqm.eventlog.dead_letter``)."""
    anomalies: Sink[Anomaly]
    influx: Sink[R.Minute] | None = None
    """Closed minutes again, when InfluxDB is configured."""


class RollupLogic(StatefulBatchLogic[P.PartOut, R.Minute, bytes]):
    def __init__(self, partitions: list[str], max_series: int, detector_window: str, resume: bytes | None,
                 day_offset_min: int = 0) -> None:
        self.state = _resumed_rollup(resume) if resume else R.RollupState(partitions, max_series)
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


def _resumed_rollup(resume: bytes) -> R.RollupState:
    try:
        state = pickle.loads(resume)
    except Exception as err:  # an unpickling error, a missing class, a version this sqm cannot read
        msg = (f"recovery snapshot of the roll-up cannot be read ({err}): resume with the sqm that wrote it, "
               f"or delete state_dir/recovery to start afresh")
        raise StateVersionError(msg) from err
    if not isinstance(state, R.RollupState):
        msg = f"recovery snapshot of the roll-up holds a {type(state).__name__}, not a RollupState"
        raise StateVersionError(msg)
    return state


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


def _monitors_of(settings: Settings) -> Callable[[], Monitor]:
    from detectors import build_monitor

    return lambda: build_monitor(settings)


def build_flow(
    settings: Settings,
    source: Source[P.PartOut],
    sinks: FlowSinks,
    *,
    monitor_factory: Callable[[], Monitor] | None = None,
) -> Dataflow:
    """The dataflow from ``source`` (``streams.bucketing.BucketingSource``: each stream's work done where it is
    read) to ``sinks``; ``streams.runner.run_flow`` gives it the Redis streams and stores."""
    s = settings.streams
    parts = [part_name(p) for p in range(s.partitions)]
    window = settings.detectors.window
    factory = monitor_factory or _monitors_of(settings)
    flow = Dataflow("sqm_kpis")
    parts_out = op.input("read", flow, source)  # PartOut(part, wm, {(minute, dims): Acc}, dlq, stats) per stream read
    rejects = op.flat_map("rejects", parts_out, lambda out: out.dlq)  # DeadLetter {reason, field, source, raw}
    op.output("dead_letter", rejects, sinks.dead_letters)
    to_rollup = op.key_on("to_rollup", parts_out, lambda _: ROLLUP_KEY)  # ("all", PartOut)
    offset = R.day_offset_min(settings.alerts.timezone)
    minutes = op.stateful_batch("rollup", to_rollup, lambda r: RollupLogic(parts, s.max_series, window, r, offset))  # ("all", Minute)
    closed = op.map("closed", minutes, lambda kv: kv[1])  # Minute
    op.output("kpi_store", closed, sinks.kpis)
    if sinks.influx is not None:
        op.output("influx", closed, sinks.influx)
    evidence = settings.detectors.evidence_window
    by_series = op.flat_map("detector_inputs", closed, _detector_inputs(window, evidence))  # (series, (KpiSnapshot, children))
    found = op.stateful_batch("detect", by_series, lambda r: DetectLogic(factory, r))  # (series, Anomaly)
    anomalies = op.map("anomalies", found, lambda kv: kv[1])  # Anomaly
    op.output("anomaly_stream", anomalies, sinks.anomalies)
    return flow
