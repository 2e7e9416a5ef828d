"""The CUSUM's guards against a baseline too small to know a rate, and its measured dispersion.

Tests of what the evidence adds up to build it with ``block_s=0``: no dispersion measured, no warm-up.
"""

from __future__ import annotations

from detectors.cusum import RateCusum


def _minute(y: float, n: int, k: int, expected: float, n_base: float) -> dict:
    return {"y": y, "n": n, "start": 60.0 * k, "end": 60.0 * (k + 1), "expected": expected, "n_base": n_base}


def test_a_perfect_small_baseline_does_not_make_one_bad_outcome_an_alarm():
    # 36 surveys in the baseline, all happy; this minute one of 2 is unhappy
    x = _minute(0.5, 2, 0, expected=1.0, n_base=36)
    assert RateCusum(swing=0.1, direction="down", min_expected=0).score_one(x) < 1  # clipped, not infinite
    assert RateCusum(swing=0.1, direction="down", min_expected=5).score_one(x) == 0  # 36 x 0 bad expected: no test


def test_with_enough_baseline_a_lasting_drop_adds_up_to_an_alarm():
    det = RateCusum(swing=0.1, direction="down", h=8.0, min_expected=5, block_s=0)
    scores = []
    for k in range(120):  # two hours of minutes at 75 % instead of 90 %, 10 surveys a minute
        x = _minute(0.75, 10, k, expected=0.90, n_base=2000)
        scores.append(det.score_one(x))
        det.learn_one(x)
    assert scores[0] < 1 <= scores[-1]


def _counts(factor: float, minutes: int = 60, per_min: float = 25.0):
    import random

    rng = random.Random(9)
    for k in range(minutes):
        y = max(0.0, round(rng.gauss(per_min * factor, (per_min * factor) ** 0.5)))
        yield {"y": y, "n": y + 1, "start": 60.0 * k, "end": 60.0 * (k + 1), "expected": per_min, "spread": 0.03}


def _run(det: RateCusum, xs) -> list[float]:
    scores = []
    for x in xs:
        scores.append(det.score_one(x))
        det.learn_one(x)
    return scores


def test_a_count_cusum_with_both_sides_finds_surges_and_drops_in_minutes():
    up = _run(RateCusum(swing=0.3, direction="both", kind="count"), _counts(1.6))
    down = _run(RateCusum(swing=0.3, direction="both", kind="count"), _counts(0.5))
    assert next(i for i, s in enumerate(up) if s >= 1) < 10
    assert next(i for i, s in enumerate(down) if s >= 1) < 10
    assert max(_run(RateCusum(swing=0.3, direction="up", kind="count"), _counts(0.5))) == 0  # up only: a drop is fine


def test_a_count_cusum_stays_quiet_at_the_expected_rate():
    assert max(_run(RateCusum(swing=0.3, direction="both", kind="count"), _counts(1.0, minutes=24 * 60))) < 1


def test_a_series_that_wanders_more_than_its_n_adds_up_evidence_more_slowly():
    plain, noisy = RateCusum(swing=0.2, h=12.0, block_s=0), RateCusum(swing=0.2, h=12.0, block_s=0)
    for k in range(60):  # an hour of minutes at 12 % instead of 10 %, 40 contacts a minute
        x = _minute(0.12, 40, k, expected=0.10, n_base=5000)
        plain.learn_one(x)
        noisy.learn_one({**x, "noise": 2.0})  # twice the variance its n explains
    assert plain.score_one(x) > 0
    assert abs(noisy.score_one(x) - plain.score_one(x) / 2) < 0.05


def test_evidence_building_up_is_reported_before_the_alarm():
    det = RateCusum(swing=0.2, h=12.0, block_s=0)
    building_at = alarm_at = None
    for k in range(600):  # 30 % more timeouts, 40 contacts a minute
        x = _minute(0.13, 40, k, expected=0.10, n_base=5000)
        det.learn_one(x)
        building_at = k if building_at is None and det.building else building_at
        alarm_at = k if alarm_at is None and det.score_one(x) >= 1 else alarm_at
    assert building_at is not None and alarm_at is not None
    assert building_at < alarm_at


