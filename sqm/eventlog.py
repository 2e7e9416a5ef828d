"""Appending validated events to the partitioned event streams.

Used by every producer (HTTP ingest, webhooks, the simulator, replay); the
dataflow's source reads what this writes. An event is acknowledged to its sender
only after ``append_events`` returns: it is then in Redis.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqm.keys import EVENTS_PER_ENTRY, events_stream, partition_for
from sqm.models import ServiceEvent, encode


def group_by_partition(events: Iterable[ServiceEvent], partitions: int) -> dict[int, list[ServiceEvent]]:
    """Events per partition, keeping each team's order."""
    out: dict[int, list[ServiceEvent]] = defaultdict(list)
    for ev in events:
        out[partition_for(ev.team, partitions)].append(ev)
    return out


def append_events(redis: Any, events: Sequence[ServiceEvent], partitions: int) -> list[bytes]:
    """XADD the events, ``EVENTS_PER_ENTRY`` to an entry, in one pipeline; returns the entry ids."""
    if not events:
        return []
    pipe = redis.pipeline(transaction=False)
    for p, evs in group_by_partition(events, partitions).items():
        key = events_stream(p)
        for i in range(0, len(evs), EVENTS_PER_ENTRY):
            pipe.xadd(key, {"e": encode(evs[i : i + EVENTS_PER_ENTRY])})
    return list(pipe.execute())
