"""The dataflow's KPIs equal the independent oracle's, whatever the order, duplicates and workers."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from sim.simulator import Simulator, write_stream
from sqm.config import Settings
from tests.streams.helpers import MORNING, all_series, closes, history, run_until, stats
from tests.streams.oracle import Oracle

HOURS = 2


@pytest.fixture(scope="module")
def events() -> list:
    settings = Settings()
    sim = Simulator(settings, seed=11, start=MORNING)
    return list(sim.events(MORNING + timedelta(hours=HOURS)))


def _check_all(redis, events, settings, sample: int = 400) -> int:
    oracle = Oracle(events, settings)
    series = all_series(redis)
    assert len(series) >= 3 * 76, series[:10]
    coarse = [s for s in series if s.split("|")[1] == "*" and s.split("|")[2] == "*"]  # overall and per team
    rest = [s for s in series if s not in coarse]
    snaps = history(redis, coarse)
    snaps += random.Random(5).sample(history(redis, rest), sample)
    problems = [p for snap in snaps for p in oracle.check(snap)]
    assert not problems, f"{len(problems)} mismatches, e.g. {problems[:5]}"
    return len(snaps)


@pytest.mark.parametrize(("order", "workers"), [("in_order", 1), ("shuffled_duplicated", 1), ("shuffled_duplicated", 2)])
def test_flow_matches_oracle(redis, redis_url, tmp_path, events, order, workers) -> None:
    settings = Settings(state_dir=tmp_path)
    feed = list(events)
    rng = random.Random(3)
    if order == "shuffled_duplicated":
        lateness = settings.streams.allowed_lateness_s
        feed.sort(key=lambda e: e.ts.timestamp() + rng.uniform(0, 0.9 * lateness))
        dups = rng.sample(feed, len(feed) // 20)
        for d in dups:
            feed.insert(rng.randrange(feed.index(d), len(feed) + 1), d)
    write_stream(redis, feed, settings.streams.partitions)
    run_until(settings, redis_url, redis, closes(events, settings), workers=workers)
    st = stats(redis)
    assert st["events"] == len(events)
    assert st["duplicate"] == len(feed) - len(events)
    assert st["late"] == 0 and st["invalid"] == 0 and st["late_merge"] == 0
    checked = _check_all(redis, events, settings)
    assert checked > 1000 and len(events) > 8000
