"""Mergeable KPI accumulators and the KPIs computed from them.

One ``Acc`` holds the sums of one minute at one (team, channel, region); buckets
of coarser windows and dimensions are ``merge``-d from them, a rolling window
``unmerge``-s the minute that leaves it. Gauges (contacts waiting, waiting past
their target, open) are not sums over a window but a level at its end: a bucket
carries their *changes* (``D_*``), the roll-up keeps running totals.

The KPI definitions (docs/streams.md has the table):

- ``volume`` = contacts created; ``frt_*`` over first responses with a known time;
  ``service_level`` = answered within the channel's target / answered (known time);
- ``timeout_rate`` = contacts whose wait passed the target in the window (answered,
  abandoned or still waiting) / (those + contacts answered or abandoned within the
  target in the window): each contact counts once, in the window where its outcome
  is decided, so a stuck queue shows the minute its contacts pass their target, and
  consecutive windows never count the same waiting contact twice. From the sums:
  (past-target answers and abandons + ``D_OVER``) / (answers and abandons with a
  known wait + ``D_OVER``), since the over-target gauge rises when a contact passes
  its target and falls when one past it is answered or abandoned;
- ``abandon_rate`` = abandoned / (answered + abandoned); ``resolution_rate`` =
  resolved / created; ``fcr_rate`` = resolved on first contact / resolved (flag
  known); ``aht_s`` = mean ``handle_s``; ``csat`` = scores 4-5 / scores; ``nps`` =
  100 x (promoters - detractors) / scores; ``complaint_rate`` = complaints opened /
  created; ``complaint_timely_rate`` = complaints answered in time / (those +
  complaints whose deadline passed unanswered); ``backlog`` = open at the end.

>>> a = new_acc(); a[CREATED] += 4; a[ANSWERED] += 2
>>> add_frt(a, 10.0, 30.0); add_frt(a, 50.0, 30.0)
>>> k, n = kpis(a, (0, 0, 3))
>>> k["volume"], k["frt_avg_s"], k["service_level"], n["service_level"], k["csat"], k["backlog"]
(4.0, 30.0, 0.5, 2, None, 3.0)
"""

from __future__ import annotations

from typing import Any

from streams import sketch

# Index of each sum in an Acc (a plain list: fast to merge and to pickle).
(
    CREATED,
    ANSWERED,
    FRT_N,
    FRT_SUM,
    IN_TARGET,
    CLOSED_N,
    CLOSED_LATE,
    ABANDONED,
    RESOLVED,
    FCR_N,
    FCR_YES,
    AHT_N,
    AHT_SUM,
    CSAT_N,
    CSAT_GOOD,
    NPS_N,
    NPS_PRO,
    NPS_DET,
    COMPLAINTS,
    CPL_TIMELY,
    CPL_UNTIMELY,
    D_WAITING,
    D_OVER,
    D_OPEN,
) = range(24)
NSUMS = 24
SKETCH = NSUMS
"""The FRT sketch (dict) sits after the sums."""
GAUGES = (D_WAITING, D_OVER, D_OPEN)

Acc = list[Any]
Gauges = tuple[int, int, int]
"""(waiting, waiting past target, open) at a window's end."""


def new_acc() -> Acc:
    acc: Acc = [0] * NSUMS
    acc.append({})
    return acc


def merge(into: Acc, other: Acc) -> None:
    for i in range(NSUMS):
        into[i] += other[i]
    if other[SKETCH]:
        sketch.merge(into[SKETCH], other[SKETCH])


def unmerge(into: Acc, other: Acc) -> None:
    for i in range(NSUMS):
        into[i] -= other[i]
    if other[SKETCH]:
        sketch.subtract(into[SKETCH], other[SKETCH])


def copy_acc(acc: Acc) -> Acc:
    out = acc[:NSUMS]
    out.append(dict(acc[SKETCH]))
    return out


def add_frt(acc: Acc, frt: float, target: float) -> None:
    """One first response with a known time (answered count is kept separately)."""
    acc[FRT_N] += 1
    acc[FRT_SUM] += frt
    sketch.add(acc[SKETCH], frt)
    acc[CLOSED_N] += 1
    if frt <= target:
        acc[IN_TARGET] += 1
    else:
        acc[CLOSED_LATE] += 1


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def kpis(acc: Acc, gauges: Gauges) -> tuple[dict[str, float | None], dict[str, int]]:
    """The KPIs (None when the denominator is empty) and their ``n``."""
    open_ = max(0, gauges[2])  # (the waiting levels, gauges[0] and [1], no longer enter a KPI: see timeout_rate)
    frt_n = acc[FRT_N]
    sk = acc[SKETCH]
    late = max(0, acc[CLOSED_LATE] + acc[D_OVER])  # (a contact forgotten at max age takes its -1 with it)
    timeout_den = max(late, acc[CLOSED_N] + acc[D_OVER])
    handled = acc[ANSWERED] + acc[ABANDONED]
    created = acc[CREATED]
    cpl_den = acc[CPL_TIMELY] + acc[CPL_UNTIMELY]
    p50, p90 = sketch.quantiles(sk, (0.5, 0.9)) if frt_n else (None, None)
    values: dict[str, float | None] = {
        "volume": float(created),
        "frt_avg_s": _ratio(acc[FRT_SUM], frt_n),
        "frt_p50_s": p50,
        "frt_p90_s": p90,
        "service_level": _ratio(acc[IN_TARGET], frt_n),
        "timeout_rate": _ratio(late, timeout_den),
        "abandon_rate": _ratio(acc[ABANDONED], handled),
        "resolution_rate": _ratio(acc[RESOLVED], created),
        "fcr_rate": _ratio(acc[FCR_YES], acc[FCR_N]),
        "aht_s": _ratio(acc[AHT_SUM], acc[AHT_N]),
        "csat": _ratio(acc[CSAT_GOOD], acc[CSAT_N]),
        "nps": _ratio(100.0 * (acc[NPS_PRO] - acc[NPS_DET]), acc[NPS_N]),
        "complaint_rate": _ratio(acc[COMPLAINTS], created),
        "complaint_timely_rate": _ratio(acc[CPL_TIMELY], cpl_den),
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
        "fcr_rate": acc[FCR_N],
        "aht_s": acc[AHT_N],
        "csat": acc[CSAT_N],
        "nps": acc[NPS_N],
        "complaint_rate": created,
        "complaint_timely_rate": cpl_den,
        "backlog": open_,
    }
    return values, ns
