"""Crash tests' tools: event streams with bad records mixed in, ``sqm flow`` as a subprocess, crashed vs clean runs.

``Feed`` lays simulated events out as stream entries (100 events an entry, per
partition, as ``sqm.eventlog.append_events`` does) with explicit entry ids, so
that two Redis servers get byte-identical streams and their dead letters name the
same sources. Every ``bad_every``-th entry of a partition is followed by a bad
record (not JSON, a naive timestamp, an unknown type, a wrong type, an array with
one bad event, an entry without its field), and some entries carry late events
(10 minutes behind the entries before them). ``Feed.letters`` is what ``sqm:dlq``
must hold afterwards: one letter per bad record and per late event.

``crashed_and_clean`` writes a feed into the test Redis and a second, embedded
one, runs ``sqm flow`` uninterrupted on the second while it kills and restarts it
on the first at the moments of a plan, and yields both; ``hot_store``, ``compare``
and ``dlq_records`` tell what differs. tests/streams/test_recovery.py and
bench/crash_recovery.py use them.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson

from sqm.keys import DLQ, EVENTS_PER_ENTRY, FLOW_STATS, events_stream, kpi_history, kpi_latest
from sqm.models import WINDOWS, ServiceEvent, encode
from sqm.store import connect, embedded_redis
from streams.source import part_name
from tests.streams.helpers import stats

ROOT = Path(__file__).resolve().parents[2]
FIRST_MS = 1_700_000_000_000
"""Entry ids are ``<FIRST_MS + n>-0``: the same on every server the feed is written to."""


def _bad_records(k: int, ts: str) -> list[bytes | None]:
    """Records that are no events (None: an entry without field ``e``); ``k`` makes them unique."""
    good = {"event_id": f"bad{k}-ok", "type": "contact.created", "ts": ts, "contact_id": f"bad{k}",
            "team": "billing", "channel": "chat", "region": "east"}
    return [
        b"{oops " + str(k).encode(),
        orjson.dumps({**good, "event_id": f"bad{k}-naive", "ts": ts[:19]}),
        orjson.dumps({**good, "event_id": f"bad{k}-type", "type": "contact.teleported"}),
        orjson.dumps({**good, "event_id": f"bad{k}-score", "type": "survey.csat", "score": "five"}),
        orjson.dumps([good, {**good, "event_id": f"bad{k}-half", "ts": "yesterday"}]),
        None,
    ]


@dataclass
class Feed:
    """Stream entries per partition: ``(entry id, field e or None)``; the dead letters they must give."""

    entries: dict[int, list[tuple[str, bytes | None]]] = field(default_factory=dict)
    good: int = 0
    invalid: int = 0
    late: int = 0
    letters: Counter[tuple[str, str, bytes]] = field(default_factory=Counter)
    """(source, ``late`` or ``invalid``, raw) of every dead letter the feed must produce, once each."""

    @classmethod
    def build(cls, by_partition: dict[int, list[ServiceEvent]], *, bad_every: int = 0, late_every: int = 0,
              seed: int = 0) -> Feed:
        """``by_partition``: each partition's events in stream order; bad records and late events every so many entries."""
        rng = random.Random(seed)
        feed = cls()
        n = 0
        for p, evs in sorted(by_partition.items()):
            out = feed.entries[p] = []
            part = part_name(p)
            for i in range(0, len(evs), EVENTS_PER_ENTRY):
                chunk: list[ServiceEvent] = list(evs[i:i + EVENTS_PER_ENTRY])
                late: list[ServiceEvent] = []
                if late_every and i and (i // EVENTS_PER_ENTRY) % late_every == 0:
                    behind = evs[i - 1].ts - timedelta(minutes=10)  # far behind the watermark the entry before set
                    for j in range(rng.choice((1, 1, 2))):  # sometimes two late events in one entry
                        late.append(msgspec.structs.replace(rng.choice(chunk), event_id=f"late-{p}-{i}-{j}",
                                                            ts=behind - timedelta(seconds=j)))
                    for ev in late:
                        chunk.insert(rng.randrange(len(chunk) + 1), ev)
                n += 1
                entry_id = f"{FIRST_MS + n}-0"
                out.append((entry_id, encode(chunk)))
                feed.good += len(chunk) - len(late)
                feed.late += len(late)
                feed.letters.update((f"{part}/{entry_id}", "late", encode(ev)) for ev in late)
                if bad_every and (i // EVENTS_PER_ENTRY) % bad_every == bad_every - 1:
                    options = _bad_records(n, chunk[-1].ts.isoformat())
                    raw = options[rng.randrange(len(options))]
                    n += 1
                    entry_id = f"{FIRST_MS + n}-0"
                    out.append((entry_id, raw))
                    feed.invalid += 1
                    feed.letters[(f"{part}/{entry_id}", "invalid", raw or b"")] += 1
        return feed

    def write(self, redis: Any) -> None:
        pipe = redis.pipeline(transaction=False)
        for p, entries in self.entries.items():
            for entry_id, raw in entries:
                pipe.xadd(events_stream(p), {"e": raw} if raw is not None else {"x": b"1"}, id=entry_id)
            if len(pipe) > 2000:
                pipe.execute()
        pipe.execute()


def dead_letters(redis: Any) -> Counter[tuple[str, str, bytes]]:
    """What ``sqm:dlq`` holds, counted as ``Feed.letters`` (a late event's reason starts with ``late:``)."""
    out: Counter[tuple[str, str, bytes]] = Counter()
    for _, f in redis.xrange(DLQ):
        kind = "late" if f[b"reason"].startswith(b"late:") and f[b"field"] == b"ts" else "invalid"
        out[(f[b"source"].decode(), kind, f[b"raw"])] += 1
    return out


@dataclass
class Flow:
    """A ``sqm flow`` process; its stderr goes to ``log`` (a pipe nobody reads could fill and stall it)."""

    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def spawn(redis_url: str, state_dir: Path, env: dict[str, str] | None = None, **streams: Any) -> Flow:
    """``sqm flow`` on ``redis_url`` with its recovery store in ``state_dir``; ``streams`` are SQM_STREAMS__ settings."""
    env = dict(os.environ, REDIS_URL=redis_url, SQM_STATE_DIR=str(state_dir), **(env or {}))
    env.update({f"SQM_STREAMS__{k.upper()}": str(v) for k, v in streams.items()})
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "flow.log"
    with log.open("ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sqm_cli", "flow"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    return Flow(proc, log)


@contextmanager
def flows() -> Iterator[Callable[..., Flow]]:
    """``spawn`` for a test: a flow still running when the block ends (a failed test) is killed."""
    started: list[Flow] = []

    def start(redis_url: str, state_dir: Path, env: dict[str, str] | None = None, **streams: Any) -> Flow:
        started.append(spawn(redis_url, state_dir, env, **streams))
        return started[-1]

    try:
        yield start
    finally:
        for flow in started:
            if flow.proc.poll() is None:
                kill(flow)


def alive(flow: Flow) -> None:
    """Fail with the end of its log if the flow died."""
    if flow.proc.poll() is not None:
        raise AssertionError(f"the flow exited with {flow.proc.returncode}: {flow.tail()}")


def wait_closed(redis: Any, flow: Flow, until: float, timeout: float) -> None:
    """Wait until the flow has closed every minute before ``until`` (epoch s)."""
    deadline = time.monotonic() + timeout
    while stats(redis).get("closed_until", 0) < until:
        alive(flow)
        assert time.monotonic() < deadline, f"not closed until {until} within {timeout} s: {stats(redis)}"
        time.sleep(0.1)


def wait_for(cond: Callable[[], bool], timeout: float, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what or cond}"
        time.sleep(0.05)


def stop(flow: Flow) -> None:
    """SIGTERM: the flow snapshots its last epoch and exits 0."""
    flow.proc.send_signal(signal.SIGTERM)
    assert flow.proc.wait(60) == 0, flow.tail()


def kill(flow: Flow) -> None:
    flow.proc.send_signal(signal.SIGKILL)
    flow.proc.wait(10)


# --- a crashed run against a clean one ---------------------------------------------------------------------------

FLOW = {"epoch_s": 0.5, "idle_close_s": 3600}
"""The crashed run: snapshots twice a second. Both runs: no idle close, so they end on the last minute event
time closes (the watermark would otherwise follow the wall clock once the streams are read)."""
SLA = {"SQM_DETECTORS__SLA": '["service_level", "frt_avg_s"]', "SQM_DETECTORS__COLD_START_MINUTES": "{}",
       "SQM_DETECTORS__COLD_START_DEFAULT_MINUTES": "0"}
"""Both runs: SLA rules, without a cold start, on two KPIs the simulated centre misses at times, so that there are
anomalies to compare (the swing detectors need a longer baseline than these runs have)."""


@dataclass
class Kill:
    share: float
    """Of the events: the kill comes after the run has counted this many."""
    how: str
    """``random``: 0-0.5 s later; ``snapshot``: at the next write to the recovery store (its SQLite WAL)."""
    counted: int = 0
    """Events the killed run had counted (as its closed minutes reported them)."""

    def __repr__(self) -> str:
        return f"{self.how} at {self.counted:,}"


def crash_repeatedly(spawn: Callable[..., Flow], redis: Any, redis_url: str, state_dir: Path,
                     total: int, plan: list[Kill], rng: random.Random) -> None:
    """Start the flow and kill it at each moment of ``plan`` in turn (filling in ``counted``)."""
    wal = state_dir / "recovery" / "part-0.sqlite3-wal"
    for k in plan:
        redis.delete(FLOW_STATS)  # progress is what this run reports
        flow = spawn(redis_url, state_dir, SLA, **FLOW)
        deadline = time.monotonic() + 240
        while stats(redis).get("events", 0) < k.share * total:
            alive(flow)
            assert time.monotonic() < deadline, f"no progress to {k.share:.0%}: {stats(redis)}"
            time.sleep(0.01)
        if k.how == "random":
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # the first write to the recovery store's WAL from now on: a snapshot being written
            before = wal.stat().st_mtime_ns
            while wal.stat().st_mtime_ns == before:
                alive(flow)
                assert time.monotonic() < deadline, "no snapshot written"
                time.sleep(0.001)
        kill(flow)
        k.counted = stats(redis).get("events", 0)


@dataclass
class Runs:
    clean: Any
    """A client of the clean run's Redis."""
    entries: int
    crashed_s: float
    clean_s: float
    checked: Any
    """What ``on_clean`` returned."""


@contextmanager
def crashed_and_clean(redis: Any, redis_url: str, tmp: Path, feed: Feed, until: float, total: int,
                      plan: list[Kill], rng: random.Random,
                      on_clean: Callable[[Any], Any] | None = None) -> Iterator[Runs]:
    """Run ``sqm flow`` on ``feed`` crashed by ``plan`` on ``redis`` and uninterrupted on a second Redis at once.

    Both end when every minute before ``until`` is closed. ``on_clean(client)`` runs in the background once the
    clean run is done, while the crashes go on.
    """
    with embedded_redis(tmp / "clean-redis") as clean_url, flows() as spawn, ThreadPoolExecutor(1) as pool:
        clean = connect(clean_url)
        feed.write(redis)
        feed.write(clean)
        entries = sum(redis.xlen(events_stream(p)) for p in feed.entries)
        t0 = time.monotonic()
        clean_flow = spawn(clean_url, tmp / "clean", SLA, idle_close_s=FLOW["idle_close_s"])  # epochs of 10 s

        def clean_run() -> tuple[float, Any]:
            wait_closed(clean, clean_flow, until, timeout=600)
            stop(clean_flow)
            return time.monotonic() - t0, on_clean(clean) if on_clean else None

        background = pool.submit(clean_run)
        crash_repeatedly(spawn, redis, redis_url, tmp / "crashed", total, plan, rng)
        redis.delete(FLOW_STATS)
        flow = spawn(redis_url, tmp / "crashed", SLA, **FLOW)
        wait_closed(redis, flow, until, timeout=600)
        # a stream is trimmed TRIM_LAG snapshots after a run read past it; on a fast machine every run between
        # the kills, and this last one, can end sooner: give this one the snapshots (an idle flow still takes them)
        deadline = time.monotonic() + 30
        while sum(redis.xlen(events_stream(p)) for p in feed.entries) >= entries and time.monotonic() < deadline:
            alive(flow)
            time.sleep(0.1)
        stop(flow)
        crashed_s = time.monotonic() - t0
        clean_s, checked = background.result()
        try:
            yield Runs(clean, entries, crashed_s, clean_s, checked)
        finally:
            clean.close()


def hot_store(redis: Any) -> dict[str, Any]:
    """The KPIs the flow wrote: history (members with scores) and latest snapshots, per key."""
    out: dict[str, Any] = {kpi_latest(w): redis.hgetall(kpi_latest(w)) for w in WINDOWS}
    for key in redis.scan_iter(match=kpi_history("") + "*", count=1000):
        out[key.decode()] = redis.zrange(key, 0, -1, withscores=True)
    return out


def compare(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Each key of two ``hot_store`` dumps whose content differs, with its first difference."""
    out = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            diff = [(f, a.get(f), b.get(f)) for f in sorted(a.keys() | b.keys()) if a.get(f) != b.get(f)]
        else:
            diff = [(i, x, y) for i, (x, y) in enumerate(itertools.zip_longest(a or [], b or [])) if x != y]
        out.append(f"{key}: {len(diff)} differ, the first {diff[0]!r}")
    return out


def dlq_records(redis: Any) -> Counter[tuple[bytes, ...]]:
    """Every dead letter, whole: (source, reason, field, raw)."""
    return Counter(tuple(f[k] for k in (b"source", b"reason", b"field", b"raw")) for _, f in redis.xrange(DLQ))
