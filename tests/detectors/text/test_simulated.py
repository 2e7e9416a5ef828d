"""The classifier and the topic test on simulated contacts (the simulator's text, sim/text.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from detectors.text import EmergingTopics, TextAnalyser
from sim.simulator import Simulator, TextMix, TextSurge
from sim.text import Catalogue
from sqm.config import Settings
from tests.detectors.text.simulated import START, auc, contacts, held_out_auc


def test_auc():
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auc([1.0, 1.0], [True, False]) == 0.5


@pytest.fixture(scope="module")
def two_days():
    return contacts(hours=48, seed=11)


def test_the_classifier_learns_what_the_lexicon_cannot(two_days):
    """Unhappy contacts also write calm follow-ups in words no lexicon has: only the classifier learns them."""
    model_auc, lexicon_auc, model = held_out_auc(two_days)
    assert model_auc >= 0.82, model_auc
    assert model_auc > lexicon_auc + 0.02, (model_auc, lexicon_auc)
    assert not model.learning


def test_the_classifier_finds_nothing_where_text_says_nothing():
    data = contacts(hours=24, seed=12, mix=TextMix(unhappy_reads_unhappy=0.06, unhappy_follows_up=0.03))
    model_auc, _, _ = held_out_auc(data)
    assert 0.4 < model_auc < 0.6, model_auc


def rising_by_team(mix: TextMix, hours: float = 36):
    """Each team's negative customer texts into its own EmergingTopics; what rose, and when first."""
    reader = TextAnalyser()
    topics: dict[str, EmergingTopics] = defaultdict(EmergingTopics)
    found: dict[tuple[str, str], float] = {}
    next_check = START.timestamp() + 300
    for ev in Simulator(Settings(), seed=5, start=START, text=mix).events(START + timedelta(hours=hours)):
        ts = ev.ts.timestamp()
        while ts >= next_check:
            for team, t in topics.items():
                for topic in t.rising(next_check):
                    found.setdefault((team, topic.term), next_check)
            next_check += 300
        if ev.text:
            s = reader.read(ev.text)
            if s.negative:
                topics[ev.team].observe(s.terms + s.phrases, ts)
    return found


def test_emerging_topics_find_a_planted_surge_and_nothing_else():
    at = START + timedelta(hours=34)  # 10:00 on the second day
    surge = TextSurge("闪退", at, at + timedelta(hours=1), share=0.25, team="billing")
    found = rising_by_team(TextMix(surges=(surge,)))
    assert {team for team, _ in found} == {"billing"}
    first = min(found.values())
    assert found[("billing", "闪退")] == first
    assert at.timestamp() < first <= at.timestamp() + 1800
    catalogue = Catalogue([surge])
    surge_texts = [t for name, (a, n) in catalogue.pools.items() if name.startswith("surge")
                   for t in catalogue.texts[a : a + n]]
    # everything else that rose is terms of the surge's own messages ("又是闪退，能不能处理一下")
    reader = TextAnalyser()
    surge_terms = {term for t in surge_texts for term in reader.read(t).terms + reader.read(t).phrases}
    assert {term for _, term in found} <= surge_terms, found


def test_emerging_topics_stay_quiet_on_a_steady_mix():
    assert rising_by_team(TextMix()) == {}