def test_the_reference_value_keeps_two_baseline_sd_from_a_small_baseline():
    # a 10 % rate known from 200 contacts (sd 2.1 points): a minute at 11.5 % is within the
    # baseline's own error, so it is no evidence; known from 20,000 contacts it is
    x = _minute(0.115, 400, 0, expected=0.10, n_base=200)
    assert RateCusum(swing=0.2, block_s=0).score_one(x) == 0
    assert RateCusum(swing=0.2, block_s=0).score_one({**x, "n_base": 20000}) > 0


def _binomial_minutes(seed: int, hours: int, rate_of_hour, first_hour: int = 0, per_min: int = 40):
    """Minutes of ``per_min`` contacts from ``first_hour`` on, at the timeout rate ``rate_of_hour(hour)``,
    tested against 10 %."""
    import random

    rng = random.Random(seed)
    for k in range(60 * first_hour, 60 * (first_hour + hours)):
        p = rate_of_hour(k // 60)
        bad = sum(rng.random() < p for _ in range(per_min))
        yield _minute(bad / per_min, per_min, k, expected=0.10, n_base=20000)


def test_a_rate_that_wanders_for_hours_at_a_time_is_measured_to_add_up_more_slowly():
    """Minute-level noise cannot show a rate that sits ±10 % off for two hours at a time (timeouts following
    the day's load); the blocks the CUSUM measures at its own time scale do, and its evidence is divided by it."""
    import random

    levels = [random.Random(3).choice((-0.1, 0.1)) for _ in range(40)]
    steady, wandering = RateCusum(swing=0.2, h=12.0), RateCusum(swing=0.2, h=12.0)
    _run(steady, _binomial_minutes(1, 48, lambda h: 0.10))
    _run(wandering, _binomial_minutes(1, 48, lambda h: 0.10 * (1 + levels[h // 2])))
    assert steady.dispersion < 1.6 < 3.0 < wandering.dispersion  # 2,400 contacts a block, ±10 %: about 3 sd
    steady.reset(), wandering.reset()
    rise = list(_binomial_minutes(2, 2, lambda h: 0.12, first_hour=48))  # then two hours at +20 %
    assert _run(steady, rise)[-1] > 2 * _run(wandering, rise)[-1] > 0


def test_blocks_measured_over_an_incident_are_not_learned_once_it_fired():
    det = RateCusum(swing=0.2, h=12.0)
    _run(det, _binomial_minutes(1, 12, lambda h: 0.10))
    calm = det.dispersion
    for k, x in enumerate(_binomial_minutes(2, 6, lambda h: 0.15, first_hour=12)):  # six hours at +50 %
        det.learn_one(x)
        if k >= 30:
            det.discard_pending()  # the incident fired (the monitor discards while it is firing)
    _run(det, _binomial_minutes(3, 5, lambda h: 0.10, first_hour=18))
    assert det.dispersion == calm
    _run(det, _binomial_minutes(2, 6, lambda h: 0.15, first_hour=23))  # the same, never fired: it is the series'
    _run(det, _binomial_minutes(3, 5, lambda h: 0.10, first_hour=29))
    assert det.dispersion > 2 * calm


def test_a_cusum_pickled_before_it_measured_its_dispersion_starts_measuring():
    import pickle

    det = RateCusum(swing=0.2, h=12.0)
    for name in ("block_s", "delay_s", "memory", "_disp", "_block", "_pending"):
        det.__dict__.pop(name)  # as an older sqm pickled it
    old = pickle.loads(pickle.dumps(det))
    assert old.dispersion == 1.0
    _run(old, _binomial_minutes(1, 24, lambda h: 0.10 * (1.2 if h % 4 < 2 else 0.8)))
    assert old.dispersion > 2


def test_evidence_adds_up_only_once_the_dispersion_is_measured():
    """Blocks are learned ``delay_s`` after they end; until ``min_blocks`` are, a rise is measured, not summed."""
    det = RateCusum(swing=0.2, h=12.0)  # blocks of 2 hours, learned 4 hours late, 3 of them
    scores = _run(det, _binomial_minutes(1, 9, lambda h: 0.10 if h < 7 else 0.15))  # +50 % from hour 7
    assert not det.measured and max(scores) == 0  # the first block is learned at hour 6, the third at hour 10
    rise = _run(det, _binomial_minutes(2, 3, lambda h: 0.15, first_hour=9))
    assert det.measured and rise[-1] >= 1
