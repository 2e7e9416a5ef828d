"""The swing detector thins overlapping windows: the same baseline from a fifth of the state."""

from __future__ import annotations

import pickle

import pytest

from detectors.swing import SwingDetector
from tests.detectors.detsynth import rolling_timeout


def _fed(per_window: int) -> tuple[SwingDetector, list[float]]:
    det = SwingDetector(swing=0.2, direction="up", kind="ratio", z_min=3.5, window_size=120, per_window=per_window)
    scores = []
    for snap in rolling_timeout(4, per_hour=1500, minutes=12 * 60, incident=(10 * 60, 120, 0.4)):
        x = {"y": snap.kpis["timeout_rate"], "n": snap.n["timeout_rate"],
             "start": snap.start.timestamp(), "end": snap.end.timestamp()}
        scores.append(det.score_one(x))
        det.learn_one(x)
    return det, scores


def test_a_rolling_hour_keeps_one_window_in_five_minutes_and_the_same_span():
    thin, _ = _fed(12)
    full, _ = _fed(0)  # 0: keep every window
    assert len(full._base) == 120 and len(thin._base) == 24  # 2 hours of ends either way
    assert thin._base[-1][1] - thin._base[0][1] == pytest.approx(full._base[-1][1] - full._base[0][1], abs=300)
    assert len(pickle.dumps(thin)) < len(pickle.dumps(full)) / 3


def test_thinning_changes_the_scores_little():
    _, thin = _fed(12)
    _, full = _fed(0)
    assert sum(s >= 1 for s in thin) > 0
    assert max(abs(a - b) for a, b in zip(thin, full, strict=True)) < 0.1
    assert [s >= 1 for s in thin].count(True) == pytest.approx([s >= 1 for s in full].count(True), rel=0.2)


def test_an_hour_of_the_day_that_swings_more_than_its_n_gets_its_own_wider_band():
    """Every night from 03:00 to 04:00 (UTC here) the rate swings by ±40 % at 3,000 contacts: far more than
    binomial noise. After three days that hour is judged with the noise it showed, the rest of the day not."""
    import random

    rng = random.Random(8)
    det = SwingDetector(swing=0.1, direction="down", kind="ratio", z_min=3.5, window_size=120)
    for m in range(0, 3 * 1440, 5):  # rolling hours ending every 5 minutes
        end = 60.0 * (m + 60)
        night = int(end // 3600) % 24 == 3
        y = 0.8 * (1 + (rng.choice((-0.4, 0.4)) if night else rng.gauss(0, 0.005)))
        det.learn_one({"y": min(y, 0.99), "n": 3000, "start": end - 3600, "end": end})
    day3 = 3 * 86400.0
    at_night, at_noon = day3 + 3.5 * 3600, day3 + 12.5 * 3600
    assert det.noise_at(at_night) > 4 * det.noise_at(at_noon)
    assert det.noise_at(at_noon) == det.noise_factor  # elsewhere: the recent noise, as before
    dip = {"y": 0.70, "n": 3000}  # -12.5 %: far beyond binomial noise, within what that hour does
    assert det.score_one({**dip, "start": at_noon - 3600, "end": at_noon}) >= 1
    assert det.score_one({**dip, "start": at_night - 3600, "end": at_night}) < 1


def test_a_detector_pickled_before_the_rhythm_was_measured_per_hour_goes_on():
    """Recovery state of an older sqm holds 5-field windows (no rhythm gain): they are learned and scored on."""
    det, _ = _fed(12)
    det._base = type(det._base)(e[:5] for e in det._base)
    det._pending = type(det._pending)((e[:5] for e in det._pending), maxlen=det._pending.maxlen)
    det.__dict__.pop("_gain_hour", None)
    old = pickle.loads(pickle.dumps(det))
    for snap in rolling_timeout(5, per_hour=1500, minutes=180):
        t = 12 * 3600  # after the 12 hours fed
        x = {"y": snap.kpis["timeout_rate"], "n": snap.n["timeout_rate"], "rhythm": 1.1,
             "start": snap.start.timestamp() + t, "end": snap.end.timestamp() + t}
        assert 0.0 <= old.score_one(x) < 1.0
        old.learn_one(x)
    assert all(len(e) == 6 for e in old._base)  # the old windows have left the 2-hour baseline
    assert old.__dict__.get("_gain_hour")  # and the rhythm's gain is measured again
