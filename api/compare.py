"""Comparing one series' latest window with a reference: its own baseline, an earlier
period, another team or the whole center. Pure functions over snapshot dicts."""

from __future__ import annotations

import math
from typing import Any

from sqm.models import KPIS

WINDOW_S = {"1m": 60, "5m": 300, "1h": 3600, "60m": 60}
"""Window length between successive snapshots (the rolling 60 minutes advances by a minute)."""

PERIOD_S = {"1m": 60, "5m": 300, "1h": 3600, "60m": 3600}
"""Length of the period a window covers (the previous period starts this much earlier)."""

NEAR = 0.02
"""Changes smaller than 2 % are "same"."""


def average(snaps: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per-KPI mean over snapshots, weighted by each KPI's ``n`` (a baseline of rates stays a rate).

    >>> average([{"kpis": {"csat": 0.8}, "n": {"csat": 10}}, {"kpis": {"csat": 0.9}, "n": {"csat": 30}}])
    {'csat': 0.875}
    """
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for s in snaps:
        for k, v in s["kpis"].items():
            if v is None:
                continue
            w = float(s["n"].get(k, 1) or 1)
            sums[k] = sums.get(k, 0.0) + v * w
            weights[k] = weights.get(k, 0.0) + w
    keys = {k for s in snaps for k in s["kpis"]}
    return {k: (sums[k] / weights[k] if weights.get(k) else None) for k in sorted(keys)}


def delta(kpi: str, current: float | None, reference: float | None) -> dict[str, Any]:
    """Change of one KPI and whether it is better or worse, given which way is bad.

    >>> delta("frt_avg_s", 150.0, 100.0)
    {'current': 150.0, 'reference': 100.0, 'change': 50.0, 'change_pct': 50.0, 'verdict': 'worse'}
    >>> delta("csat", 0.9, 0.9)["verdict"], delta("volume", 12.0, 10.0)["verdict"], delta("nps", None, 3.0)["verdict"]
    ('same', 'n/a', 'n/a')
    """
    out: dict[str, Any] = {"current": current, "reference": reference, "change": None, "change_pct": None,
                           "verdict": "n/a"}
    if current is None or reference is None:
        return out
    change = current - reference
    out["change"] = change
    if reference != 0 and math.isfinite(reference):
        out["change_pct"] = change / abs(reference) * 100.0
    bad = KPIS[kpi].bad if kpi in KPIS else "none"
    if bad == "none":
        return out
    scale = abs(reference) if reference else max(abs(current), 1e-9)
    if abs(change) <= NEAR * scale:
        out["verdict"] = "same"
    else:
        worse = change > 0 if bad == "up" else change < 0
        out["verdict"] = "worse" if worse else "better"
    return out
