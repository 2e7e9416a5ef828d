"""The dataflow's own steps without bytewax or Redis: events → closed minutes of KPI snapshots.

For backtests and benchmarks that must see exactly what the detectors see in
production: the same ``partition.process`` and ``rollup.close_minutes`` functions
as ``streams.flow``, on one partition, in event-time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqm.config import Settings
from sqm.models import ServiceEvent, encode
from streams import partition as P
from streams import rollup as R


def closed_minutes(settings: Settings, events: Iterable[ServiceEvent], *, chunk_s: float = 60.0) -> Iterator[R.Minute]:
    """Closed minutes (every window and dimension; children of the detector window) of time-ordered events."""
    params = P.Params.of(settings)
    part = P.PartitionState(part="0")
    roll = R.RollupState(partitions=["0"], max_series=settings.streams.max_series,
                         day_offset_min=R.day_offset_min(settings.alerts.timezone))
    seq = 0

    def feed(chunk: list[ServiceEvent], wall: float) -> list[R.Minute]:
        nonlocal seq
        entries = [(f"{seq}-0".encode(), encode(chunk))] if chunk else []
        seq += 1
        out = P.process(part, P.Chunk("0", entries), params, wall=wall)
        roll.add("0", out.wm, out.deltas, out.stats)
        return R.close_minutes(roll, settings.detectors.window)

    chunk: list[ServiceEvent] = []
    chunk_end: float | None = None
    for ev in events:
        t = ev.ts.timestamp()
        if chunk_end is None:
            chunk_end = t + chunk_s
        if t >= chunk_end:
            yield from feed(chunk, 0.0)
            chunk, chunk_end = [], t + chunk_s
        chunk.append(ev)
    yield from feed(chunk, 0.0)
    # the end: let the watermark pass the last minute
    yield from feed([], params.idle_close + params.lateness + 61.0)
