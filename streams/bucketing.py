"""The event source that also does each stream's work, where the stream is read.

``BucketingSource`` wraps a source of raw stream chunks (``RedisStreamSource`` in
production, in-memory chunks in tests): each of its partitions reads one
``sqm:events:{p}`` stream and runs ``partition.process`` on what it read, emitting
only ``PartOut`` (per-minute deltas, rejects, the watermark). The per-stream state
and the stream offset are one snapshot, so they can never disagree after a
restart, and raw events never cross between bytewax workers or processes (in a
cluster each process does the work of the streams it reads).

A partition's snapshot is the pickle of ``(the inner partition's snapshot,
PartitionState)``; the state carries its version (``streams.state``), so a snapshot
written by an older sqm is upgraded when the flow resumes from it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from streams import partition as P
from streams.state import StateVersionError


class BucketingSource(FixedPartitionedSource[P.PartOut, bytes]):
    def __init__(self, inner: FixedPartitionedSource[P.Chunk, Any], params: P.Params,
                 wall: Callable[[], float]) -> None:
        self.inner = inner
        self.params = params
        self.wall = wall

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> BucketingPartition:
        if not resume_state:
            inner = self.inner.build_part(step_id, for_part, None)
            return BucketingPartition(inner, P.PartitionState(for_part), self.params, self.wall)
        try:
            inner_state, state = pickle.loads(resume_state)
        except Exception as err:  # an unpickling error, a missing class, a version this sqm cannot read
            msg = (f"recovery snapshot of stream {for_part} (step {step_id!r}) cannot be read ({err}): "
                   f"resume with the sqm that wrote it, or delete state_dir/recovery to start afresh")
            raise StateVersionError(msg) from err
        inner = self.inner.build_part(step_id, for_part, inner_state)
        return BucketingPartition(inner, state, self.params, self.wall)


class BucketingPartition(StatefulSourcePartition[P.PartOut, bytes]):
    def __init__(self, inner: StatefulSourcePartition[P.Chunk, Any], state: P.PartitionState, params: P.Params,
                 wall: Callable[[], float]) -> None:
        self.inner = inner
        self.params = params
        self.wall = wall
        self.state = state
        self.state.resumed(self.params, self.wall())  # downtime is not idleness
        self.reported: float | None | str = "never"
        self.saved: tuple[bytes, int, Any] | None = None
        self.changed = True

    def next_batch(self) -> list[P.PartOut]:
        outs = []
        for chunk in self.inner.next_batch():
            out = P.process(self.state, chunk, self.params, self.wall())
            self.changed = self.changed or bool(chunk.entries)
            if out.deltas or out.dlq or out.wm != self.reported:
                outs.append(out)
                self.reported = out.wm
        return outs

    def next_awake(self) -> datetime | None:
        return self.inner.next_awake()

    def snapshot(self) -> bytes:
        inner = self.inner.snapshot()  # (the Redis source also trims its stream behind older snapshots)
        # An idle stream's state only moves its watermark: re-pickle it once a watermark minute,
        # not every epoch (a busy stream's state is large). The watermark is what the reads proved
        # (the last empty read), not the wall clock now: entries may be waiting unread.
        self.state.wm_floor = self.state.watermark(self.params)  # keep the idle advance
        minute = int(self.state.wm_floor // 60) if self.state.wm_floor is not None else -1
        if self.changed or self.saved is None or self.saved[1:] != (minute, inner):
            self.saved = (pickle.dumps((inner, self.state), pickle.HIGHEST_PROTOCOL), minute, inner)
            self.changed = False
        return self.saved[0]

    def close(self) -> None:
        self.inner.close()
