"""Simulator events → the dataflow's own per-partition and roll-up steps → KPI snapshots.

This is the flow of ``streams.flow`` without bytewax (one partition, no Redis):
the same ``partition.process`` and ``rollup.close_minutes`` functions, so the
detectors see exactly the snapshots (and children) they would see in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sim.simulator import Simulator
from sqm.config import Settings
from sqm.models import encode
from streams import partition as P
from streams import rollup as R


def minutes(
    settings: Settings, sim: Simulator, until: datetime, *, chunk_s: float = 60.0, watch_from: datetime | None = None
) -> Iterator[R.Minute]:
    """Closed minutes (snapshots of every window and dimension, children of the detector window).

    ``watch_from``: sqm starts watching then; the simulator's events before it are
    dropped, as in ``sqm demo`` (the centre was already running: its earlier contacts
    are still answered, resolved and complained about after sqm started).
    """
    params = P.Params.of(settings)
    part = P.PartitionState(part="0")
    roll = R.RollupState(partitions=["0"], max_series=settings.streams.max_series)
    t = sim.start
    if watch_from is not None and watch_from > t:
        for _ in sim.events(watch_from):
            pass
        t = watch_from
    seq = 0
    while t < until:
        t_next = min(t + timedelta(seconds=chunk_s), until)
        evs = list(sim.events(t_next))
        entries = [(f"{seq}-0".encode(), encode(evs))] if evs else []
        seq += 1
        out = P.process(part, P.Chunk("0", entries), params, wall=0.0)
        roll.add("0", out.wm, out.deltas, out.stats)
        yield from R.close_minutes(roll, settings.detectors.window)
        t = t_next
    # the end: let the watermark pass the last minute
    out = P.process(part, P.Chunk("0", []), params, wall=params.idle_close + params.lateness + 61.0)
    roll.add("0", out.wm, out.deltas, out.stats)
    yield from R.close_minutes(roll, settings.detectors.window)
