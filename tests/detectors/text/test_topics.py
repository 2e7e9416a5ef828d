"""Emerging topics: a planted surge is found, a steady mix stays quiet, state pickles and stays bounded."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from detectors.text import EmergingTopics

VOCAB = [f"t{i}" for i in range(200)]
WEIGHTS = [1 / (i + 1) for i in range(200)]  # Zipf-like


def rate(minute: int) -> float:
    """Messages per minute over a day: a night, a morning and an afternoon peak."""
    hour = (minute / 60) % 24
    return 2 + 8 * math.exp(-((hour - 10) ** 2) / 4) + 6 * math.exp(-((hour - 15) ** 2) / 4)


def feed(topics: EmergingTopics, minutes: range, seed: int, surge: tuple[str, range, float] | None = None):
    """Messages of 1-3 terms from the steady mix; during ``surge`` a share of them also name its term."""
    rng = random.Random(seed)
    found = {}
    for minute in minutes:
        for _ in range(_poisson(rng, rate(minute))):
            terms = rng.choices(VOCAB, WEIGHTS, k=rng.randint(1, 3))
            if surge is not None and minute in surge[1] and rng.random() < surge[2]:
                terms.append(surge[0])
            topics.observe(terms, 60.0 * minute + rng.random() * 60)
        if minute % 5 == 4:
            for t in topics.rising(60.0 * minute + 60):
                found.setdefault(t.term, (minute, t))
    return found


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quiet_on_a_steady_mix(seed):
    topics = EmergingTopics()
    assert feed(topics, range(3 * 24 * 60), seed) == {}


@pytest.mark.parametrize("seed", [1, 2])
def test_finds_a_planted_surge_of_a_known_term(seed):
    topics = EmergingTopics()
    day = 24 * 60
    # t40 is a rare term (about 1 % of messages); from 10:00 on day 2, 15 % of messages name it
    found = feed(topics, range(2 * day), seed, surge=("t40", range(day + 600, day + 720), 0.15))
    assert set(found) == {"t40"}
    minute, topic = found["t40"]
    assert day + 600 <= minute <= day + 630, "found within half an hour of the start"
    assert topic.ratio >= 2 and topic.count >= 5
    assert topic.describe().startswith("rising: t40 ×")
    assert topic.describe("zh").startswith("上升：t40 ×")


def test_finds_a_new_term():
    topics = EmergingTopics()
    found = feed(topics, range(2 * 24 * 60), 4, surge=("闪退", range(24 * 60 + 600, 24 * 60 + 660), 0.1))
    assert set(found) == {"闪退"}


def test_a_phrase_hides_its_own_words():
    topics = EmergingTopics(slot_s=60, window_slots=10, grace_slots=10, min_count=5)
    for minute in range(120):
        for i in range(10):
            surge = minute >= 110 and i < 5
            topics.observe(["退款", "发票", "退款 发票"] if surge else ["订单"] if i else ["退款"], 60.0 * minute)
    assert [t.term for t in topics.rising(119 * 60.0)] == ["退款 发票"]  # 退款 and 发票 rose with it: hidden


def test_nothing_during_grace_and_after_a_long_gap_the_baseline_decays():
    topics = EmergingTopics(slot_s=60, window_slots=10, grace_slots=30, min_count=5)
    for minute in range(20):
        topics.observe(["a"] * 1 + [f"x{minute}"], 60.0 * minute)
    assert topics.rising(20 * 60.0) == []  # 10 slots folded of 30
    base = topics.baseline[""]
    topics.rising(10_000 * 60.0)  # a long silence: empty slots folded at once
    assert topics.baseline[""] < base * 0.01
    assert len(topics.recent) == 10 and topics.folded >= 9990


def test_late_messages_count_in_their_slot_or_not_at_all():
    topics = EmergingTopics(slot_s=60, window_slots=3)
    topics.observe(["a"], 600.0)
    topics.observe(["a"], 480.0)  # two slots back: inside the window
    topics.observe(["a"], 100.0)  # older than the window: not counted
    assert [s for s, _ in topics.recent] == [8, 9, 10]
    assert sum(c["a"] for _, c in topics.recent) == 2


def test_baseline_terms_are_bounded():
    topics = EmergingTopics(slot_s=60, window_slots=2, max_terms=50, grace_slots=0)
    for minute in range(100):
        topics.observe([f"u{minute}-{i}" for i in range(20)], 60.0 * minute)
    assert len(topics.baseline) <= 51 and "" in topics.baseline


def test_pickle_round_trip_and_version():
    topics = EmergingTopics()
    feed(topics, range(600), 5)
    clone = pickle.loads(pickle.dumps(topics))
    assert clone.baseline == topics.baseline and list(clone.recent) == list(topics.recent)
    state = topics.__getstate__()
    state["version"] = 99
    with pytest.raises(ValueError, match="version 99 is newer"):
        EmergingTopics.__new__(EmergingTopics).__setstate__(state)


def test_bad_parameters():
    with pytest.raises(ValueError, match="slot_s"):
        EmergingTopics(slot_s=0)
