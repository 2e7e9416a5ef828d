"""Crash recovery at scale: SIGKILL ``sqm flow`` at random moments; it ends where a clean run ends.

330 k simulated events (a large centre, 3 busy hours) with bad records and late
events mixed in go into two Redis servers. ``sqm flow`` runs uninterrupted on one
(the clean run) while on the other it is killed 5 times at random moments — one of
them the moment its recovery store is written — and restarted each time. Then both
hold the same of everything the flow writes: every history member and latest
snapshot of every series and window, the counters, the dead letters, the
anomalies; the coarse series equal the oracle's; each bad record has one dead letter.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from sqm.config import Settings
from sqm.eventlog import DLQ_POSITIONS, group_by_partition
from sqm.keys import ANOMALIES, DLQ, events_stream, kpi_history, kpi_latest
from sqm.models import WINDOWS, ServiceEvent
from sqm.store import connect, embedded_redis
from streams.simulator import Simulator
from streams.sinks import FLOW_STATS
from tests.streams.crash import Feed, alive, dead_letters, flows, kill, stop, wait_closed
from tests.streams.helpers import MORNING, all_series, event_time_closes, history, stats
from tests.streams.oracle import Oracle

VOLUMES = {"billing": 7200, "tech": 4800, "sales": 3600, "vip": 1200}
"""Contacts an hour at the peak of the day: 5 times the demo's centre."""
HOURS = 3
FLOW = {"epoch_s": 0.5, "idle_close_s": 3600}
"""Snapshots twice a second; no idle close, so both runs end on the last minute event time closes."""
KILLS = ((0.05, 0.2, "random"), (0.2, 0.4, "snapshot"), (0.4, 0.6, "random"), (0.6, 0.8, "snapshot"),
         (0.75, 0.9, "random"))
"""Per kill: the share of events counted after which it comes, and how its moment is chosen."""


@dataclass
class Kill:
    share: float
    how: str
    counted: int
    """Events the killed run had counted (what closed minutes had reported)."""

    def __repr__(self) -> str:
        return f"{self.how} at {self.counted:,}"


def _crash_repeatedly(spawn: Callable[..., Any], redis: Any, redis_url: str, state_dir: Path, total: int,
                      rng: random.Random) -> list[Kill]:
    """Start the flow and kill it at each of ``KILLS`` in turn (the run that finishes is the caller's)."""
    wal = state_dir / "recovery" / "part-0.sqlite3-wal"
    kills = []
    for lo, hi, how in KILLS:
        redis.delete(FLOW_STATS)  # progress is what this run reports
        proc = spawn(redis_url, state_dir, **FLOW)
        share = rng.uniform(lo, hi)
        deadline = time.monotonic() + 120
        while stats(redis).get("events", 0) < share * total:
            alive(proc)
            assert time.monotonic() < deadline, f"no progress to {share:.0%}: {stats(redis)}"
            time.sleep(0.01)
        if how == "random":
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # the moment the recovery store is written: the first write to its WAL from now on
            before = wal.stat().st_mtime_ns
            while wal.stat().st_mtime_ns == before:
                alive(proc)
                assert time.monotonic() < deadline, "no snapshot written"
                time.sleep(0.001)
        kill(proc)
        kills.append(Kill(share, how, stats(redis).get("events", 0)))
    return kills


def _hot_store(redis: Any) -> dict[str, Any]:
    """Everything the flow wrote for the KPIs: history (members with scores) and latest, per key."""
    out: dict[str, Any] = {}
    for window in WINDOWS:
        out[kpi_latest(window)] = redis.hgetall(kpi_latest(window))
    for key in redis.scan_iter(match=kpi_history("") + "*", count=1000):
        out[key.decode()] = redis.zrange(key, 0, -1, withscores=True)
    return out


FLOAT_SUMS = ("frt_avg_s", "aht_s")
"""KPIs from float sums (response and handle times): a restart regroups the additions (read chunks begin at the
resumed offset), so these may differ from the clean run's in the last bits. Everything else must be identical."""
FLOAT_RTOL = 1e-11


def _compare(mine: dict[str, Any], theirs: dict[str, Any]) -> tuple[list[str], int, float]:
    """(what differs, how many snapshots differ only in the last bits of ``FLOAT_SUMS``, the largest such difference)."""
    problems: list[str] = []
    last_bits, worst = 0, 0.0
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a == b:
            continue
        if a is None or b is None or len(a) != len(b):
            problems.append(f"{key}: {len(a or ())} vs {len(b or ())} members")
            continue
        if isinstance(a, dict):  # latest: (snapshot, field) per field
            a, b = [(v, k) for k, v in sorted(a.items())], [(v, k) for k, v in sorted(b.items())]
        for (x, x_score), (y, y_score) in zip(a, b, strict=True):
            if x == y and x_score == y_score:
                continue
            sx, sy = orjson.loads(x), orjson.loads(y)
            kx, ky = sx.pop("kpis"), sy.pop("kpis")
            off = {k for k in kx.keys() | ky.keys() if kx.get(k) != ky.get(k)}
            rel = max((abs(kx[k] - ky[k]) / max(abs(ky[k]), 1e-300) for k in off & set(FLOAT_SUMS)
                       if kx.get(k) is not None and ky.get(k) is not None), default=0.0)
            if x_score != y_score or sx != sy or not off <= set(FLOAT_SUMS) or rel > FLOAT_RTOL:
                problems.append(f"{key}: {x!r} vs {y!r}")
            else:
                last_bits += 1
                worst = max(worst, rel)
    return problems, last_bits, worst


