"""Emerging topics: terms and phrases rising well above their own rolling rate.

``EmergingTopics`` counts, per time slot (``slot_s``), in how many messages each
term or two-word phrase occurs (one team's negative messages, say). Each slot that
leaves the recent window (``window_slots``) is folded into an exponentially
weighted baseline (half-life ``half_life_slots``) of every term's count and of the
messages' count per slot. A term is *rising* when its count ``k`` in the window
stands out against ``expected`` = messages in the window x its baseline share
(so that a busier hour does not make every term rise):

- ``k >= min_count`` and ``k / expected >= min_ratio``, and
- the log-likelihood ratio ``G`` of two Poisson counts — the window's ``k`` and the
  baseline's ``c`` (its weighted count over the slots it holds), against one shared
  rate per message — is at least ``min_score`` (25: many terms are tested). Counting
  the baseline's own noise keeps a term seen a few times only from rising by chance.

For ``expected``, a term seen less than that counts as half an occurrence in the baseline.
Nothing is reported until ``grace_slots`` slots have been folded in. A phrase
rising with a term of its own hides that term when it explains most of its count.
At most ``max_terms`` baseline terms are kept (the rarest go first). Time is the
events' time (epoch seconds), passed in; nothing reads a clock.

>>> topics = EmergingTopics(slot_s=60, window_slots=10, grace_slots=10, min_count=5)
>>> for minute in range(120):
...     for i in range(10):
...         topics.observe(["退款"] if (minute >= 110 and i < 6) or i == 0 else ["发票"], 60.0 * minute)
>>> [t.describe() for t in topics.rising(119 * 60.0)]
['rising: 退款 ×6.0 (60 in the last 10 min)']
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VERSION = 1


@dataclass(frozen=True, slots=True)
class RisingTopic:
    """A term rising above its own rate in the recent window."""

    term: str
    count: int
    expected: float
    score: float
    window_s: float

    @property
    def ratio(self) -> float:
        return self.count / self.expected if self.expected > 0 else math.inf

    def describe(self, lang: str = "en") -> str:
        """``rising: 退款 ×4.2 (37 in the last hour)``; ``lang="zh"``: ``上升：退款 ×4.2（近1小时37次）``."""
        hours = self.window_s / 3600
        if lang == "zh":
            span = f"近{hours:g}小时" if hours >= 1 else f"近{self.window_s / 60:g}分钟"
            return f"上升：{self.term} ×{self.ratio:.1f}（{span}{self.count}次）"
        span = ("the last hour" if hours == 1 else f"the last {hours:g} h") if hours >= 1 else f"the last {self.window_s / 60:g} min"
        return f"rising: {self.term} ×{self.ratio:.1f} ({self.count} in {span})"


class EmergingTopics:
    """Rising terms of one stream of messages; see the module docstring."""

    def __init__(self, slot_s: float = 300.0, window_slots: int = 12, half_life_slots: float = 288.0,
                 min_count: int = 10, min_ratio: float = 2.0, min_score: float = 25.0, grace_slots: int = 72,
                 max_terms: int = 5000, top: int = 5) -> None:
        if not slot_s > 0 or window_slots < 1 or not half_life_slots > 0 or min_count < 1 or min_ratio < 1 \
                or min_score < 0 or grace_slots < 0 or max_terms < 1 or top < 1:
            msg = ("EmergingTopics: slot_s and half_life_slots must be > 0, window_slots, min_count, max_terms "
                   "and top >= 1, min_ratio >= 1, min_score and grace_slots >= 0")
            raise ValueError(msg)
        self.slot_s = slot_s
        self.window_slots = window_slots
        self.half_life_slots = half_life_slots
        self.min_count = min_count
        self.min_ratio = min_ratio
        self.min_score = min_score
        self.grace_slots = grace_slots
        self.max_terms = max_terms
        self.top = top
        self._keep = 0.5 ** (1 / half_life_slots)
        self.slot: int | None = None
        """The newest slot counted (epoch s // slot_s)."""
        self.recent: deque[tuple[int, Counter[str]]] = deque()
        """(slot, messages) of the slots in the window, oldest first; messages are counted under ""."""
        self.baseline: dict[str, float] = {}
        """Per term (and "" for messages), the weighted mean count per slot of the slots before the window."""
        self.folded = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"version": VERSION, **self.__dict__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        version = state.pop("version", 1)
        if version > VERSION:
            msg = f"EmergingTopics state version {version} is newer than this sqm reads ({VERSION})"
            raise ValueError(msg)
        self.__dict__.update(state)

    def observe(self, terms: Iterable[str], ts: float) -> None:
        """One message at event time ``ts`` (epoch s) with its terms (each counted once)."""
        slot = int(ts // self.slot_s)
        self._advance(slot)
        index = slot - self.recent[0][0]
        if index < 0:  # older than the window: no longer counted
            return
        counts = self.recent[index][1]
        counts[""] += 1
        counts.update(set(terms) - {""})

    def _advance(self, slot: int) -> None:
        """Move the window's end to ``slot``; the slots leaving it (counted or empty) go into the baseline."""
        if self.slot is None:
            self.slot = slot
            self.recent.extend((s, Counter()) for s in range(slot - self.window_slots + 1, slot + 1))
            return
        if slot <= self.slot:
            return
        first = slot - self.window_slots + 1
        if first > self.slot + 1:  # the whole window leaves, and the slots between it and the new one were empty
            while self.recent:
                self._fold(self.recent.popleft()[1])
            self._fold_empty(first - self.slot - 1)
        for s in range(max(self.slot + 1, first), slot + 1):
            self.recent.append((s, Counter()))
            if len(self.recent) > self.window_slots:
                self._fold(self.recent.popleft()[1])
        self.slot = slot

    def _fold(self, counts: Counter[str]) -> None:
        """One slot leaves the window: its counts join the baseline."""
        keep = self._keep
        base = self.baseline
        for term in base:
            base[term] *= keep
        for term, k in counts.items():
            base[term] = base.get(term, 0.0) + (1 - keep) * k
        self.folded += 1
        if len(base) > self.max_terms + 1:
            for term, _ in sorted(base.items(), key=lambda kv: kv[1])[: len(base) - self.max_terms - 1]:
                if term:
                    del base[term]

    def _fold_empty(self, slots: int) -> None:
        decay = self._keep**slots
        for term in self.baseline:
            self.baseline[term] *= decay
        self.folded += slots

    def rising(self, now: float) -> list[RisingTopic]:
        """The rising terms of the window ending at ``now``, most surprising first (at most ``top``)."""
        self._advance(int(now // self.slot_s))
        base_messages = self.baseline.get("", 0.0)
        if self.folded < self.grace_slots or base_messages <= 0:
            return []
        window: Counter[str] = Counter()
        for _, counts in self.recent:
            window.update(counts)
        messages = window.pop("", 0)
        seen = (1 - self._keep ** min(self.folded, 100_000)) / (1 - self._keep)  # slots the baseline holds
        base_n = base_messages * seen
        share = messages / (messages + base_n)
        found = []
        for term, k in window.items():
            if k < self.min_count:
                continue
            c = self.baseline.get(term, 0.0) * seen
            expected = messages * max(c, 0.5) / base_n
            if k < self.min_ratio * expected:
                continue
            score = _two_poisson_g(k, c, share)
            if score >= self.min_score:
                found.append(RisingTopic(term, k, expected, score, self.window_slots * self.slot_s))
        found.sort(key=lambda t: -t.score)
        return _hide_parts(found)[: self.top]


def _two_poisson_g(k: int, c: float, share: float) -> float:
    """G of "the window's count ``k`` and the baseline's ``c`` come from one rate", ``share`` = the window's
    part of all messages: the likelihood ratio of two Poisson counts (the baseline's own noise counts too)."""
    total = k + c
    g = k * math.log(k / (total * share))
    if c > 0:
        g += c * math.log(c / (total * (1 - share)))
    return 2 * g


def _hide_parts(found: list[RisingTopic]) -> list[RisingTopic]:
    """Drop a term when a rising phrase containing it accounts for 80 % of its count."""
    phrases = [t for t in found if " " in t.term or len(t.term) > 2]
    return [
        t for t in found
        if not any(p is not t and t.term in p.term and p.count >= 0.8 * t.count for p in phrases)
    ]
