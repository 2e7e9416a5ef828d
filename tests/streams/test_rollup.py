"""The roll-up as a plain function: windows from minute buckets, levels, cardinality."""

from __future__ import annotations

from datetime import UTC, datetime

from streams import accum as A
from streams.rollup import OTHER, RollupState, close_minutes, stats_of

M0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp() // 60)
DIMS = ("billing", "chat", "east")


def created(n: int = 1) -> A.Acc:
    return A.Acc(created=n, d_open=n)


def feed(st: RollupState, minutes: range, dims=DIMS, part: str = "0") -> list:
    out = []
    for m in minutes:
        st.add(part, (m + 1) * 60.0, {(m, dims): created(m - M0 + 1)}, {"events": 1})
        out.extend(close_minutes(st))
    return out


def snaps(minutes: list, window: str, dims=("*", "*", "*")) -> list:
    return [s for m in minutes for s in m.snapshots if s.window == window and s.dims == dims]


def test_windows_are_merged_from_minutes_and_the_rolling_hour_subtracts_what_left() -> None:
    st = RollupState(partitions=["0"])
    out = feed(st, range(M0, M0 + 70))  # minute k holds k + 1 contacts
    rolling = snaps(out, "60m")
    assert [s.kpis["volume"] for s in rolling[:3]] == [1.0, 3.0, 6.0]
    assert rolling[69].kpis["volume"] == sum(range(11, 71))  # minutes 10..69 hold 11..70
    hour = snaps(out, "1h")
    finals = [s for s in hour if s.final]
    assert len(finals) == 1 and finals[0].kpis["volume"] == sum(range(1, 61))
    assert hour[65].final is False and hour[65].kpis["volume"] == sum(range(61, 67))
    five = [s for s in snaps(out, "5m") if s.final]
    assert [s.kpis["volume"] for s in five[:2]] == [15.0, 40.0]
    assert rolling[69].kpis["backlog"] == sum(range(1, 71))  # a level, not a sum over the window


def test_levels_and_children_for_the_detectors() -> None:
    st = RollupState(partitions=["0", "1"])
    st.add("0", (M0 + 1) * 60.0, {(M0, DIMS): created(2)}, {})
    assert close_minutes(st) == []  # partition 1 has not reported: it may hold this minute
    st.add("1", (M0 + 1) * 60.0, {(M0, ("tech", "phone", "north")): created(3)}, {})
    [minute] = close_minutes(st)
    vol = {s.dims: s.kpis["volume"] for s in minute.snapshots if s.window == "1m"}
    assert vol[("*", "*", "*")] == 5.0 and vol[("tech", "*", "*")] == 3.0 and vol[("*", "chat", "*")] == 2.0
    assert vol[("*", "*", "north")] == 3.0 and vol[("billing", "chat", "*")] == 2.0
    kids = minute.children["60m|*|*|*"]
    assert sorted(k.team for k in kids) == ["billing", "tech"] and all(k.channel == "*" for k in kids)
    assert [k.region for k in minute.children["60m|billing|chat|*"]] == ["east"]


def test_combinations_beyond_the_cardinality_limit_are_counted_under_other() -> None:
    st = RollupState(partitions=["0"], max_series=2)
    deltas = {(M0, (f"t{i}", "chat", "east")): created() for i in range(4)}
    st.add("0", (M0 + 1) * 60.0, deltas, {})
    [minute] = close_minutes(st)
    vol = {s.dims: s.kpis["volume"] for s in minute.snapshots if s.window == "1m"}
    assert vol[OTHER] == 2.0 and vol[("*", "*", "*")] == 4.0
    assert stats_of(st)["over_cardinality"] == 2
