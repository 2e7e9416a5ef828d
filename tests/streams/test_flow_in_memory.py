"""The real flow on in-memory streams (bytewax ``TestingSource``/``TestingSink``), no Redis: KPIs equal the oracle's.

One worker with ``run_main``; two workers with ``cluster_main``, where the streams
are read by both workers and the per-series detector state is spread over them,
so a step that depended on where its input was read would show here. The two
runs write the same snapshots, byte for byte (a bucket only ever gets the deltas
of one stream, in that stream's order).
"""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec
import pytest
from bytewax.testing import cluster_main, run_main

from sim.simulator import Simulator
from sqm.config import Settings
from sqm.keys import partition_for
from sqm.models import KpiSnapshot, ServiceEvent, encode
from streams.source import part_name
from tests.streams.helpers import MORNING
from tests.streams.memory import Outputs, run_in_memory, stream_chunks
from tests.streams.oracle import Oracle

HOURS = 1
VOLUME_LIMIT = 200.0
"""The stand-in detector flags a window with more contacts than this (the busier series' rolling hours)."""


@pytest.fixture(scope="module")
def events() -> list[ServiceEvent]:
    return list(Simulator(Settings(), seed=23, start=MORNING).events(MORNING + timedelta(hours=HOURS)))


@pytest.fixture(scope="module")
def feed(events: list[ServiceEvent]) -> tuple[list[ServiceEvent], dict[str, list[bytes]]]:
    """The events shuffled within the lateness with 5 % sent twice; a bad record and a late event in the middle of
    billing's stream."""
    settings = Settings()
    rng = random.Random(4)
    lateness = settings.streams.allowed_lateness_s
    shuffled = sorted(events, key=lambda e: e.ts.timestamp() + rng.uniform(0, 0.9 * lateness))
    for dup in rng.sample(shuffled, len(shuffled) // 20):
        shuffled.insert(rng.randrange(shuffled.index(dup), len(shuffled) + 1), dup)
    late = msgspec.structs.replace(events[0], event_id="late-1")  # from the first minute: long behind the watermark
    billing = part_name(partition_for("billing", settings.streams.partitions))
    return shuffled, {billing: [b"{oops", encode([late])]}


def _final(out: Outputs) -> list[KpiSnapshot]:
    return [s for m in out.minutes for s in m.snapshots if s.final]


def _check_with_oracle(out: Outputs, events: list[ServiceEvent], settings: Settings) -> int:
    snaps = _final(out)
    coarse = [s for s in snaps if s.channel == "*" and s.region == "*"]  # overall and per team: every one
    rest = random.Random(5).sample([s for s in snaps if s not in coarse], 400)
    oracle = Oracle(events, settings)
    problems = [p for snap in coarse + rest for p in oracle.check(snap)]
    assert not problems, f"{len(problems)} mismatches, e.g. {problems[:5]}"
    return len(coarse) + len(rest)


def _check_outputs(out: Outputs, events: list[ServiceEvent], feed: list[ServiceEvent], settings: Settings) -> None:
    minutes = [m.minute for m in out.minutes]
    assert minutes == list(range(minutes[0], minutes[0] + len(minutes))), "every minute closed once, in order"
    assert len(minutes) >= HOURS * 60 - 3  # up to the watermark of event time
    stats = out.minutes[-1].stats or {}
    assert (stats["events"], stats["duplicate"]) == (len(events), len(feed) - len(events))
    assert (stats["invalid"], stats["late"], stats["late_merge"]) == (1, 1, 0)
    assert [(d["field"], str(d["reason"])[:5]) for d in out.dead_letters] == [("", "<reco"), ("ts", "late:")]
    assert str(out.dead_letters[1]["source"]).endswith("-0") and b"late-1" in bytes(out.dead_letters[1]["raw"])
    assert _check_with_oracle(out, events, settings) > 1000
    # one monitor per series: each saw only its own dimensions (its window's and its 1-minute evidence)
    seen = [{sid.split("|", 1)[1] for sid, _ in m.seen} for m in out.monitors if m.seen]
    assert len(seen) >= 76 and all(len(dims) == 1 for dims in seen)


def test_one_worker_run_main(events, feed) -> None:
    settings = Settings()
    shuffled, extra = feed
    out = run_in_memory(settings, stream_chunks(shuffled, settings, extra=extra), run_main)
    _check_outputs(out, events, shuffled, settings)


def test_two_workers_cluster_main_write_what_one_writes(events, feed) -> None:
    settings = Settings()
    shuffled, extra = feed
    chunks = stream_chunks(shuffled, settings, extra=extra)
    two = run_in_memory(settings, chunks, lambda flow: cluster_main(flow, [], 0, worker_count_per_proc=2),
                        monitor_limit=VOLUME_LIMIT)
    _check_outputs(two, events, shuffled, settings)
    one = run_in_memory(settings, chunks, run_main, monitor_limit=VOLUME_LIMIT)
    assert sorted(map(encode, _final(two))) == sorted(map(encode, _final(one)))
    assert two.anomalies and sorted(map(encode, two.anomalies)) == sorted(map(encode, one.anomalies))
