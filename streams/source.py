"""A non-blocking, partitioned, resumable source over the ``sqm:events:{p}`` streams.

Each stream is one bytewax partition; its snapshot is the id of the last entry
read, so a resumed flow continues exactly after it. ``next_batch`` never blocks:
an idle stream returns a tick (a ``Chunk`` without entries, so that watermarks
still advance on system time) and asks to be woken ``poll_ms`` later, which keeps
an idle flow's CPU near zero (the busy-wait trap of bytewax/bytewax#578 is avoided
by never returning an awake time in the past). A Redis outage is logged and
retried with back-off, never raised into the flow.

bytewax assigns partitions to workers, so ``sqm flow -w N`` and several
processes (``-p``/addresses) share the streams.

With ``trim`` (recovery on), each stream is trimmed behind the
offset of the snapshot ``TRIM_LAG`` epochs back (``XTRIM MINID``): what a resumed flow can still ask
for is never trimmed.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import cast

import redis as redis_lib
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from sqm.keys import events_stream
from sqm.store import connect
from streams.partition import Chunk

log = logging.getLogger(__name__)

START_ID = b"0-0"
XReadReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]
"""What ``XREAD`` of one stream answers (a client without ``decode_responses``): [(key, [(entry id, fields)])]."""


def part_name(p: int) -> str:
    """``0007``: bytewax hands partitions to workers round-robin in name order, so names sort as numbers."""
    return f"{p:04d}"

TRIM_LAG = 3
"""Snapshots (epochs) an offset must be behind before the stream is trimmed up to it."""


class RedisStreamSource(FixedPartitionedSource[Chunk, bytes]):
    """Reads ``partitions`` event streams, ``count`` entries per read."""

    def __init__(self, redis_url: str, partitions: int, *, count: int = 100, poll_ms: int = 200,
                 stop: threading.Event | None = None, trim: bool = False) -> None:
        self.redis_url = redis_url
        self.trim = trim
        self.partitions = partitions
        self.count = count
        self.poll_ms = poll_ms
        self.stop = stop

    def list_parts(self) -> list[str]:
        return [part_name(p) for p in range(self.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> StreamPartition:
        return StreamPartition(self, for_part, resume_state or START_ID)


class StreamPartition(StatefulSourcePartition[Chunk, bytes]):
    def __init__(self, source: RedisStreamSource, part: str, last_id: bytes) -> None:
        self.source = source
        self.part = part
        self.key = events_stream(int(part))
        self.last_id = last_id
        self.client = connect(source.redis_url)
        self.awake: datetime | None = None
        self.backoff = 0.0
        self.snapshots: list[bytes] = []

    def next_batch(self) -> list[Chunk]:
        src = self.source
        if src.stop is not None and src.stop.is_set():
            raise StopIteration
        try:
            resp = cast(XReadReply, self.client.xread({self.key: self.last_id}, count=src.count))
        except redis_lib.RedisError as err:
            self.backoff = min(max(self.backoff * 2, 0.5), 30.0)
            log.warning("reading %s failed (%s); retrying in %.1f s", self.key, err, self.backoff)
            self.awake = datetime.now(UTC) + timedelta(seconds=self.backoff)
            return []
        self.backoff = 0.0
        if not resp:
            self.awake = datetime.now(UTC) + timedelta(milliseconds=src.poll_ms)
            return [Chunk(self.part, [])]
        entries = resp[0][1]
        self.last_id = entries[-1][0]
        self.awake = None
        return [Chunk(self.part, [(eid, fields.get(b"e", b"")) for eid, fields in entries], self.last_id)]

    def next_awake(self) -> datetime | None:
        return self.awake

    def snapshot(self) -> bytes:
        if self.source.trim:
            self.snapshots.append(self.last_id)
            if len(self.snapshots) > TRIM_LAG:
                safe = self.snapshots.pop(0)
                if safe != START_ID:
                    try:
                        self.client.xtrim(self.key, minid=safe, approximate=False)
                    except redis_lib.RedisError as err:
                        log.warning("trimming %s failed: %s", self.key, err)
        return self.last_id

    def close(self) -> None:
        self.client.close()
