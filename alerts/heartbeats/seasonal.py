"""How many arrivals a source or team is expected to make in a stretch of time, by hour of the week.

``SeasonalRate`` keeps, for each of the 168 hours of the week (site time) and for each of the 24
hours of the day, an exponentially forgetting mean of arrivals per minute, learned one closed
minute at a time (``learn_one``). Forgetting is by half-life in weeks: an hour-of-week slot sees 60
minutes a week, an hour-of-day slot 420, so each decays at its own per-minute factor and both
forget at the same pace in calendar time. An hour is *judged* once its slot has learned
``min_minutes`` (its weight); before that the hour-of-day slot stands in for it, and before that
nothing is judged (``expected_per_minute`` is None).

A silence of ``t`` minutes with an expected ``Λ`` arrivals in it has probability ``exp(-Λ)`` under
a Poisson arrival process (``silence_probability``); the heartbeat alerts when that is below
``alpha``. A quiet night has a rate near 0, so its silences are likely and never alert; the same
ten minutes at the Monday-morning peak are not.

>>> from datetime import UTC, datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Asia/Shanghai")
>>> model = SeasonalRate(half_life_weeks=4, min_minutes=30)
>>> monday_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp()  # 10:00 in Shanghai
>>> for m in range(60):
...     model.learn_one(hour_of_week(monday_10 + 60 * m, tz), 3)
>>> round(model.expected_per_minute(hour_of_week(monday_10, tz)), 6)
3.0
>>> round(expected_arrivals(model, monday_10, monday_10 + 600, tz), 3)  # ten silent minutes at 10:00
30.0
>>> silence_probability(30.0) < 1e-12
True
>>> model.expected_per_minute(hour_of_week(monday_10 + 3 * 3600, tz)) is None  # 13:00: never seen
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

VERSION = 1
HOURS_OF_WEEK = 168


def hour_of_week(epoch_s: float, tz: ZoneInfo) -> int:
    """0 = Monday 00:00–01:00 site time … 167 = Sunday 23:00."""
    local = datetime.fromtimestamp(epoch_s, UTC).astimezone(tz)
    return local.weekday() * 24 + local.hour


def silence_probability(expected: float) -> float:
    """P(no arrival) when ``expected`` arrivals were due: Poisson, ``exp(-expected)``."""
    return math.exp(-max(0.0, expected))


@dataclass
class SeasonalRate:
    """Arrivals per minute by hour of week (and of day, the fallback), with exponential forgetting."""

    half_life_weeks: float = 4.0
    min_minutes: float = 30.0
    version: int = VERSION
    week_rate: list[float] = field(default_factory=lambda: [0.0] * HOURS_OF_WEEK)
    week_weight: list[float] = field(default_factory=lambda: [0.0] * HOURS_OF_WEEK)
    day_rate: list[float] = field(default_factory=lambda: [0.0] * 24)
    day_weight: list[float] = field(default_factory=lambda: [0.0] * 24)

    def learn_one(self, how: int, arrivals: float) -> None:
        """One closed minute of hour-of-week ``how`` had ``arrivals``."""
        for rates, weights, slot, per_week in ((self.week_rate, self.week_weight, how, 60),
                                               (self.day_rate, self.day_weight, how % 24, 420)):
            decay = 0.5 ** (1.0 / (per_week * self.half_life_weeks))
            weights[slot] = weights[slot] * decay + 1.0
            rates[slot] += (arrivals - rates[slot]) / weights[slot]

    def expected_per_minute(self, how: int) -> float | None:
        """The learned rate of that hour, or None while neither its slot nor its hour of day is judged."""
        if self.week_weight[how] >= self.min_minutes:
            return self.week_rate[how]
        if self.day_weight[how % 24] >= self.min_minutes:
            return self.day_rate[how % 24]
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "half_life_weeks": self.half_life_weeks, "min_minutes": self.min_minutes,
                "week_rate": self.week_rate, "week_weight": self.week_weight, "day_rate": self.day_rate,
                "day_weight": self.day_weight}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, half_life_weeks: float, min_minutes: float) -> SeasonalRate:
        """A stored model (``upgrade`` first), with the current settings' forgetting and threshold."""
        data = upgrade(data)
        return cls(half_life_weeks=half_life_weeks, min_minutes=min_minutes, week_rate=list(data["week_rate"]),
                   week_weight=list(data["week_weight"]), day_rate=list(data["day_rate"]),
                   day_weight=list(data["day_weight"]))


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A stored model in the current version's layout (version 1 is the first)."""
    if data.get("version", VERSION) != VERSION:
        msg = f"heartbeat model: unknown version {data.get('version')!r} (this sqm reads {VERSION})"
        raise ValueError(msg)
    return data


def expected_arrivals(model: SeasonalRate, start_s: float, end_s: float, tz: ZoneInfo) -> float | None:
    """Arrivals expected from ``start_s`` to ``end_s`` (epoch s): the rate of each hour times the minutes of it
    in the stretch. None when an hour of it is not judged yet (too little learned)."""
    total, t = 0.0, start_s
    while t < end_s:
        local = datetime.fromtimestamp(t, UTC).astimezone(tz).replace(minute=0, second=0, microsecond=0)
        step_end = min(end_s, (local + timedelta(hours=1)).timestamp())
        rate = model.expected_per_minute(hour_of_week(t, tz))
        if rate is None:
            return None
        total += rate * (step_end - t) / 60
        t = step_end
    return total
