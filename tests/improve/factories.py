"""Hourly totals for the improvement tests: from the simulator through the dataflow's own steps, or drawn."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np

from improve.totals import Measure, Totals, from_snapshot
from improve.verify import HourSeries
from sim.incidents import Incident
from sim.simulator import Simulator
from sqm.config import Settings
from sqm.models import to_builtins
from streams.offline import closed_minutes

Series = dict[tuple[str, str, str], list[tuple[datetime, Totals]]]


def two_team_settings() -> Settings:
    return Settings(teams=[{"name": "billing"}, {"name": "tech"}], regions=["east"], streams={"partitions": 1})


def simulated_hours(settings: Settings, start: datetime, days: float, *, seed: int, incidents: Sequence[Incident] = (),
                    rates: dict | None = None, volumes: dict | None = None) -> tuple[Simulator, Series]:
    """The simulator's events through the flow's steps; the final 1-hour snapshots as hourly totals per series."""
    sim = Simulator(settings, seed=seed, start=start, incidents=incidents, rates=rates, volumes=volumes,
                    volume_noise=0.0)
    out: Series = {}
    for minute in closed_minutes(settings, sim.events(start + timedelta(days=days))):
        for snap in minute.snapshots:
            if snap.window == "1h" and snap.final:
                out.setdefault(snap.dims, []).append((snap.start, from_snapshot(to_builtins(snap))))
    return sim, out


def selector(series: Series) -> Callable[[str, str, str, datetime, datetime], HourSeries]:
    def select(team: str, channel: str, region: str, since: datetime, until: datetime) -> HourSeries:
        return [(t, tot) for t, tot in series.get((team, channel, region), []) if since <= t < until]
    return select


def drawn_hours(start: datetime, hours: int, rate: Callable[[datetime], float], volume: Callable[[datetime], int],
                seed: int, kpi: str = "fcr_rate") -> list[tuple[datetime, Totals]]:
    """Binomial hours: ``volume(t)`` trials at ``rate(t)`` each hour."""
    rng = np.random.default_rng(seed)
    out = []
    for h in range(hours):
        t = start + timedelta(hours=h)
        n = volume(t)
        out.append((t, {kpi: Measure("ratio", float(rng.binomial(n, rate(t))), n)}))
    return out


def total(hours: Iterable[tuple[datetime, Totals]], kpi: str) -> float:
    num = den = 0.0
    for _, t in hours:
        num += t[kpi].num
        den += t[kpi].den
    return num / den
