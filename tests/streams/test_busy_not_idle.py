"""A stream whose entries wait unread while the flow is busy is not idle.

Idle close advances a stream's watermark with the wall clock once it has had
nothing new for ``idle_close_s``. Only an empty read proves that: when the flow
is busy elsewhere (closing hours of minutes at start-up, writing them out, an
epoch snapshot) a stream with a backlog can go unread for longer than
``idle_close_s``, and counting that time as idleness pushed its watermark past
events it had not read yet: they were dropped as late (a night of warm-up before
the e2e run lost answers and resolutions, so contacts stayed "waiting" for ever).
"""

from __future__ import annotations

from datetime import timedelta

from sim.simulator import Simulator, write_stream
from sqm.config import Settings
from streams import rollup as R
from streams.bucketing import BucketingSource
from streams.partition import Chunk, Params, PartitionState, process
from streams.source import RedisStreamSource
from tests.streams.helpers import START
from tests.streams.oracle import Oracle
from tests.streams.test_partition import chunk, ev, total

SETTINGS = Settings(streams={"allowed_lateness_s": 10, "idle_close_s": 2})
P = Params.of(SETTINGS)


def test_entries_read_after_a_busy_spell_are_not_late() -> None:
    st = PartitionState("")
    wm0 = process(st, chunk(ev("a", "contact.created", 100, "c1")), P, wall=1000.0).wm
    # the next read comes 30 wall seconds later (the flow was busy), and it has entries: the stream was not idle
    out = process(st, chunk(ev("b", "contact.first_response", 101, "c1"), ev("c", "contact.created", 95, "c2")),
                  P, wall=1030.0)
    assert out.stats["late"] == 0 and not out.dlq
    assert total(out.deltas, "answered") == 1 and total(out.deltas, "created") == 1
    assert out.wm == wm0 + 1  # event time only: newest ts (101) - lateness


def test_idleness_runs_to_the_last_empty_read_not_to_now() -> None:
    st = PartitionState("")
    wm0 = process(st, chunk(ev("a", "contact.created", 100, "c1")), P, wall=1000.0).wm
    assert process(st, Chunk("0", []), P, wall=1005.0).wm == wm0 + 3  # read and found empty: 5 s idle - 2 s
    # 30 s later the stream has entries again: idle from 1000 to 1005 at least, not known after that
    out = process(st, chunk(ev("b", "contact.created", 99, "c2")), P, wall=1035.0)
    assert out.stats["late"] == 0 and out.wm == wm0 + 3
    out = process(st, chunk(ev("c", "contact.created", 92, "c3")), P, wall=1036.0)  # behind the idle advance
    assert out.stats["late"] == 1


def test_a_busy_flow_reading_a_backlog_of_streams_agrees_with_the_oracle(redis, redis_url) -> None:
    """The real source and partition steps over real streams, read one entry at a time, the wall clock
    jumping 5 s between reads (a busy flow) and epoch snapshots in between; then idle ticks close the end."""
    sim = Simulator(SETTINGS, seed=3, start=START, volumes={"billing": 1200.0, "tech": 900.0})
    events = list(sim.events(START + timedelta(minutes=20)))
    write_stream(redis, events, SETTINGS.streams.partitions)
    clock = [1_000_000.0]
    raw = RedisStreamSource(redis_url, SETTINGS.streams.partitions, count=1)
    source = BucketingSource(raw, P, lambda: clock[0])
    parts = [source.build_part("read", name, None) for name in source.list_parts()]
    roll = R.RollupState(partitions=source.list_parts())
    minutes: list[R.Minute] = []
    for rnd in range(400):
        for part in parts:
            clock[0] += 5.0  # the flow was busy elsewhere since this stream was last read
            for out in part.next_batch():
                roll.add(out.part, out.wm, out.deltas, out.stats)
            if rnd % 3 == 0:
                part.snapshot()  # an epoch ends
        minutes += R.close_minutes(roll)
        if roll.next_minute is not None and roll.next_minute * 60 >= (START + timedelta(minutes=20)).timestamp():
            break
    for part in parts:
        part.close()
    stats = R.stats_of(roll)
    assert stats["late"] == 0 and stats["events"] == len(events)
    oracle = Oracle(events, SETTINGS)
    snaps = [s for m in minutes for s in m.snapshots if s.window in ("1m", "60m")]
    assert len(minutes) == 20 and snaps
    problems = [p for s in snaps for p in oracle.check(s)]
    assert not problems, problems[:5]
