"""The event source that also does each stream's work, where the stream is read.

``BucketingSource`` wraps ``RedisStreamSource``: each of its partitions reads one
``sqm:events:{p}`` stream and runs ``partition.process`` on what it read, emitting
only ``PartOut`` (per-minute deltas, rejects, the watermark). The per-stream state
and the stream offset are one snapshot, so they can never disagree after a
restart, and raw events never cross between bytewax workers or processes (in a
cluster each process does the work of the streams it reads).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

from bytewax.inputs import FixedPartitionedSource

from streams import partition as P
from streams.source import START_ID, RedisStreamSource, StreamPartition


class BucketingSource(FixedPartitionedSource[P.PartOut, bytes]):
    def __init__(self, raw: RedisStreamSource, params: P.Params, wall: Callable[[], float]) -> None:
        self.raw = raw
        self.params = params
        self.wall = wall

    def list_parts(self) -> list[str]:
        return self.raw.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> BucketingPartition:
        if not resume_state:
            return BucketingPartition(self, for_part, START_ID, P.PartitionState(for_part))
        try:
            last_id, state = pickle.loads(resume_state)
        except Exception as err:
            msg = (f"recovery snapshot of stream {for_part} (step {step_id!r}) cannot be read, probably written by an "
                   f"older sqm: delete state_dir/recovery to start afresh ({err})")
            raise RuntimeError(msg) from err
        return BucketingPartition(self, for_part, last_id, state)


class BucketingPartition(StreamPartition):
    def __init__(self, source: BucketingSource, part: str, last_id: bytes, state: P.PartitionState) -> None:
        super().__init__(source.raw, part, last_id)
        self.params = source.params
        self.wall = source.wall
        self.state = state
        self.state.resumed(self.params, self.wall())  # downtime is not idleness
        self.reported: float | None | str = "never"
        self.saved: tuple[bytes, int] | None = None
        self.changed = True

    def next_batch(self) -> list[P.PartOut]:  # type: ignore[override]
        outs = []
        for chunk in super().next_batch():
            out = P.process(self.state, chunk, self.params, self.wall())
            self.changed = self.changed or bool(chunk.entries)
            if out.deltas or out.dlq or out.wm != self.reported:
                outs.append(out)
                self.reported = out.wm
        return outs

    def snapshot(self) -> bytes:
        last_id = super().snapshot()  # also trims the stream behind older snapshots
        # An idle stream's state only moves its watermark: re-pickle it once a watermark minute,
        # not every epoch (a busy stream's state is large). The watermark is what the reads proved
        # (the last empty read), not the wall clock now: entries may be waiting unread.
        self.state.wm_floor = self.state.watermark(self.params)  # keep the idle advance
        minute = int(self.state.wm_floor // 60) if self.state.wm_floor is not None else -1
        if self.changed or self.saved is None or self.saved[1] != minute:
            self.saved = (pickle.dumps((last_id, self.state), pickle.HIGHEST_PROTOCOL), minute)
            self.changed = False
        return self.saved[0]
