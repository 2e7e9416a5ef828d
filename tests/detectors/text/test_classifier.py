"""The online complaint classifier: prior while learning, learning, pickling with a version."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

from detectors.text import ComplaintModel
from detectors.text.classifier import PRIOR_BASE, PRIOR_COMPLAINT, PRIOR_NEGATIVE, VERSION, StateVersionError

FIXTURES = Path(__file__).parent / "fixtures"
WORDS = [f"w{i}" for i in range(300)]


def example(rng: random.Random, model: ComplaintModel) -> tuple[dict[int, float], bool]:
    """A contact of five random words; those naming "w7" end in a complaint four times in five."""
    terms = rng.sample(WORDS, 5)
    complained = rng.random() < (0.8 if "w7" in terms else 0.05)
    return model.features(terms, negative=False, complaint_words=0, sentiment=0.0), complained


def trained(n: int = 3000, seed: int = 1) -> ComplaintModel:
    model = ComplaintModel(grace_period=100)
    rng = random.Random(seed)
    for _ in range(n):
        x, y = example(rng, model)
        model.learn_one(x, y)
    return model


def test_the_prior_answers_while_learning():
    model = ComplaintModel(grace_period=10, min_positives=1)
    plain = model.features(["发票"], negative=False, complaint_words=0, sentiment=0.0)
    negative = model.features(["太慢"], negative=True, complaint_words=0, sentiment=-0.6)
    complaint = model.features(["投诉"], negative=True, complaint_words=1, sentiment=-0.9)
    assert [model.predict_one(x) for x in (plain, negative, complaint)] == [PRIOR_BASE, PRIOR_NEGATIVE, PRIOR_COMPLAINT]
    for _ in range(10):
        model.learn_one(plain, False)
    assert model.learning, "no positive example yet"
    model.learn_one(complaint, True)
    assert not model.learning


def test_it_learns_a_planted_association():
    model = trained()
    with_w7 = model.features(["w7", "w1", "w2"], negative=False, complaint_words=0, sentiment=0.0)
    without = model.features(["w3", "w1", "w2"], negative=False, complaint_words=0, sentiment=0.0)
    assert model.predict_one(with_w7) > 0.5 > 0.2 > model.predict_one(without)


def test_the_hash_is_stable_and_bounded():
    model = ComplaintModel(buckets=256)
    x = model.features([f"t{i}" for i in range(1000)], negative=True, complaint_words=5, sentiment=-0.5)
    assert len(x) <= 256 + 3
    assert all(-3 <= k < 256 for k in x)
    # the same term always lands in the same bucket (crc32, not Python's salted hash)
    assert model.features(["退款"], negative=False, complaint_words=0, sentiment=0.0) == {60: 1.0}  # crc32('退款') & 255
    assert x[-2] == 3.0, "complaint words count up to 3"


def test_pickle_round_trip_keeps_predictions():
    model = trained(n=500)
    clone = pickle.loads(pickle.dumps(model))
    rng = random.Random(9)
    for _ in range(200):
        x, y = example(rng, model)
        assert clone.predict_one(x) == model.predict_one(x)
        clone.learn_one(x, y)
        model.learn_one(x, y)
    assert pickle.loads(pickle.dumps(model)).n_learned == 700


def test_state_stays_small():
    model = trained(n=5000)
    size = len(pickle.dumps(model))
    assert size < 20_000, size  # 300 words seen: a few hundred weights


def test_state_written_by_version_1_loads():
    blob = (FIXTURES / "complaint-model-v1.pkl").read_bytes()
    model = pickle.loads(blob)
    assert model.n_learned == 3000 and not model.learning
    x = model.features(["w7", "w1"], negative=False, complaint_words=0, sentiment=0.0)
    assert model.predict_one(x) > 0.5


def test_a_newer_state_is_refused_with_its_version():
    model = ComplaintModel()
    state = model.__getstate__()
    state["version"] = VERSION + 1
    with pytest.raises(StateVersionError, match=f"version {VERSION + 1} is newer"):
        ComplaintModel.__new__(ComplaintModel).__setstate__(state)


@pytest.mark.parametrize("kwargs", [{"buckets": 1000}, {"learning_rate": 0}, {"grace_period": -1}])
def test_bad_parameters_are_named(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ComplaintModel(**kwargs)
