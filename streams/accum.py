"""Mergeable KPI accumulators and the KPIs computed from them.

One ``Acc`` holds the sums of one minute at one (team, channel, region); buckets
of coarser windows and dimensions are ``merge``-d from them, a rolling window
``unmerge``-s the minute that leaves it. Gauges (contacts waiting, waiting past
their target, open) are not sums over a window but a level at its end: a bucket
carries their *changes* (``d_*``), the roll-up keeps running totals (``Levels``).

The KPI definitions (docs/streams.md has the table):

- ``volume`` = contacts created; ``frt_*`` over first responses with a known time;
  ``service_level`` = answered within the channel's target / answered (known time);
- ``timeout_rate`` = contacts whose wait passed the target in the window (answered,
  abandoned or still waiting) / (those + contacts answered or abandoned within the
  target in the window): each contact counts once, in the window where its outcome
  is decided, so a stuck queue shows the minute its contacts pass their target, and
  consecutive windows never count the same waiting contact twice. From the sums:
  (past-target answers and abandons + ``d_over``) / (answers and abandons with a
  known wait + ``d_over``), since the over-target gauge rises when a contact passes
  its target and falls when one past it is answered or abandoned;
- ``abandon_rate`` = abandoned / (answered + abandoned); ``resolution_rate`` =
  resolved / created; ``fcr_rate`` = resolved on first contact / resolved (flag
  known); ``aht_s`` = mean ``handle_s``; ``csat`` = scores 4-5 / scores; ``nps`` =
  100 x (promoters - detractors) / scores; ``complaint_rate`` = complaints opened /
  created; ``complaint_timely_rate`` = complaints answered in time / (those +
  complaints whose deadline passed unanswered); ``backlog`` = open at the end.

>>> a = Acc(created=4, answered=2)
>>> add_frt(a, 10.0, 30.0); add_frt(a, 50.0, 30.0)
>>> k, n = kpis(a, Levels(open=3))
>>> k["volume"], k["frt_avg_s"], k["service_level"], n["service_level"], k["csat"], k["backlog"]
(4.0, 30.0, 0.5, 2, None, 3.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from streams import sketch
from streams.state import Record, names

Dims = tuple[str, str, str]
"""(team, channel, region)."""


@dataclass(slots=True)
class Acc(Record):
    """The sums of one minute at one (team, channel, region), mergeable into any window and dimension.

    ``d_*`` are the changes of levels (contacts waiting, waiting past their target,
    open) in that minute; ``frt_sketch`` holds the first-response times (``sketch``).
    """

    VERSION = 1
    created: int = 0
    answered: int = 0
    frt_n: int = 0
    frt_sum: float = 0
    in_target: int = 0
    closed_n: int = 0
    closed_late: int = 0
    abandoned: int = 0
    resolved: int = 0
    fcr_n: int = 0
    fcr_yes: int = 0
    aht_n: int = 0
    aht_sum: float = 0
    csat_n: int = 0
    csat_good: int = 0
    nps_n: int = 0
    nps_pro: int = 0
    nps_det: int = 0
    complaints: int = 0
    cpl_timely: int = 0
    cpl_untimely: int = 0
    d_waiting: int = 0
    d_over: int = 0
    d_open: int = 0
    frt_sketch: sketch.Sketch = field(default_factory=dict)

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # a list: the 24 sums in the order above, then the sketch
            return tuple(old)
        return super().upgrade(old, version)


SUMS = tuple(name for name in names(Acc) if name != "frt_sketch")
"""Every field of ``Acc`` but the sketch: what merging adds up."""
_sums = attrgetter(*SUMS)


@dataclass(slots=True)
class Levels(Record):
    """Levels at a window's end: contacts waiting for a first answer, those past their target, contacts open."""

    VERSION = 1
    waiting: int = 0
    over: int = 0
    open: int = 0

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # a list [waiting, over, open]
            return tuple(old)
        return super().upgrade(old, version)

    def add(self, acc: Acc) -> None:
        """Move the levels by a minute's changes."""
        self.waiting += acc.d_waiting
        self.over += acc.d_over
        self.open += acc.d_open

    def add_levels(self, other: Levels) -> None:
        self.waiting += other.waiting
        self.over += other.over
        self.open += other.open


Deltas = dict[tuple[int, Dims], Acc]
"""What a chunk of events changed: an ``Acc`` per (minute, dims)."""


def merge(into: Acc, other: Acc) -> None:
    for name, mine, theirs in zip(SUMS, _sums(into), _sums(other), strict=True):
        if theirs:
            setattr(into, name, mine + theirs)
    if other.frt_sketch:
        sketch.merge(into.frt_sketch, other.frt_sketch)


def unmerge(into: Acc, other: Acc) -> None:
    for name, mine, theirs in zip(SUMS, _sums(into), _sums(other), strict=True):
        if theirs:
            setattr(into, name, mine - theirs)
    if other.frt_sketch:
        sketch.subtract(into.frt_sketch, other.frt_sketch)


def add_frt(acc: Acc, frt: float, target: float) -> None:
    """One first response with a known time (answered count is kept separately)."""
    acc.frt_n += 1
    acc.frt_sum += frt
    sketch.add(acc.frt_sketch, frt)
    acc.closed_n += 1
    if frt <= target:
        acc.in_target += 1
    else:
        acc.closed_late += 1


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def kpis(acc: Acc, levels: Levels) -> tuple[dict[str, float | None], dict[str, int]]:
    """The KPIs (None when the denominator is empty) and their ``n``."""
    open_ = max(0, levels.open)  # (the waiting levels no longer enter a KPI: see timeout_rate)
    frt_n = acc.frt_n
    late = max(0, acc.closed_late + acc.d_over)  # (a contact forgotten at max age takes its -1 with it)
    timeout_den = max(late, acc.closed_n + acc.d_over)
    handled = acc.answered + acc.abandoned
    created = acc.created
    cpl_den = acc.cpl_timely + acc.cpl_untimely
    p50, p90 = sketch.quantiles(acc.frt_sketch, (0.5, 0.9)) if frt_n else (None, None)
    values: dict[str, float | None] = {
        "volume": float(created),
        "frt_avg_s": _ratio(acc.frt_sum, frt_n),
        "frt_p50_s": p50,
        "frt_p90_s": p90,
        "service_level": _ratio(acc.in_target, frt_n),
        "timeout_rate": _ratio(late, timeout_den),
        "abandon_rate": _ratio(acc.abandoned, handled),
        "resolution_rate": _ratio(acc.resolved, created),
        "fcr_rate": _ratio(acc.fcr_yes, acc.fcr_n),
        "aht_s": _ratio(acc.aht_sum, acc.aht_n),
        "csat": _ratio(acc.csat_good, acc.csat_n),
        "nps": _ratio(100.0 * (acc.nps_pro - acc.nps_det), acc.nps_n),
        "complaint_rate": _ratio(acc.complaints, created),
        "complaint_timely_rate": _ratio(acc.cpl_timely, cpl_den),
        "backlog": float(open_),
    }
    ns = {
        "volume": created,
        "frt_avg_s": frt_n,
        "frt_p50_s": frt_n,
        "frt_p90_s": frt_n,
        "service_level": frt_n,
        "timeout_rate": timeout_den,
        "abandon_rate": handled,
        "resolution_rate": created,
        "fcr_rate": acc.fcr_n,
        "aht_s": acc.aht_n,
        "csat": acc.csat_n,
        "nps": acc.nps_n,
        "complaint_rate": created,
        "complaint_timely_rate": cpl_den,
        "backlog": open_,
    }
    return values, ns
