"""Simulated contacts with text, their outcomes, and the AUC of a risk score on them (tests and bench)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from detectors.text import ComplaintModel, TextAnalyser
from sim.simulator import Simulator, TextMix
from sqm.config import Settings

START = datetime(2026, 3, 2, 0, 0, tzinfo=timezone(timedelta(hours=8)))


def contacts(hours: float = 48, seed: int = 11, mix: TextMix | None = None) -> list[tuple[str, bool]]:
    """(opening text, unhappy?) per contact that wrote one, in creation order; unhappy = complaint or CSAT 1-2."""
    sim = Simulator(Settings(), seed=seed, start=START, text=mix or TextMix())
    opening: dict[str, str] = {}
    unhappy: set[str] = set()
    for ev in sim.events(START + timedelta(hours=hours)):
        if ev.type == "contact.created" and ev.text:
            opening[ev.contact_id] = ev.text
        elif ev.type == "complaint.opened" or (ev.type == "survey.csat" and ev.score is not None and ev.score <= 2):
            unhappy.add(ev.contact_id)
    return [(text, cid in unhappy) for cid, text in opening.items()]


def auc(scores: list[float], labels: list[bool]) -> float:
    """The probability that a positive scores above a negative (ties count half): Mann-Whitney."""
    pairs = sorted(zip(scores, labels, strict=True))
    rank_sum, i, n = 0.0, 0, len(pairs)
    while i < n:
        j = i
        while j < n and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2 * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    pos = sum(labels)
    neg = n - pos
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def held_out_auc(data: list[tuple[str, bool]], train_share: float = 0.7,
                 model: ComplaintModel | None = None) -> tuple[float, float, ComplaintModel]:
    """(classifier AUC, lexicon AUC) on the last contacts, the model learned online on the first ones."""
    reader = TextAnalyser()
    model = model or ComplaintModel()
    cut = int(len(data) * train_share)
    feats = []
    for text, _ in data:
        s = reader.read(text)
        x = model.features(s.terms + s.phrases, negative=s.negative, complaint_words=len(s.complaint_words),
                           sentiment=s.sentiment)
        feats.append((x, s.sentiment))
    for (x, _), (_, y) in zip(feats[:cut], data[:cut], strict=True):
        model.learn_one(x, y)
    labels = [y for _, y in data[cut:]]
    risk = [model.predict_one(x) for x, _ in feats[cut:]]
    lexicon = [-sentiment for _, sentiment in feats[cut:]]
    return auc(risk, labels), auc(lexicon, labels), model