def _dlq(redis: Any) -> Counter[tuple[bytes, ...]]:
    return Counter(tuple(f[k] for k in (b"source", b"reason", b"field", b"raw")) for _, f in redis.xrange(DLQ))


def _oracle_on_clean_run(events: list[ServiceEvent], settings: Settings, clean: Any, proc: Any,
                         until: float) -> tuple[Oracle, int, list[str]]:
    """In the background while the crashes go on: the oracle, then the clean run checked by it.

    Every window of the overall series, the 5-minute and hourly windows of each team: at this size the oracle
    takes ~17 ms a snapshot (tests/streams/test_flow_oracle.py checks every series on smaller inputs).
    """
    oracle = Oracle(events, settings)
    wait_closed(clean, proc, until, timeout=240)
    stop(proc)
    series = [sid for sid in all_series(clean) if sid.split("|")[1:] == ["*", "*", "*"]
              or (sid.split("|")[0] in ("5m", "1h") and sid.split("|")[2:] == ["*", "*"])]
    snaps = history(clean, series)
    return oracle, len(snaps), [p for snap in snaps for p in oracle.check(snap)]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_a_clean_run(redis, redis_url, tmp_path) -> None:
    t_start = time.monotonic()
    settings = Settings(state_dir=tmp_path)
    partitions = settings.streams.partitions
    events: list[ServiceEvent] = list(Simulator(settings, seed=21, start=MORNING, volumes=VOLUMES)
                                      .events(MORNING + timedelta(hours=HOURS)))
    assert len(events) >= 300_000
    feed = Feed.build(group_by_partition(events, partitions), bad_every=20, late_every=15, seed=5)
    assert feed.good == len(events) and feed.invalid > 100 and feed.late > 200
    want = event_time_closes(events, settings)
    with embedded_redis(tmp_path / "clean-redis") as clean_url, flows() as spawn, ThreadPoolExecutor(1) as pool:
        clean = connect(clean_url)
        feed.write(redis)
        feed.write(clean)
        entries = sum(redis.xlen(events_stream(p)) for p in range(partitions))
        clean_proc = spawn(clean_url, tmp_path / "clean", idle_close_s=FLOW["idle_close_s"])  # epochs of 10 s
        checked = pool.submit(_oracle_on_clean_run, events, settings, clean, clean_proc, want)
        kills = _crash_repeatedly(spawn, redis, redis_url, tmp_path / "crashed", len(events), random.Random(8))
        redis.delete(FLOW_STATS)
        proc = spawn(redis_url, tmp_path / "crashed", **FLOW)
        wait_closed(redis, proc, want, timeout=240)
        stop(proc)
        t_flow = time.monotonic() - t_start
        oracle, n_checked, problems = checked.result()
        report = f"{len(events):,} events, kills {kills}"
        assert all(k.share * len(events) <= k.counted < len(events) for k in kills), f"kills land mid-way: {report}"
        # the counters: every event counted once, every bad record and late event once, as in the clean run
        st = stats(redis)
        assert st == stats(clean), report
        assert (st["events"], st["invalid"], st["late"]) == (len(events), feed.invalid, feed.late)
        assert st["duplicate"] == 0 and st["late_merge"] == 0
        # the hot store: the same history members and latest snapshots of every series and window
        mine, theirs = _hot_store(redis), _hot_store(clean)
        assert len(mine) == len(theirs) > 300
        differ, last_bits, worst = _compare(mine, theirs)
        assert not differ, f"{len(differ)} differences from the clean run, e.g. {differ[:3]}; {report}"
        for key, members in mine.items():  # one history member per window start
            if key.startswith(kpi_history("")):
                assert len({score for _, score in members}) == len(members), key
        # dead letters: one per bad record and late event, the same as the clean run's
        assert _dlq(redis) == _dlq(clean)
        assert dead_letters(redis) == feed.letters
        replayed = int(redis.hget(DLQ_POSITIONS, "replayed") or 0)
        assert replayed > 0, "the restarts re-read bad records (else the check above proves little)"
        anomalies = sorted(f[b"a"] for _, f in redis.xrange(ANOMALIES))
        assert anomalies == sorted(f[b"a"] for _, f in clean.xrange(ANOMALIES))
        left = sum(redis.xlen(events_stream(p)) for p in range(partitions))
        assert left < entries, "streams are trimmed behind what recovery still needs"
        clean.close()
    # the clean run equals the oracle (checked while the crashes went on), and so the crashed run; some of its
    # windows checked directly too
    assert n_checked > 500 and not problems, f"{len(problems)} mismatches with the oracle, e.g. {problems[:5]}"
    direct = history(redis, ["1h|*|*|*", "5m|*|*|*"])
    assert len(direct) > 30 and not [p for snap in direct for p in oracle.check(snap)]
    print(f"\n{report}; {sum(map(len, mine.values())):,} snapshots, all identical but {last_bits:,} in the last "
          f"bits of a float sum ({worst:.1e} relative at most); {len(anomalies)} anomalies; {replayed} dead letters "
          f"re-read, none re-added; flows {t_flow:.0f} s, all {time.monotonic() - t_start:.0f} s")
