"""complaint_risk: an online classifier of what a contact's customer said, learned from outcomes.

``ComplaintModel`` is a River logistic regression over the contact's terms and
phrases (hashed into ``buckets`` features with a stable hash, so its state is
bounded and means the same after a restart) plus three lexicon features (the
text read negative, the number of complaint words, how negative it read). The
centre's own outcomes teach it: a contact whose text preceded a complaint or a
CSAT of 1-2 is a positive example, one that ended without either a negative one.

Until it has learned ``grace_period`` examples, ``min_positives`` of them positive,
it answers a prior from the lexicon alone (``PRIOR_*``). Predict first, then learn.

It pickles with the flow's state: ``__getstate__`` writes ``{"version": VERSION, ...}``
and ``__setstate__`` passes what it reads through ``upgrade`` first.

>>> model = ComplaintModel(grace_period=20, min_positives=2)
>>> angry = model.features(["投诉", "退款", "太慢"], negative=True, complaint_words=2, sentiment=-0.9)
>>> calm = model.features(["发票", "地址"], negative=False, complaint_words=0, sentiment=0.0)
>>> model.learning, round(model.predict_one(angry), 2), round(model.predict_one(calm), 2)
(True, 0.6, 0.03)
>>> for _ in range(30):
...     model.learn_one(angry, True)
...     model.learn_one(calm, False)
>>> model.learning, model.predict_one(angry) > 0.8, model.predict_one(calm) < 0.3
(False, True, True)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from river import linear_model, optim

VERSION = 1
BUCKETS = 2**14
NEGATIVE_KEY, COMPLAINT_KEY, SENTIMENT_KEY = -1, -2, -3
PRIOR_BASE = 0.03
"""Risk before the model has learned: a contact whose text reads neither negative nor names a complaint word."""
PRIOR_NEGATIVE = 0.25
PRIOR_COMPLAINT = 0.6


class StateVersionError(ValueError):
    """A pickled state of a version this code cannot read (a newer sqm wrote it)."""


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A pickled state of any earlier version, as the current version reads it.

    One step per version; version 1 is the first, so there is nothing to convert yet.
    """
    version = state.get("version", 1)
    if version > VERSION:
        msg = f"ComplaintModel state version {version} is newer than this sqm reads ({VERSION})"
        raise StateVersionError(msg)
    return {**state, "version": VERSION}


class ComplaintModel:
    """The online complaint classifier; see the module docstring.

    ``buckets``: hashed features (a power of two, 2**8 to 2**20); ``learning_rate``,
    ``l2``: of the logistic regression's SGD; ``grace_period``, ``min_positives``:
    examples (and positive ones) learned before its own answer replaces the prior.
    """

    def __init__(self, buckets: int = BUCKETS, learning_rate: float = 0.2, l2: float = 1e-5,
                 grace_period: int = 200, min_positives: int = 5) -> None:
        if buckets not in {2**k for k in range(8, 21)}:
            msg = f"buckets must be a power of two from 256 to 1048576, got {buckets!r}"
            raise ValueError(msg)
        if not learning_rate > 0 or l2 < 0 or grace_period < 0 or min_positives < 0:
            msg = (f"learning_rate must be > 0 and l2, grace_period, min_positives >= 0; got {learning_rate!r}, "
                   f"{l2!r}, {grace_period!r}, {min_positives!r}")
            raise ValueError(msg)
        self.buckets = buckets
        self.learning_rate = learning_rate
        self.l2 = l2
        self.grace_period = grace_period
        self.min_positives = min_positives
        self.model = linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate), l2=l2, intercept_lr=learning_rate
        )
        self.n_learned = 0
        self.n_positive = 0

    # --- pickling with a version -----------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"version": VERSION, **{k: v for k, v in self.__dict__.items()}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = upgrade(state)
        state.pop("version")
        self.__dict__.update(state)

    # --- features, prediction, learning ---------------------------------------------
    def features(self, terms: Iterable[str], *, negative: bool, complaint_words: int,
                 sentiment: float) -> dict[int, float]:
        """The features of a contact's text: hashed terms (and phrases) plus the lexicon's reading."""
        mask = self.buckets - 1
        x: dict[int, float] = {zlib.crc32(t.encode()) & mask: 1.0 for t in terms}
        if negative:
            x[NEGATIVE_KEY] = 1.0
        if complaint_words:
            x[COMPLAINT_KEY] = float(min(complaint_words, 3))
        if sentiment < 0:
            x[SENTIMENT_KEY] = -sentiment
        return x

    @property
    def learning(self) -> bool:
        """True while the prior answers (too few examples, or too few positive ones)."""
        return self.n_learned < self.grace_period or self.n_positive < self.min_positives

    def predict_one(self, x: dict[int, float]) -> float:
        """P(this contact ends in a complaint or a CSAT of 1-2), in [0, 1]."""
        if self.learning:
            if x.get(COMPLAINT_KEY):
                return PRIOR_COMPLAINT
            return PRIOR_NEGATIVE if x.get(NEGATIVE_KEY) else PRIOR_BASE
        return float(self.model.predict_proba_one(x).get(True, 0.0))

    def learn_one(self, x: dict[int, float], complained: bool) -> None:
        """Learn one contact's outcome: True for a complaint or a CSAT of 1-2."""
        self.model.learn_one(x, bool(complained))
        self.n_learned += 1
        self.n_positive += bool(complained)
