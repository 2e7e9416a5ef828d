"""Appending validated events to the partitioned event streams.

Used by every producer (HTTP ingest, webhooks, the simulator, replay); the
dataflow's source reads what this writes. An event is acknowledged to its sender
only after ``append_events`` returns: it is then in Redis. Records that cannot
be events go to the dead-letter stream in one format (``dead_letter``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqm.keys import DLQ, EVENTS_PER_ENTRY, events_stream, partition_for
from sqm.models import ServiceEvent, encode

DLQ_MAXLEN = 100_000
"""The dead-letter stream keeps about this many newest records."""
DEAD_LETTER_RAW_MAX = 20_000
"""Bytes of a rejected record kept in its dead letter."""


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


def dead_letter(reason: str, field: str, source: str, raw: bytes | str) -> dict[str, str | bytes]:
    """One ``sqm:dlq`` record: why (``reason``, ``field``), from where (``source``) and what (``raw``, capped)."""
    return {"reason": reason, "field": field, "source": source, "raw": raw[:DEAD_LETTER_RAW_MAX]}


def append_dead_letters(redis: Any, letters: Iterable[dict[str, str | bytes]]) -> None:
    """XADD rejected records to ``sqm:dlq`` (capped at about ``DLQ_MAXLEN`` entries) in one pipeline."""
    pipe = redis.pipeline(transaction=False)
    for letter in letters:
        pipe.xadd(DLQ, letter, maxlen=DLQ_MAXLEN, approximate=True)
    pipe.execute()
