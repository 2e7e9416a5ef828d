"""The flow's real steps on in-memory streams: no Redis.

``InMemoryStreams`` is a bytewax source of stream chunks with one partition per
event stream, each read by bytewax's own ``TestingSource`` partition; wrapped in
``BucketingSource`` it is what the flow's ``read`` step gets from Redis in
production. ``run_in_memory`` runs ``streams.flow.build_flow`` on it with
``TestingSink``s and returns what each sink got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink, TestingSource

from sqm.config import Settings
from sqm.eventlog import DeadLetter, group_by_partition
from sqm.keys import EVENTS_PER_ENTRY
from sqm.models import Anomaly, ServiceEvent, encode
from streams.bucketing import BucketingSource
from streams.flow import FlowSinks, build_flow
from streams.partition import Chunk, Params
from streams.rollup import Minute
from streams.source import part_name
from tests.streams.helpers import StandInMonitor


class InMemoryStreams(FixedPartitionedSource[Chunk, int]):
    """``{part: [Chunk, ...]}``: each part a bytewax partition, read one chunk a batch."""

    def __init__(self, chunks: dict[str, list[Chunk]]) -> None:
        self.chunks = chunks

    def list_parts(self) -> list[str]:
        return sorted(self.chunks)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> StatefulSourcePartition[Chunk, int]:
        return TestingSource(self.chunks[for_part]).build_part(step_id, "iterable", resume_state)


def stream_chunks(events: Iterable[ServiceEvent], settings: Settings, *, entries_per_chunk: int = 10,
                  extra: dict[str, list[bytes]] | None = None) -> dict[str, list[Chunk]]:
    """The events as the streams would hold them (``EVENTS_PER_ENTRY`` to an entry, a team's in one stream), read
    ``entries_per_chunk`` entries at a time; ``extra`` entries (raw) go in the middle of their stream. Every stream
    ends with an empty read (a tick), as an idle Redis stream's does, so the streams that had no events report."""
    entries: dict[str, list[bytes]] = {part_name(p): [] for p in range(settings.streams.partitions)}
    for p, evs in group_by_partition(events, settings.streams.partitions).items():
        entries[part_name(p)] = [encode(evs[i:i + EVENTS_PER_ENTRY]) for i in range(0, len(evs), EVENTS_PER_ENTRY)]
    for part, raws in (extra or {}).items():
        half = len(entries[part]) // 2
        entries[part] = [*entries[part][:half], *raws, *entries[part][half:]]
    out: dict[str, list[Chunk]] = {}
    for part, raws in entries.items():
        ided = [(f"{i + 1}-0".encode(), raw) for i, raw in enumerate(raws)]
        chunks = [Chunk(part, ided[i:i + entries_per_chunk], ided[i:i + entries_per_chunk][-1][0])
                  for i in range(0, len(ided), entries_per_chunk)]
        out[part] = [*chunks, Chunk(part, [])]
    return out


@dataclass
class Outputs:
    """What the flow's sinks got, and the monitors it made."""

    minutes: list[Minute] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    monitors: list[StandInMonitor] = field(default_factory=list)


def run_in_memory(settings: Settings, chunks: dict[str, list[Chunk]], run: Callable[[Dataflow], Any],
                  *, monitor_limit: float = 1e9) -> Outputs:
    """Build the flow on ``chunks`` (the wall clock stands still: no idle close) and ``run`` it."""
    got = Outputs()

    def monitor() -> StandInMonitor:
        got.monitors.append(StandInMonitor(limit=monitor_limit))
        return got.monitors[-1]

    source = BucketingSource(InMemoryStreams(chunks), Params.of(settings), wall=lambda: 0.0)
    sinks = FlowSinks(kpis=TestingSink(got.minutes), dead_letters=TestingSink(got.dead_letters),
                      anomalies=TestingSink(got.anomalies))
    run(build_flow(settings, source, sinks, monitor_factory=monitor))
    return got
