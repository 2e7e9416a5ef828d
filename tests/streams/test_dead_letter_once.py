"""Dead letters are written once, also for stream entries the flow re-reads after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim.simulator import Simulator
from sqm.config import Settings
from sqm.eventlog import append_dead_letters, dead_letter, group_by_partition
from sqm.keys import DLQ, DLQ_POSITIONS
from tests.streams.crash import Feed, dead_letters, flows, kill, stop, wait_closed, wait_for
from tests.streams.helpers import MORNING, event_time_closes, stats


def test_letters_at_or_before_their_streams_last_position_are_not_added_again(redis) -> None:
    def letter(n: int) -> dict[str, str | bytes]:
        return dead_letter(reason=f"bad {n}", field="", source=f"s/{n}", raw=b"raw")

    first = [letter(i) for i in range(4)]
    at = [("0001", "1700000000005-0", 0), ("0001", "1700000000005-0", 1), ("0002", "1700000000001-3", 0), None]
    assert append_dead_letters(redis, first, at) == 4
    # a re-read: the same letters again, plus the next ones of each stream (a later ordinal, seq or ms)
    again = [*first, letter(4), letter(5), letter(6), letter(7)]
    later = [("0001", "1700000000005-0", 2), ("0002", "1700000000001-10", 0), ("0002", "1700000000002-0", 0),
             ("0001", "1700000000004-9", 5)]  # the last is before 0001's position: written before
    assert append_dead_letters(redis, again, [*at, *later]) == 1 + 3  # the letter without a position, the 3 new
    reasons = [f[b"reason"].decode() for _, f in redis.xrange(DLQ)]
    assert reasons == ["bad 0", "bad 1", "bad 2", "bad 3", "bad 3", "bad 4", "bad 5", "bad 6"]
    assert redis.hgetall(DLQ_POSITIONS) == {b"0001": b"1700000000005-0/2", b"0002": b"1700000000002-0/0",
                                            b"replayed": b"4"}
    assert append_dead_letters(redis, [letter(8)]) == 1  # webhooks and replay: no positions, plain XADD
    with pytest.raises(ValueError):
        append_dead_letters(redis, [letter(9)], [])


@pytest.mark.slow
def test_bad_records_reread_after_a_sigkill_are_dead_lettered_once(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path)
    sim = Simulator(settings, seed=4, start=MORNING, volumes={"billing": 600, "tech": 400, "vip": 100})
    events = list(sim.events(MORNING + timedelta(minutes=40)))
    feed = Feed.build(group_by_partition(events, settings.streams.partitions), bad_every=2, late_every=2, seed=9)
    assert feed.invalid >= 10 and feed.late >= 10 and len({s.split("/")[0] for s, _, _ in feed.letters}) >= 3
    feed.write(redis)
    want = event_time_closes(events, settings)
    opts = {"epoch_s": 60, "idle_close_s": 3600}
    with flows() as spawn:
        # first run: every record read and dead-lettered, then killed before its first snapshot (epoch 60 s)
        flow = spawn(redis_url, tmp_path, **opts)
        wait_closed(redis, flow, want, timeout=60)
        wait_for(lambda: dead_letters(redis) == feed.letters, timeout=10)
        kill(flow)
        assert not redis.hexists(DLQ_POSITIONS, "replayed")
        # the restarted flow re-reads every entry from the start: each bad record again
        redis.delete("sqm:flow:stats")
        flow = spawn(redis_url, tmp_path, **opts)
        wait_closed(redis, flow, want, timeout=60)
        stop(flow)
    assert dead_letters(redis) == feed.letters  # one letter per bad record and per late event
    assert int(redis.hget(DLQ_POSITIONS, "replayed") or 0) == feed.invalid + feed.late  # all re-read, none re-added
    st = stats(redis)
    assert (st["events"], st["invalid"], st["late"], st["duplicate"]) == (feed.good, feed.invalid, feed.late, 0)
