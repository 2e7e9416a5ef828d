"""Pacing simulated events to wall time, and writing them to a file or the event streams."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from sqm.clock import Clock, SystemClock
from sqm.eventlog import append_events
from sqm.models import ServiceEvent

Events = Iterable[ServiceEvent] | Iterable[Sequence[ServiceEvent]]
"""Single events, or batches of them (as ``paced`` yields)."""


def paced(
    events: Iterable[ServiceEvent],
    *,
    speed: float,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_batch: int = 1000,
    tick_s: float = 0.05,
    origin: datetime | None = None,
    heartbeat_s: float | None = 1.0,
) -> Iterator[list[ServiceEvent]]:
    """Release events in batches as wall time advances: ``speed`` simulated seconds per wall second.

    ``speed=60`` plays an hour a minute; ``speed=math.inf`` yields batches of
    ``max_batch`` as fast as they are made. Simulated time ``origin`` (default:
    the first event's ts) maps to the wall time of the first event. A batch holds
    the events due by now; between batches the generator sleeps (``sleep``, at
    least ``tick_s``) until the next event is due. While the next event is more
    than ``heartbeat_s`` away it yields an empty batch every ``heartbeat_s``, so
    that the caller can check for a stop request (None: never). ``clock``/``sleep``
    are seams for tests (``sqm.clock.ManualClock``).
    """
    if not speed > 0:
        msg = f"speed must be > 0, got {speed}"
        raise ValueError(msg)
    batch: list[ServiceEvent] = []
    if math.isinf(speed):
        for ev in events:
            batch.append(ev)
            if len(batch) >= max_batch:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    clk = clock or SystemClock()
    sim0: float | None = origin.timestamp() if origin is not None else None
    wall0 = clk.monotonic()
    for ev in events:
        t = ev.ts.timestamp()
        if sim0 is None:
            sim0 = t
            wall0 = clk.monotonic()
        due = wall0 + (t - sim0) / speed
        now = clk.monotonic()
        if due > now:
            if batch:
                yield batch
                batch = []
                now = clk.monotonic()
            while heartbeat_s is not None and due - now > heartbeat_s:
                sleep(heartbeat_s)
                yield []
                now = clk.monotonic()
            if due > now:
                sleep(max(due - now, tick_s))
        batch.append(ev)
        if len(batch) >= max_batch:
            yield batch
            batch = []
    if batch:
        yield batch


def batches(items: Events, size: int) -> Iterator[Sequence[ServiceEvent]]:
    """Group single events into lists of ``size``; pass batches (lists) through as they come, split to ``size``."""
    buf: list[ServiceEvent] = []
    for item in items:
        if isinstance(item, ServiceEvent):
            buf.append(item)
            if len(buf) >= size:
                yield buf
                buf = []
        else:
            if buf:
                yield buf
                buf = []
            seq = item if isinstance(item, list) else list(item)
            for i in range(0, len(seq), size):
                yield seq[i : i + size]
    if buf:
        yield buf


_encoder = msgspec.json.Encoder()


def write_ndjson(events: Events, path: str | Path | IO[bytes], *, batch: int = 10_000) -> int:
    """Write events (or batches from ``paced``) as NDJSON to a path, ``"-"`` (stdout) or a binary file.

    Returns the number written. Each batch is flushed as it is written, so a
    paced run can be tailed.
    """
    count = 0
    with contextlib.ExitStack() as stack:
        if isinstance(path, str | Path):
            out: IO[bytes] = sys.stdout.buffer if str(path) == "-" else stack.enter_context(Path(path).open("wb"))
        else:
            out = path
        for chunk in batches(events, batch):
            out.write(_encoder.encode_lines(chunk))
            out.flush()
            count += len(chunk)
    return count


def write_stream(redis: Any, events: Events, partitions: int, *, batch: int = 2000) -> int:
    """Append events (or batches from ``paced``) to the partitioned event streams; returns the count.

    One ``sqm.eventlog.append_events`` call (one pipeline, 100 events an entry)
    per batch, so an event is in Redis before the next batch is made.
    """
    count = 0
    for chunk in batches(events, batch):
        append_events(redis, chunk, partitions, source="sim")
        count += len(chunk)
    return count
