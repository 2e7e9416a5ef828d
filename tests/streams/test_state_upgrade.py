"""A flow resumed from a recovery snapshot of an older sqm ends where a clean run ends.

tests/streams/fixtures/v0 is a real bytewax recovery store written by the flow
whose state was positional lists (before state versions), after reading the first
20 of 40 simulated minutes (see make_recovery_snapshot.py there). Resuming from it
(the second half of the entries in the streams, a producer's retry of first-half
events among them), today's flow must write the KPIs a clean run over all 40
minutes writes: contacts still waiting at the snapshot, the dedupe memory, the
open minutes and every window's accumulators come back through the upgrade.

"The same KPIs" is to 1e-12 relative for the float sums (response and handle
times): the two runs read the streams in different chunks, and a float sum
added up in other groups can differ in its last bit. Counts, ``n`` and every other
field are equal.
"""

from __future__ import annotations

import math
import pickle
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from msgspec.structs import replace

from sqm.config import Settings
from sqm.keys import events_stream, kpi_history
from sqm.models import KpiSnapshot, decode_events, decode_snapshot
from streams import partition as P
from streams import rollup as R
from streams.accum import Acc, Levels
from streams.contacts import Complaint, Contact
from streams.state import Record, Records, StateVersionError, restore, restore_records
from tests.streams.fixtures.make_recovery_snapshot import HERE, SPLIT, before, latest_snapshots, load_entries
from tests.streams.helpers import all_series, closes, run_until, stats

FIXTURE = "v0"
WALL = 1_000_000.0
"""The wall clock of the run that wrote the fixture, which never moved (no idle advance), and of these runs."""


def _settings(tmp_path: Any) -> Settings:
    return Settings(state_dir=tmp_path)


def _snapshots() -> dict[tuple[str, str], bytes]:
    return latest_snapshots(HERE / FIXTURE / "recovery" / "part-0.sqlite3")


def _feed(parts: dict[str, list[tuple[bytes, bytes]]], split: str, *, after_split: bool) -> Iterator[P.Chunk]:
    """The entries (all, or only those of the second half) as one chunk each, in time order across streams."""
    entries = [(part, eid, raw) for part, es in parts.items() for eid, raw in es
               if not after_split or not before(eid.decode(), split)]
    entries.sort(key=lambda e: tuple(int(x) for x in e[1].decode().split("-")))
    for part, eid, raw in entries:
        yield P.Chunk(part, [(eid, raw)], eid)


def _differ(mine: dict[Any, KpiSnapshot], theirs: dict[Any, KpiSnapshot]) -> list[str]:
    """Where two runs' snapshots differ beyond the last bits of a float sum."""
    out = []
    for key, snap in mine.items():
        other = theirs.get(key)
        if other is None:
            out.append(f"{key}: not in the clean run")
            continue
        same_floats = all(a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))
                          for a, b in zip(snap.kpis.values(), other.kpis.values(), strict=True))
        if not same_floats or replace(snap, kpis={}) != replace(other, kpis={}) or list(snap.kpis) != list(other.kpis):
            out.append(f"{key}: {snap.kpis} != {other.kpis}")
    return out


def _by_minute(minutes: list[R.Minute]) -> dict[tuple[int, str], KpiSnapshot]:
    return {(m.minute, s.series): s for m in minutes for s in m.snapshots}


def test_the_fixture_is_the_state_of_before_versions() -> None:
    """It pickles positional lists and unversioned dataclasses: no ``streams.state.restore`` anywhere."""
    snaps = _snapshots()
    read = [v for (step, _), v in snaps.items() if step == "sqm_kpis.read"]
    assert len(read) == Settings().streams.partitions
    assert all(b"streams.state" not in v for v in read)
    assert b"streams.state" not in snaps[("sqm_kpis.rollup", "all")]


def test_the_steps_resumed_from_the_old_snapshot_equal_a_clean_run() -> None:
    """Without bytewax or Redis: the upgraded partition and roll-up states go on with the second half."""
    settings = Settings()
    params = P.Params.of(settings)
    parts, split = load_entries(FIXTURE)
    snaps = _snapshots()
    states: dict[str, P.PartitionState] = {}
    for part in parts:
        last_id, state = pickle.loads(snaps[("sqm_kpis.read", part)])
        assert last_id.decode() == [eid.decode() for eid, _ in parts[part] if before(eid.decode(), split)][-1]
        state.resumed(params, WALL)
        states[part] = state
    roll = pickle.loads(snaps[("sqm_kpis.rollup", "all")])
    assert isinstance(roll, R.RollupState) and roll.next_minute is not None
    waiting = [c for st in states.values() for c in st.contacts.values() if c.tau is None]
    assert waiting and all(isinstance(c, Contact) for c in waiting)  # contacts that wait across the snapshot
    assert all(isinstance(acc, Acc) for ss in roll.series.values() for _, acc in ss.recent)

    def run(part_states: dict[str, P.PartitionState], rollup: R.RollupState, chunks: Iterator[P.Chunk]) -> list[R.Minute]:
        out: list[R.Minute] = []
        for chunk in chunks:
            res = P.process(part_states[chunk.part], chunk, params, WALL)
            rollup.add(res.part, res.wm, res.deltas, res.stats)
            out += R.close_minutes(rollup, settings.detectors.window)
        return out

    resumed = run(states, roll, _feed(parts, split, after_split=True))
    clean_states = {part: P.PartitionState(part) for part in parts}
    clean_roll = R.RollupState(list(parts), settings.streams.max_series)
    for part in parts:  # every stream reports, as the flow's idle streams do
        clean_roll.add(part, None, {}, {})
    clean = run(clean_states, clean_roll, _feed(parts, split, after_split=False))
    mine, theirs = _by_minute(resumed), _by_minute(clean)
    minutes = sorted({m.minute for m in resumed})
    assert minutes == list(range(minutes[0], minutes[-1] + 1)) and minutes[-1] == max(m.minute for m in clean)
    assert minutes[0] * 60 < SPLIT.timestamp() and len(mine) > 19 * 300
    differ = _differ(mine, theirs)
    assert not differ, f"{len(differ)} of {len(mine)} snapshots differ, e.g. {differ[:3]}"
    assert R.stats_of(roll) == R.stats_of(clean_roll)
    assert R.stats_of(roll)["duplicate"] > 0  # the retried first-half events were known: the dedupe memory came back


