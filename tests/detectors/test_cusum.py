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
