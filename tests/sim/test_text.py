"""The simulator's text: outcome-dependent openings, comments, descriptions, planted surges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from detectors.text import TextAnalyser
from sim.simulator import Simulator, TextMix, TextSurge
from sqm.config import Settings

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def run(hours: float = 6, **kwargs):
    return list(Simulator(Settings(), seed=3, start=START, **kwargs).events(START + timedelta(hours=hours)))


def test_text_changes_no_other_field_and_is_seeded():
    plain = run(2)
    with_text = run(2, text=TextMix())
    assert len(plain) == len(with_text)
    assert [msgspec.structs.replace(e, text=None) for e in with_text] == plain
    assert with_text == run(2, text=TextMix())
    assert sum(e.text is not None for e in with_text) > 500


def test_who_writes_what():
    events = run(6, text=TextMix(english=0.3))
    created = [e for e in events if e.type == "contact.created"]
    by_channel = {ch: [e.text is not None for e in created if e.channel == ch] for ch in ("phone", "chat", "email")}
    assert not any(by_channel["phone"]), "calls carry no text"
    assert 0.6 < sum(by_channel["chat"]) / len(by_channel["chat"]) < 0.8
    texts = [e.text for e in created if e.text]
    english = sum(t.isascii() for t in texts) / len(texts)
    assert 0.25 < english < 0.35
    assert all(e.text for e in events if e.type == "complaint.opened")
    csat = [e for e in events if e.type == "survey.csat"]
    assert 0.4 < sum(e.text is not None for e in csat) / len(csat) < 0.6
    reader = TextAnalyser()
    bad = [reader.read(e.text).sentiment for e in csat if e.text and e.score <= 2]
    good = [reader.read(e.text).sentiment for e in csat if e.text and e.score >= 4]
    assert max(bad) < 0 < min(good)


def test_contacts_that_end_unhappy_open_differently():
    events = run(12, text=TextMix())
    unhappy = {e.contact_id for e in events if e.type == "complaint.opened"
               or (e.type == "survey.csat" and e.score <= 2)}
    reader = TextAnalyser()
    negative: dict[bool, list[bool]] = {True: [], False: []}
    for e in events:
        if e.type == "contact.created" and e.text:
            negative[e.contact_id in unhappy].append(reader.read(e.text).negative)
    share = {k: sum(v) / len(v) for k, v in negative.items()}
    assert share[True] > 0.5 > 0.1 > share[False], share


def test_a_planted_surge_is_in_its_team_and_interval_only():
    surge = TextSurge("闪退", START + timedelta(hours=2), START + timedelta(hours=3), share=0.4, team="billing")
    events = run(5, text=TextMix(surges=(surge,)))
    named = [e for e in events if e.text and "闪退" in e.text]
    assert named and all(e.team == "billing" and surge.start <= e.ts < surge.end for e in named)
    openings = [e for e in events if e.type == "contact.created" and e.text and e.team == "billing"
                and surge.start <= e.ts < surge.end]
    assert 0.3 < len(named) / len(openings) < 0.5


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TextMix(share=1.5), "TextMix.share must be between 0 and 1"),
    (lambda: TextSurge("x", START, START), "start < end"),
    (lambda: TextSurge("", START, START + timedelta(hours=1)), "term not empty"),
    (lambda: Simulator(Settings(), seed=1, start=START,
                       text=TextMix(surges=(TextSurge("x", START, START + timedelta(hours=1), team="nope"),))),
     "unknown team 'nope'"),
])
def test_bad_text_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