@pytest.mark.timeout(180)
def test_the_flow_resumes_from_the_old_recovery_store_and_writes_what_a_clean_run_writes(redis, redis_url, tmp_path) -> None:
    """The real flow (bytewax recovery, Redis streams and sinks) resumed from the v0 store, then a clean run."""
    parts, split = load_entries(FIXTURE)
    events = {ev.event_id: ev for es in parts.values() for _, raw in es for ev in decode_events(raw)}
    closed = closes(events.values(), Settings())

    def done(st: dict[str, int]) -> bool:
        return st.get("events", 0) >= len(events) and closed(st)

    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "recovery").mkdir(parents=True)
    shutil.copy(HERE / FIXTURE / "recovery" / "part-0.sqlite3", resumed_dir / "recovery")
    _write(redis, parts, split, after_split=True)  # the first half is gone: trimmed behind the snapshot
    run_until(_settings(resumed_dir), redis_url, redis, done, wall=lambda: WALL)
    resumed_stats, resumed = stats(redis), _history(redis)

    redis.flushdb()
    _write(redis, parts, split, after_split=False)
    run_until(_settings(tmp_path / "clean"), redis_url, redis, done, wall=lambda: WALL)
    clean_stats, clean = stats(redis), _history(redis)

    assert resumed_stats == clean_stats and resumed_stats["duplicate"] > 0
    assert resumed and set(resumed) == set(clean)
    assert all(max(resumed[key]) == max(clean[key]) for key in resumed)  # both closed every minute event time can
    starts = sorted({at for members in resumed.values() for at in members})
    assert starts[0] < SPLIT.timestamp() - 3000 and starts[-1] >= SPLIT.timestamp()  # rolling hours across the split
    mine = {(key, at): decode_snapshot(raw) for key, members in resumed.items() for at, raw in members.items()}
    theirs = {(key, at): decode_snapshot(raw) for key, members in clean.items() for at, raw in members.items()}
    differ = _differ(mine, theirs)
    assert not differ, f"{len(differ)} of {len(mine)} snapshots differ from the clean run's, e.g. {differ[:3]}"


def _write(redis: Any, parts: dict[str, list[tuple[bytes, bytes]]], split: str, *, after_split: bool) -> None:
    pipe = redis.pipeline(transaction=False)
    for part, entries in parts.items():
        for eid, raw in entries:
            if not after_split or not before(eid.decode(), split):
                pipe.xadd(events_stream(int(part)), {"e": raw}, id=eid)
    pipe.execute()


def _history(redis: Any) -> dict[str, dict[float, bytes]]:
    """Every history member by series and window start."""
    return {sid: {at: raw for raw, at in redis.zrange(kpi_history(sid), 0, -1, withscores=True)}
            for sid in all_series(redis)}


@pytest.mark.parametrize("record", [
    Acc(created=3, frt_sum=41.5, d_over=-1, frt_sketch={12: 2}),
    Levels(waiting=2, over=1, open=7),
    Contact(1.0, ("billing", "chat", "east"), 30.0, 42.0, 1, ("billing", "chat", "east"), None),
    Complaint(5.0, ("tech", "email", "north"), 7200.0, None, None),
    P.PartitionState("0003", max_ts=9.0, contacts=Records(Contact, {"c1": Contact(1.0)}), seen={"e1"},
                     done={1: [(0, "c1")]}),
    Records(Complaint, {"c1": Complaint(1.0), "c2": Complaint(None, responded=4.0)}),
    R.SeriesState(R.Tumbling(5, Acc(created=1)), None, Acc(answered=2)),
])
def test_every_state_record_round_trips_with_its_version(record: Record | Records[Any]) -> None:
    blob = pickle.dumps(record, pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(blob)
    assert back == record and type(back) is type(record)
    rebuild, (cls, version, values) = record.__reduce__()
    assert version == cls.VERSION >= 1 and rebuild(cls, version, values) == record


def test_state_newer_than_this_sqm_is_refused_with_a_clear_error() -> None:
    with pytest.raises(StateVersionError, match=r"Contact: state version 7 is newer than this sqm's \(1\)"):
        restore(Contact, 7, (None,) * 7)


def test_a_record_from_before_versions_is_upgraded_by_name() -> None:
    acc = restore(Acc, 0, [4, 2] + [0] * 22 + [{3: 1}])
    assert (acc.created, acc.answered, acc.d_open, acc.frt_sketch) == (4, 2, 0, {3: 1})
    con = restore(Contact, 0, [None, None, None, 12.0, 1, ("a", "b", "c"), 3.0])
    assert con.ts is None and con.tau == 12.0 and con.tdims == ("a", "b", "c") and con.target == 0.0
    with pytest.raises(ValueError, match="too many values|not enough values"):
        restore(Contact, 0, [1.0, ("a", "b", "c")])
    table = restore_records(Complaint, 0, {"c1": [2.0, ("a", "b", "c"), 1800.0, None, None]})
    assert isinstance(table, Records) and table["c1"] == Complaint(2.0, ("a", "b", "c"), 1800.0)
