"""The hour-of-week baseline's spread for counts: never below the Poisson noise of the expected count."""

from __future__ import annotations

import random

from detectors.seasonal import SeasonalBaseline


def _learned(counts: bool, noise: float) -> SeasonalBaseline:
    """Two weeks of hourly counts, 2,000 in the day and 40 at night, with ``noise`` x sqrt(mean) of spread."""
    rng = random.Random(3)
    det = SeasonalBaseline(direction="both", grace_period=48, counts=counts)
    for h in range(24 * 14):
        lam = 2000.0 if 8 <= (h + 8) % 24 < 20 else 40.0
        det.learn_one({"y": max(0.0, rng.gauss(lam, noise * lam**0.5)), "start": 3600.0 * h, "end": 3600.0 * (h + 1)})
    return det


def test_a_count_is_never_judged_by_less_than_its_poisson_noise():
    h = 24 * 14 + 20  # 04:00 local: about 40 expected
    quiet = {"y": 20.0, "start": 3600.0 * h, "end": 3600.0 * (h + 1)}  # -50 %: about -3 sd under Poisson
    assert _learned(counts=False, noise=0.05).explain_one(quiet).z < -10  # a too smooth history: far too sure
    ev = _learned(counts=True, noise=0.05).explain_one(quiet)
    assert -3.5 < ev.z < -2.5
    assert ev.lower < 20.0 < ev.expected


def test_a_spread_wider_than_poisson_is_kept():
    h = 24 * 14 + 4  # 12:00 local: about 2,000 expected
    x = {"y": 2600.0, "start": 3600.0 * h, "end": 3600.0 * (h + 1)}
    assert _learned(counts=True, noise=4.0).explain_one(x).z == _learned(counts=False, noise=4.0).explain_one(x).z



def test_any_day_takes_the_same_hour_of_the_other_kind_of_day():
    """A Sunday's shape is a guess for the first Monday (the rhythm); a level judged by it is not (volume)."""
    sunday = 3 * 1440 - 8 * 60  # minutes since 1970 (a Thursday): Sunday 00:00 site time (UTC+8)
    shape = SeasonalBaseline(grace_period=10, any_day=True)
    level = SeasonalBaseline(grace_period=10)
    for det in (shape, level):
        for m in range(sunday, sunday + 1440, 5):  # a Sunday: 100 at night, 300 from 09:00 to 18:00
            local_h = (m - sunday) // 60
            det.learn_one({"y": 300.0 if 9 <= local_h < 18 else 100.0, "start": 60.0 * (m - 60), "end": 60.0 * m})
    monday_10 = {"y": 300.0, "start": 60.0 * (sunday + 1440 + 600), "end": 60.0 * (sunday + 1440 + 660)}
    monday_03 = {"y": 100.0, "start": 60.0 * (sunday + 1440 + 180), "end": 60.0 * (sunday + 1440 + 240)}
    assert shape.known(monday_10) and not level.known(monday_10)
    assert shape.expected_one(monday_10) > 2 * shape.expected_one(monday_03)
    assert level.explain_one(monday_10) is None  # not judged by another kind of day
