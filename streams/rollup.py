"""The roll-up: merge partition deltas, close minutes, build every window and dimension.

``RollupState`` gathers the per-minute (team, channel, region) accumulator deltas
of every partition. A minute closes when every partition's watermark has passed
its end; then its buckets are merged into the coarser dimensions (``LEVELS``) and
into the 5-minute and 1-hour tumbling windows and the rolling 60 minutes (which
adds the new minute and removes the one that left) — always from buckets, never
from events. ``close_minutes`` returns the snapshots of each closed minute.

>>> from datetime import UTC, datetime
>>> st = RollupState(partitions=["0"])
>>> t0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp() // 60)
>>> st.add("0", t0 * 60 + 61.0, {(t0, ("billing", "chat", "east")): A.Acc(created=3)}, {})
>>> [minute] = close_minutes(st)
>>> snap = next(s for s in minute.snapshots if s.window == "1m" and s.team == "*" and s.channel == "*")
>>> snap.kpis["volume"], snap.start.isoformat(), snap.final
(3.0, '2026-03-02T09:00:00+00:00', True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqm.aggregates import Grain, KpiAggregate
from sqm.models import ALL, KpiSnapshot, Window
from streams import accum as A
from streams import sketch
from streams.accum import Deltas, Dims
from streams.state import Record, restore

LEVELS: tuple[tuple[bool, bool, bool], ...] = (
    (True, True, True),  # team x channel x region
    (True, True, False),  # team x channel
    (True, False, False),  # team
    (False, True, False),  # channel
    (False, False, True),  # region
    (False, False, False),  # overall
)
"""Which of (team, channel, region) each roll-up level keeps; the rest become ``*``."""

OTHER: Dims = ("_other", "_other", "_other")
"""Where (team, channel, region) combinations beyond ``max_series`` are counted."""


def level_keys(dims: Dims) -> list[Dims]:
    t, c, r = dims
    return [(t if kt else ALL, c if kc else ALL, r if kr else ALL) for kt, kc, kr in LEVELS]


def children_of(key: Dims, keys: set[Dims]) -> list[Dims]:
    """The series one level finer than ``key`` that explain it (for the detectors' drill-down)."""
    t, c, r = key
    if t == ALL and c == ALL and r == ALL:
        return sorted(k for k in keys if k[0] != ALL and k[1] == ALL and k[2] == ALL)
    if t != ALL and c == ALL and r == ALL:
        return sorted(k for k in keys if k[0] == t and k[1] != ALL and k[2] == ALL)
    if t != ALL and c != ALL and r == ALL:
        return sorted(k for k in keys if k[0] == t and k[1] == c and k[2] != ALL)
    if t == ALL and c != ALL:
        return sorted(k for k in keys if k[0] != ALL and k[1] == c and k[2] == ALL)
    if t == ALL and c == ALL and r != ALL:
        return sorted(k for k in keys if k[0] != ALL and k[1] != ALL and k[2] == r)
    return []


@dataclass(slots=True)
class Tumbling(Record):
    VERSION = 1
    start: int
    acc: A.Acc

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # the dataclass's __dict__, the accumulator a list
            return old["start"], restore(A.Acc, 0, old["acc"])
        return super().upgrade(old, version)


@dataclass(slots=True)
class SeriesState(Record):
    """Window accumulators of one roll-up series."""

    VERSION = 1
    five: Tumbling | None = None
    hour: Tumbling | None = None
    rolling: A.Acc = field(default_factory=A.Acc)
    recent: deque[tuple[int, A.Acc]] = field(default_factory=deque)
    """The minutes in ``rolling``, oldest first: each leaves it 60 minutes on."""
    day: Tumbling | None = None
    """The site-local day so far, for the long history."""

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # the dataclass's __dict__, the accumulators lists; ``day`` came late in it
            recent = deque((m, restore(A.Acc, 0, acc)) for m, acc in old["recent"])
            return old["five"], old["hour"], restore(A.Acc, 0, old["rolling"]), recent, old.get("day")
        return super().upgrade(old, version)


@dataclass
class Minute:
    """What closing one minute produced."""

    minute: int
    snapshots: list[KpiSnapshot]
    children: dict[str, list[KpiSnapshot]]
    """Per series id (final snapshots only): the snapshots one level finer, same window."""
    stats: dict[str, Any] | None = None
    aggregates: list[KpiAggregate] = field(default_factory=list)
    """The hours and site-local days this minute completed, one per series (the long history)."""


@dataclass(slots=True)
class RollupState(Record):
    VERSION = 1
    partitions: list[str]
    max_series: int = 100_000
    wms: dict[str, float | None] = field(default_factory=dict)
    open: dict[int, dict[Dims, A.Acc]] = field(default_factory=dict)
    """Minutes not closed yet: their buckets per (team, channel, region)."""
    next_minute: int | None = None
    levels: dict[Dims, A.Levels] = field(default_factory=dict)
    """The running levels (waiting, past target, open) of each (team, channel, region)."""
    known: set[Dims] = field(default_factory=set)
    series: dict[Dims, SeriesState] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    late_merge: int = 0
    over_cardinality: int = 0
    day_offset_min: int = 0
    """The site's UTC offset in minutes: days of the long history start at local midnight."""

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # the dataclass's __dict__: accumulators and levels lists, the last snapshots kept too
            open_ = {m: {dims: restore(A.Acc, 0, acc) for dims, acc in bucket.items()} for m, bucket in old["open"].items()}
            levels = {dims: restore(A.Levels, 0, cum) for dims, cum in old["cum"].items()}
            return (old["partitions"], old["max_series"], old["wms"], open_, old["next_minute"], levels, old["known"],
                    old["series"], old["stats"], old["late_merge"], old["over_cardinality"], old.get("day_offset_min", 0))
        return super().upgrade(old, version)

    def add(self, part: str, wm: float | None, deltas: Deltas, stats: dict[str, int]) -> None:
        """Take one partition's deltas and its watermark."""
        self.wms[part] = wm
        if stats:
            self.stats[part] = stats
        for (m, dims), acc in deltas.items():
            if self.next_minute is not None and m < self.next_minute:
                self.late_merge += 1  # a minute already closed (see docs/streams.md); should not happen
                continue
            if dims not in self.known:
                if len(self.known) >= self.max_series:
                    self.over_cardinality += 1
                    dims = OTHER
                self.known.add(dims)
            bucket = self.open.setdefault(m, {})
            have = bucket.get(dims)
            if have is None:
                bucket[dims] = acc
            else:
                A.merge(have, acc)

    def watermark(self) -> float | None:
        """Every minute ending at or before this is complete in every partition."""
        if any(p not in self.wms for p in self.partitions):
            return None  # a partition has not reported yet: it may hold old events
        wms = [w for w in self.wms.values() if w is not None]
        return min(wms) if wms else None


def _ts(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def _snap(window: Window, start: int, end: int, key: Dims, acc: A.Acc, levels: A.Levels, *,
          final: bool) -> KpiSnapshot:
    values, ns = A.kpis(acc, levels)
    return KpiSnapshot(window=window, start=_ts(start), end=_ts(end),
                       team=key[0], channel=key[1], region=key[2], kpis=values, n=ns, final=final)


def close_minutes(st: RollupState, detector_window: str = "60m", max_minutes: int = 100_000) -> list[Minute]:
    """Close every minute the watermark has passed; their snapshots, oldest first."""
    wm = st.watermark()
    if wm is None:
        return []
    if st.next_minute is None:
        if not st.open:
            return []
        st.next_minute = min(st.open)
    out: list[Minute] = []
    while (st.next_minute + 1) * 60 <= wm and len(out) < max_minutes:
        out.append(_close(st, st.next_minute, detector_window))
        st.next_minute += 1
    return out


ByWindow = dict[Window, dict[Dims, KpiSnapshot]]


def _close(st: RollupState, m: int, detector_window: str) -> Minute:
    level_acc, level_levels = _merge_levels(st, st.open.pop(m, {}))
    by_window: ByWindow = {"1m": {}, "5m": {}, "1h": {}, "60m": {}}
    for key, acc in level_acc.items():
        ss = st.series.get(key)
        if ss is None:
            ss = st.series[key] = SeriesState()
        _windows(ss, m, key, acc, level_levels[key], by_window)
    snaps: list[KpiSnapshot] = []
    children: dict[str, list[KpiSnapshot]] = {}
    keys = set(level_acc)
    for window, snaps_w in by_window.items():
        snaps.extend(snaps_w.values())
        if window == detector_window:
            for key, snap in snaps_w.items():
                if snap.final:
                    children[snap.series] = [snaps_w[k] for k in children_of(key, keys)]
    return Minute(m, snaps, children, aggregates=_aggregates(st, m, level_acc, level_levels))


def _merge_levels(st: RollupState, buckets: dict[Dims, A.Acc]) -> tuple[dict[Dims, A.Acc], dict[Dims, A.Levels]]:
    """The minute's buckets merged into every roll-up level, and each level's running levels."""
    level_acc: dict[Dims, A.Acc] = {}
    level_levels: dict[Dims, A.Levels] = {}
    # in a fixed order: float sums (response, handle times) merged in set order would differ in the last bits
    # between processes (string hashes are salted per process), e.g. after a restart
    for dims in sorted(st.known):
        acc = buckets.get(dims)
        levels = st.levels.get(dims)
        if acc is not None:
            if levels is None:
                levels = st.levels[dims] = A.Levels()
            levels.add(acc)
        for key in level_keys(dims):
            la = level_acc.get(key)
            if la is None:
                la = level_acc[key] = A.Acc()
                level_levels[key] = A.Levels()
            if acc is not None:
                A.merge(la, acc)
            if levels is not None:
                level_levels[key].add_levels(levels)
    return level_acc, level_levels


def _windows(ss: SeriesState, m: int, key: Dims, acc: A.Acc, levels: A.Levels, by_window: ByWindow) -> None:
    """Minute ``m`` of one series into its windows; their snapshots into ``by_window``."""
    by_window["1m"][key] = _snap("1m", m, m + 1, key, acc, levels, final=True)
    # rolling 60 minutes: add this minute, remove the one that left
    A.merge(ss.rolling, acc)
    ss.recent.append((m, acc))
    while ss.recent and ss.recent[0][0] <= m - 60:
        A.unmerge(ss.rolling, ss.recent.popleft()[1])
    by_window["60m"][key] = _snap("60m", m - 59, m + 1, key, ss.rolling, levels, final=True)
    start = m - m % 5
    if ss.five is None or ss.five.start != start:
        ss.five = Tumbling(start, A.Acc())
    A.merge(ss.five.acc, acc)
    by_window["5m"][key] = _snap("5m", start, start + 5, key, ss.five.acc, levels, final=m + 1 == start + 5)
    start = m - m % 60
    if ss.hour is None or ss.hour.start != start:
        ss.hour = Tumbling(start, A.Acc())
    A.merge(ss.hour.acc, acc)
    by_window["1h"][key] = _snap("1h", start, start + 60, key, ss.hour.acc, levels, final=m + 1 == start + 60)


def aggregate(grain: Grain, start: int, end: int, key: Dims, acc: A.Acc, levels: A.Levels) -> KpiAggregate:
    """The long-history record of one series over [start, end) minutes."""
    values, ns = A.kpis(acc, levels)
    hist = [(sketch.value_of(k), c) for k, c in sorted(acc.frt_sketch.items())]
    return KpiAggregate(grain=grain, start=_ts(start), end=_ts(end), team=key[0], channel=key[1],
                        region=key[2], kpis=values, n=ns, nps_detractors=acc.nps_det, frt_hist=hist)


def day_offset_min(timezone: str) -> int:
    """The site's UTC offset in minutes today (days of the long history start at its midnight; a zone with
    daylight saving time keeps the offset the flow started with).

    >>> day_offset_min("Asia/Shanghai"), day_offset_min("UTC")
    (480, 0)
    """
    from zoneinfo import ZoneInfo

    offset = datetime.now(ZoneInfo(timezone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _aggregates(st: RollupState, m: int, level_acc: dict[Dims, A.Acc],
                level_levels: dict[Dims, A.Levels]) -> list[KpiAggregate]:
    """Each series' hour when minute ``m`` ends it, and its site-local day when ``m`` ends that."""
    day_start = (m + st.day_offset_min) // 1440 * 1440 - st.day_offset_min
    out = []
    for key, acc in level_acc.items():
        ss = st.series[key]
        if ss.day is None or ss.day.start != day_start:
            ss.day = Tumbling(day_start, A.Acc())
        A.merge(ss.day.acc, acc)
        levels = level_levels[key]
        if (m + 1) % 60 == 0 and ss.hour is not None:
            out.append(aggregate("1h", ss.hour.start, ss.hour.start + 60, key, ss.hour.acc, levels))
        if m + 1 == day_start + 1440:
            out.append(aggregate("1d", day_start, day_start + 1440, key, ss.day.acc, levels))
    return out


def stats_of(st: RollupState) -> dict[str, Any]:
    """Counters for ``sqm:flow:stats``: totals over partitions plus the roll-up's own."""
    total: dict[str, Any] = {}
    for per in st.stats.values():
        for k, v in per.items():
            total[k] = total.get(k, 0) + v
    total["late_merge"] = st.late_merge
    total["over_cardinality"] = st.over_cardinality
    total["series"] = len(st.series)
    total["closed_until"] = (st.next_minute or 0) * 60
    return total
