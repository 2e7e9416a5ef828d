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


def _minutes(det: SeasonalBaseline, first: int, last: int, value_of) -> None:
    """Rolling hours stepped every minute, ending at minutes ``first`` .. ``last`` - 1 (site time UTC+8)."""
    for m in range(first, last):
        det.learn_one({"y": value_of(m), "start": 60.0 * (m - 60), "end": 60.0 * m})


def test_a_lagged_baseline_expects_what_earlier_days_showed_not_this_mornings_change():
    midnight = 8160  # minutes since 1970: Wednesday 00:00 site time (UTC+8), after a quiet Tuesday
    live = SeasonalBaseline(direction="up", grace_period=10)
    lagged = SeasonalBaseline(direction="up", grace_period=10, lagged=True)
    for det in (live, lagged):
        _minutes(det, midnight - 1500, midnight + 9 * 60, lambda m: 0.1)  # 10 % for a day and more, to 09:00
        _minutes(det, midnight + 9 * 60, midnight + 11 * 60, lambda m: 0.2)  # then two hours at 20 %
    x = {"y": 0.2, "start": 60.0 * (midnight + 10 * 60), "end": 60.0 * (midnight + 11 * 60)}
    assert abs(lagged.expected_one(x) - 0.1) < 0.005  # what earlier days showed at this hour
    assert live.expected_one(x) > 0.13  # the live tables took in much of the change within two hours
    assert lagged.explain_one(x).change > 0.9 > live.explain_one(x).change
