"""The CUSUM's guards against a baseline too small to know a rate."""

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
    det = RateCusum(swing=0.1, direction="down", h=8.0, min_expected=5)
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
    plain, noisy = RateCusum(swing=0.2, h=12.0), RateCusum(swing=0.2, h=12.0)
    for k in range(60):  # an hour of minutes at 12 % instead of 10 %, 40 contacts a minute
        x = _minute(0.12, 40, k, expected=0.10, n_base=5000)
        plain.learn_one(x)
        noisy.learn_one({**x, "noise": 2.0})  # twice the variance its n explains
    assert plain.score_one(x) > 0
    assert abs(noisy.score_one(x) - plain.score_one(x) / 2) < 0.05


def test_evidence_building_up_is_reported_before_the_alarm():
    det = RateCusum(swing=0.2, h=12.0)
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
    assert RateCusum(swing=0.2).score_one(x) == 0
    assert RateCusum(swing=0.2).score_one({**x, "n_base": 20000}) > 0
