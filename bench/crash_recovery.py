"""Crash recovery at a size of your choice: SIGKILL ``sqm flow`` N times, compare with a clean run.

    .venv/bin/python bench/crash_recovery.py --scale 2.8 --hours 3 --kills 5   # the test's size (309 k events)
    .venv/bin/python bench/crash_recovery.py --scale 6 --hours 5 --kills 12    # ~1.2 M events

Simulated events of a centre ``--scale`` times the demo's (with a bad record every
``--bad-every`` entries of a stream and late events every ``--late-every``) go into
two embedded Redis servers; ``sqm flow`` runs uninterrupted on one and is killed
``--kills`` times on the other (alternately 0-0.5 s after a random point of its
progress and at a write of its recovery store), restarted each time
(tests/streams/crash.py does the work; tests/streams/test_recovery.py is the test).
Prints what was compared and how long it took; exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.simulator import Simulator  # noqa: E402
from sqm.config import Settings  # noqa: E402
from sqm.eventlog import group_by_partition  # noqa: E402
from sqm.keys import ANOMALIES, DLQ_POSITIONS, events_stream  # noqa: E402
from sqm.store import connect, embedded_redis  # noqa: E402
from tests.streams.crash import (  # noqa: E402
    Feed,
    Kill,
    compare,
    crashed_and_clean,
    dead_letters,
    dlq_records,
    hot_store,
)
from tests.streams.helpers import MORNING, event_time_closes, stats  # noqa: E402

DEMO = {"billing": 2400, "tech": 1600, "sales": 1200, "vip": 400}


def plan(kills: int, rng: random.Random) -> list[Kill]:
    """``kills`` moments in equal bands of 5-90 % of the events, alternately random and at a snapshot."""
    width = 0.85 / kills
    return [Kill(rng.uniform(0.05 + i * width, 0.05 + (i + 1) * width), ("random", "snapshot")[i % 2])
            for i in range(kills)]


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sqm-crash-"))
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=2.8, help="contacts an hour, times the demo's centre")
    ap.add_argument("--hours", type=float, default=3.0, help="simulated hours from 09:00")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None, help="of the kill plan (random if not given)")
    ap.add_argument("--bad-every", type=int, default=20)
    ap.add_argument("--late-every", type=int, default=15)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    settings = Settings(state_dir=tmp)
    t0 = time.monotonic()
    volumes = {team: int(v * args.scale) for team, v in DEMO.items()}
    events = list(Simulator(settings, seed=21, start=MORNING, volumes=volumes)
                  .events(MORNING + timedelta(hours=args.hours)))
    feed = Feed.build(group_by_partition(events, settings.streams.partitions), bad_every=args.bad_every,
                      late_every=args.late_every, seed=5)
    kills = plan(args.kills, rng)
    print(f"{len(events):,} events ({args.hours:g} h, {sum(volumes.values()):,} contacts/h at peak), "
          f"{feed.invalid:,} bad records, {feed.late:,} late events; {args.kills} kills, seed {seed}; "
          f"made in {time.monotonic() - t0:.1f} s", flush=True)
    until = event_time_closes(events, settings)
    with embedded_redis(tmp / "crashed-redis") as url:
        redis = connect(url)
        with crashed_and_clean(redis, url, tmp, feed, until, len(events), kills, rng) as runs:
            st, clean_st = stats(redis), stats(runs.clean)
            mine, theirs = hot_store(redis), hot_store(runs.clean)
            differ = compare(mine, theirs)
            dlq_same = dlq_records(redis) == dlq_records(runs.clean)
            dlq_exact = dead_letters(redis) == feed.letters
            replayed = int(redis.hget(DLQ_POSITIONS, "replayed") or 0)
            anomalies = redis.xlen(ANOMALIES)
            anomalies_same = sorted(f[b"a"] for _, f in redis.xrange(ANOMALIES)) == sorted(
                f[b"a"] for _, f in runs.clean.xrange(ANOMALIES))
            left = sum(redis.xlen(events_stream(p)) for p in feed.entries)
        redis.close()
    snapshots = sum(map(len, mine.values()))
    counted = st.get("events") == len(events) and (st.get("invalid"), st.get("late")) == (feed.invalid, feed.late)
    print(f"clean run   {runs.clean_s:6.1f} s  {len(events) / runs.clean_s:8,.0f} events/s")
    print(f"crashed run {runs.crashed_s:6.1f} s  {len(events) / runs.crashed_s:8,.0f} events/s, killed {kills}")
    print(f"hot store   {len(mine)} keys, {snapshots:,} snapshots: {len(differ)} keys differ")
    print(f"counters    {'equal' if st == clean_st else f'DIFFER: {st} vs {clean_st}'}; every event counted once: "
          f"{counted}")
    print(f"dead letters {sum(feed.letters.values()):,}: same as the clean run's {dlq_same}, one per bad record "
          f"{dlq_exact}; {replayed:,} re-read after kills, not re-added")
    print(f"anomalies   {anomalies:,}, same as the clean run's {anomalies_same}")
    print(f"streams     {runs.entries:,} entries, {left:,} left after trimming")
    print(f"wall        {time.monotonic() - t0:.1f} s in all")
    for problem in differ[:5]:
        print("  ", problem[:400])
    ok = not differ and st == clean_st and counted and dlq_same and dlq_exact and anomalies_same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
