"""Crash recovery at scale: SIGKILL ``sqm flow`` at random moments; it ends where a clean run ends.

309 k simulated events (a large centre, 3 busy hours) with bad records and late
events mixed in go into two Redis servers. ``sqm flow`` runs uninterrupted on one
(the clean run) while on the other it is killed 5 times at random moments — two of
them the moment its recovery store is written — and restarted each time. Then both
hold the same of everything the flow writes: every history member and latest
snapshot of every series and window, byte for byte, the counters, the dead
letters, the anomalies; the oracle agrees; each bad record and late event has
exactly one dead letter.

The kill moments are random (seed printed; ``SQM_CRASH_SEED=<seed>`` repeats a plan,
not the timing). A bigger run: ``./dev bench crash_recovery``.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from typing import Any

import pytest

from sim.simulator import Simulator
from sqm.config import Settings
from sqm.eventlog import group_by_partition
from sqm.keys import ANOMALIES, DLQ_POSITIONS, events_stream, kpi_history
from sqm.models import ServiceEvent
from tests.streams.crash import Feed, Kill, compare, crashed_and_clean, dead_letters, dlq_records, hot_store
from tests.streams.helpers import MORNING, all_series, event_time_closes, history, stats
from tests.streams.oracle import Oracle

VOLUMES = {"billing": 6720, "tech": 4480, "sales": 3360, "vip": 1120}
"""Contacts an hour at the peak of the day: 2.8 times the demo's centre (309 k events in 3 hours)."""
HOURS = 3
BANDS = ((0.05, 0.2, "random"), (0.2, 0.4, "snapshot"), (0.4, 0.6, "random"), (0.6, 0.75, "snapshot"),
         (0.75, 0.9, "random"))
"""Per kill: the band of the run's progress (share of events counted) it comes in, and how its moment is chosen."""


def _oracle_check(events: list[ServiceEvent], settings: Settings) -> Any:
    def check(clean: Any) -> tuple[Oracle, int, list[str]]:
        """Every window of the overall series, the 5-minute and hourly ones of each team (at this size the oracle
        takes ~17 ms a snapshot; tests/streams/test_flow_oracle.py checks every series on smaller inputs)."""
        oracle = Oracle(events, settings)
        series = [sid for sid in all_series(clean) if sid.split("|")[1:] == ["*", "*", "*"]
                  or (sid.split("|")[0] in ("5m", "1h") and sid.split("|")[2:] == ["*", "*"])]
        snaps = history(clean, series)
        return oracle, len(snaps), [p for snap in snaps for p in oracle.check(snap)]

    return check


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_random_moments_then_resume_equals_a_clean_run(redis, redis_url, tmp_path) -> None:
    t_start = time.monotonic()
    seed = int(os.environ.get("SQM_CRASH_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    settings = Settings(state_dir=tmp_path)
    events = list(Simulator(settings, seed=21, start=MORNING, volumes=VOLUMES).events(MORNING + timedelta(hours=HOURS)))
    assert len(events) >= 300_000
    feed = Feed.build(group_by_partition(events, settings.streams.partitions), bad_every=20, late_every=15, seed=5)
    assert feed.good == len(events) and feed.invalid > 100 and feed.late > 200
    plan = [Kill(rng.uniform(lo, hi), how) for lo, hi, how in BANDS]
    until = event_time_closes(events, settings)
    with crashed_and_clean(redis, redis_url, tmp_path, feed, until, len(events), plan, rng,
                           on_clean=_oracle_check(events, settings)) as runs:
        report = f"seed {seed}: {len(events):,} events, kills {plan}"
        assert all(k.share * len(events) <= k.counted < len(events) for k in plan), f"kills land mid-way: {report}"
        # the counters: every event counted once, every bad record and late event once, as in the clean run
        st = stats(redis)
        assert st == stats(runs.clean), report
        assert (st["events"], st["invalid"], st["late"]) == (len(events), feed.invalid, feed.late)
        assert st["duplicate"] == 0 and st["late_merge"] == 0
        # the hot store: the same history members and latest snapshots of every series and window, byte for byte
        mine, theirs = hot_store(redis), hot_store(runs.clean)
        assert len(mine) == len(theirs) > 300
        differ = compare(mine, theirs)
        assert not differ, f"{len(differ)} keys differ from the clean run's, e.g. {differ[:3]}; {report}"
        for key, members in mine.items():  # one history member per window start
            if key.startswith(kpi_history("")):
                assert len({at for _, at in members}) == len(members), key
        # dead letters: one per bad record and late event, the same as the clean run's
        assert dlq_records(redis) == dlq_records(runs.clean), report
        assert dead_letters(redis) == feed.letters, report
        replayed = int(redis.hget(DLQ_POSITIONS, "replayed") or 0)
        assert replayed > 0, f"the restarts re-read bad records (else the check above proves little): {report}"
        anomalies = sorted(f[b"a"] for _, f in redis.xrange(ANOMALIES))  # SLA rules (crash.SLA) on both runs
        assert anomalies and anomalies == sorted(f[b"a"] for _, f in runs.clean.xrange(ANOMALIES)), report
        left = sum(redis.xlen(events_stream(p)) for p in feed.entries)
        assert left < runs.entries, "streams are trimmed behind what recovery still needs"
    # the oracle agrees with the clean run (checked while the crashes went on), and so with the crashed one;
    # some of its windows are checked directly too
    oracle, n_checked, problems = runs.checked
    assert n_checked > 500 and not problems, f"{len(problems)} mismatches with the oracle, e.g. {problems[:5]}"
    direct = history(redis, ["1h|*|*|*", "5m|*|*|*"])
    assert len(direct) > 30 and not [p for snap in direct for p in oracle.check(snap)]
    print(f"\n{report}; {sum(map(len, mine.values())):,} snapshots identical; {len(anomalies)} anomalies; "
          f"{replayed} dead letters re-read, none re-added; flows: clean {runs.clean_s:.0f} s, crashed {runs.crashed_s:.0f} s; "
          f"all {time.monotonic() - t_start:.0f} s")
