"""Crash recovery: SIGKILL the flow process at random moments; the final KPIs are still exact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from sqm.config import Settings
from sqm.keys import events_stream, kpi_history
from sqm.models import decode_snapshot
from streams.simulator import Simulator, write_stream
from streams.sinks import FLOW_STATS
from tests.streams.helpers import START, all_series, event_time_closes, history, stats
from tests.streams.oracle import Oracle

ROOT = Path(__file__).resolve().parents[2]


def _spawn(redis_url: str, state_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, REDIS_URL=redis_url, SQM_STATE_DIR=str(state_dir), SQM_STREAMS__BATCH_SIZE="100",
               SQM_STREAMS__EPOCH_S="0.5")
    return subprocess.Popen([sys.executable, "-m", "sqm", "flow"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_exact_kpis(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path)
    start = START + timedelta(hours=8)  # a busy morning
    sim = Simulator(settings, seed=21, start=start, volumes={"billing": 2400, "tech": 1600, "sales": 1200, "vip": 400})
    hours = 2
    events = list(sim.events(start + timedelta(hours=hours)))
    write_stream(redis, events, settings.streams.partitions)
    entries = sum(redis.xlen(events_stream(p)) for p in range(settings.streams.partitions))
    want_closed = event_time_closes(events, settings)
    rng = random.Random(8)
    kills = 0
    progress = []
    for share in (0.15, 0.45, 0.75):
        proc = _spawn(redis_url, tmp_path)
        deadline = time.monotonic() + 120
        while stats(redis).get("events", 0) < share * len(events) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.7))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        progress.append(stats(redis).get("events", 0))
    redis.delete(FLOW_STATS)  # rewritten by the resumed run as it closes minutes
    proc = _spawn(redis_url, tmp_path)
    deadline = time.monotonic() + 180
    while stats(redis).get("closed_until", 0) < want_closed:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        assert time.monotonic() < deadline, f"no progress after {kills} kills: {stats(redis)}"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    st = stats(redis)
    assert st["events"] == len(events), (st, progress)  # counted once each, across all restarts
    assert st["duplicate"] == 0 and st["late"] == 0 and st["late_merge"] == 0
    assert 0 < max(progress) < len(events), f"the kills should land mid-way: {progress}"
    left = sum(redis.xlen(events_stream(p)) for p in range(settings.streams.partitions))
    assert left < entries, "streams are trimmed behind what recovery still needs"
    # one history member per window start, and every window equals the oracle
    series = all_series(redis)
    for sid in series:
        starts = [decode_snapshot(raw).start for raw in redis.zrange(kpi_history(sid), 0, -1)]
        assert len(starts) == len(set(starts)), sid
    oracle = Oracle(events, settings)
    coarse = [s for s in series if s.split("|")[2:] == ["*", "*"]]
    snaps = history(redis, coarse)
    problems = [p for snap in snaps for p in oracle.check(snap)]
    assert not problems, f"{len(problems)} mismatches after {kills} kills, e.g. {problems[:5]}"
