"""The River contract, checked over every sqm detector (STYLE.md, river/checks)."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

from detectors import SwingDetector
from detectors.base import Detector
from detectors.cusum import RateCusum
from detectors.seasonal import SeasonalBaseline
from detectors.sla import TargetRule

DETECTORS: list[type[Detector]] = [SwingDetector, SeasonalBaseline, TargetRule, RateCusum]
PARAMS = [(cls, params) for cls in DETECTORS for params in cls._unit_test_params()]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(PARAMS)]


def stream(seed: int, length: int = 300):
    """Windows of a noisy ratio KPI with a level shift two thirds in, like a real series."""
    rng = random.Random(seed)
    for i in range(length):
        n = rng.randint(50, 500)
        p = 0.10 if i < 2 * length // 3 else 0.16
        k = sum(1 for _ in range(n) if rng.random() < p)
        # "expected" is for detectors tested against another's baseline (RateCusum); the others ignore it
        yield {"y": k / n, "n": n, "start": 300.0 * i, "end": 300.0 * (i + 1), "expected": 0.10, "n_base": 5000}


def run(det: Detector, seed: int) -> list[float]:
    scores = []
    for x in stream(seed):
        scores.append(det.score_one(x))
        det.learn_one(x)
    return scores


@pytest.mark.parametrize(("cls", "params"), PARAMS, ids=IDS)
def test_scores_are_in_range_and_zero_during_grace(cls, params):
    det = cls(**params)
    scores = run(det, seed=1)
    assert all(math.isfinite(s) and 0 <= s <= det.score_max for s in scores)
    assert scores[: det.grace_period] == [0.0] * det.grace_period
    assert max(scores) >= det.breach, "the level shift must score beyond the detector's threshold"


@pytest.mark.parametrize(("cls", "params"), PARAMS, ids=IDS)
def test_pickle_round_trip_keeps_state(cls, params):
    det = cls(**params)
    xs = list(stream(2))
    for x in xs[:200]:
        det.learn_one(x)
    clone = pickle.loads(pickle.dumps(det))
    for x in xs[200:]:
        assert clone.score_one(x) == det.score_one(x)
        clone.learn_one(x)
        det.learn_one(x)


@pytest.mark.parametrize(("cls", "params"), PARAMS, ids=IDS)
def test_clone_is_fresh_with_same_params(cls, params):
    det = cls(**params)
    run(det, seed=3)
    fresh = det.clone()
    assert fresh._get_params() == det._get_params()
    assert run(fresh, seed=3) == run(cls(**params), seed=3)


@pytest.mark.parametrize(("cls", "params"), PARAMS, ids=IDS)
def test_same_seed_same_scores_other_seed_other_scores(cls, params):
    assert run(cls(**params), seed=4) == run(cls(**params), seed=4)
    assert run(cls(**params), seed=4) != run(cls(**params), seed=5)


def test_every_public_detector_is_in_the_contract_test():
    import detectors.cusum
    import detectors.seasonal
    import detectors.sla
    import detectors.swing

    public = {
        obj
        for mod in (detectors.swing, detectors.seasonal, detectors.sla, detectors.cusum)
        for obj in vars(mod).values()
        if isinstance(obj, type)
        and issubclass(obj, Detector)
        and obj is not Detector
        and obj.__module__ == mod.__name__
    }
    assert public == set(DETECTORS)


@pytest.mark.parametrize(("cls", "params"), PARAMS, ids=IDS)
def test_score_one_does_not_change_state(cls, params):
    det = cls(**params)
    xs = list(stream(6))
    for x in xs[:150]:
        det.learn_one(x)
    before = pickle.dumps(det)
    snapshot = copy.deepcopy(det)
    for x in xs[150:]:
        det.score_one(x)
        det.explain_one(x)
    assert pickle.dumps(det) == before
    assert [det.score_one(x) for x in xs[150:160]] == [snapshot.score_one(x) for x in xs[150:160]]
