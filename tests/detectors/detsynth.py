"""Synthetic KPI series for the detector tests: per-minute binomial buckets rolled into windows."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sqm.models import KpiSnapshot

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def rolling_timeout(
    seed: int,
    *,
    per_hour: float = 2400,
    p0: float = 0.10,
    minutes: int = 180,
    incident: tuple[int, int, float] | None = None,
    team: str = "billing",
    channel: str = "*",
    window: int = 60,
    with_minutes: bool = False,
    wander: Callable[[int], float] | None = None,
) -> Iterator[KpiSnapshot]:
    """Rolling ``window``-minute snapshots of timeout_rate, one per minute.

    ``incident`` is (start minute, length in minutes, relative change). ``with_minutes``: each
    minute's own 1-minute snapshot comes first (the per-minute evidence the flow feeds).
    ``wander(minute)``: the rate's relative change from ``p0`` at that minute; an incident changes that rate.
    """
    rng = random.Random(seed)
    buckets: list[tuple[int, int]] = []
    lam = per_hour / 60
    for m in range(minutes):
        n = _poisson(rng, lam)
        p = p0 * (1 + (wander(m) if wander else 0.0))
        if incident and incident[0] <= m < incident[0] + incident[1]:
            p = min(1.0, p * (1 + incident[2]))
        k = sum(1 for _ in range(n) if rng.random() < p)
        buckets.append((n, k))
        end = T0 + timedelta(minutes=m + 1)
        for size in ((1, window) if with_minutes else (window,)):
            win = buckets[-size:]
            n_w = sum(b[0] for b in win)
            k_w = sum(b[1] for b in win)
            yield KpiSnapshot(
                window="60m" if size == 60 else "1m",
                start=end - timedelta(minutes=size),
                end=end,
                team=team,
                channel=channel,
                kpis={"timeout_rate": k_w / n_w if n_w else None, "volume": float(n_w)},
                n={"timeout_rate": n_w, "volume": n_w},
            )


def _poisson(rng: random.Random, lam: float) -> int:
    # normal approximation is fine for the volumes used here (lam >= 10)
    return max(0, round(rng.gauss(lam, lam**0.5)))
