"""One text → its signals: lexicon sentiment, negative or not, complaint words, terms.

``TextAnalyser(lexicon).read(text)`` tokenises the text (``detectors.text.tokens``)
and walks each clause, matching the lexicon's words and phrases longest first
("no one replied" is one match of three tokens):

- a sentiment word adds its weight: negative words (and complaint words) count
  down, positive ones up;
- an intensifier (非常, very) multiplies the next sentiment word of its clause;
- a negation (不, 没有, not) flips the next one, by ``NEGATED`` (不满意 is a word of
  its own; 不 + 满意 reads the same way); a negated complaint word ("I am not
  complaining", 不是要投诉) counts for nothing and is not a complaint word;
- a negation or intensifier lapses after ``SCOPE`` other tokens or at the clause's end.

The sum is squashed into ``sentiment`` in (-1, 1) (``s / sqrt(s² + 4)``); the text
reads ``negative`` at ``sentiment <= -negative_at``. ``terms`` are the content tokens
(no stop words), ``phrases`` their adjacent pairs within a clause: what the
classifier and the emerging-topic test count.

>>> reader = TextAnalyser(Lexicon.default())
>>> s = reader.read("我要投诉，非常不满意！")
>>> round(s.sentiment, 2), s.negative, s.complaint_words, s.keywords
(-0.94, True, ('投诉',), ('投诉', '不满意'))
>>> reader.read("I am not complaining, thank you very much").negative
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from detectors.text.lexicon import Lexicon
from detectors.text.tokens import MAX_CHARS, Clause, Tokeniser
from sqm.config import TextSettings

NEGATED = -0.8
"""A negated sentiment word counts this much of its weight (sign flipped)."""
SCOPE = 3
"""A negation or an intensifier lapses once this many other tokens follow it."""
NEGATIVE_AT = 0.3
"""Default threshold: a text with ``sentiment <= -0.3`` reads negative (one plain complaint word does)."""
_SQUASH = 4.0
_MAX_TERMS = 64

# kinds of match
COMPLAINT, NEGATIVE, POSITIVE, NEGATION, INTENSIFIER = range(5)


@dataclass(frozen=True, slots=True)
class TextSignals:
    """What one text says, as derived signals (no raw text)."""

    sentiment: float
    """In (-1, 1): below 0 reads negative, above 0 positive; 0 for no sentiment word."""
    negative: bool
    complaint_words: tuple[str, ...]
    """The complaint words named (not negated), as the lexicon spells them, first seen first."""
    keywords: tuple[str, ...]
    """Every complaint or negative word matched, as the lexicon spells them."""
    terms: tuple[str, ...]
    """Distinct content tokens (no stop words, negations or intensifiers), first seen first, at most 64."""
    phrases: tuple[str, ...]
    """Distinct pairs of content tokens next to each other within a clause, once the other tokens are left
    out (中文 joined, English with a space)."""

    @property
    def empty(self) -> bool:
        return not self.terms and not self.keywords


NO_SIGNALS = TextSignals(0.0, False, (), (), (), ())


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: int
    word: str
    weight: float


class TextAnalyser:
    """Reads texts with one lexicon; see the module docstring.

    ``lexicon``: the words (``Lexicon.default()`` if None); ``negative_at``: the
    threshold in (0, 1); ``max_chars``: characters read of a text.
    """

    def __init__(self, lexicon: Lexicon | None = None, negative_at: float = NEGATIVE_AT,
                 max_chars: int = MAX_CHARS) -> None:
        if not 0 < negative_at < 1:
            msg = f"negative_at must be between 0 and 1, got {negative_at!r}"
            raise ValueError(msg)
        self.lexicon = lexicon if lexicon is not None else Lexicon.default()
        self.negative_at = negative_at
        self.max_chars = max_chars
        self.tokeniser = Tokeniser(self.lexicon.words(), max_chars=max_chars)
        self._index = _index(self.lexicon, self.tokeniser)
        self._skip = self.lexicon.stopwords | self.lexicon.negation | set(self.lexicon.intensifier)

    def __getstate__(self) -> dict[str, Any]:
        return {"lexicon": self.lexicon, "negative_at": self.negative_at, "max_chars": self.max_chars}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def read(self, text: str | None) -> TextSignals:
        """The signals of one text (empty or None: ``NO_SIGNALS``)."""
        clauses = self.tokeniser.clauses(text)
        if not clauses:
            return NO_SIGNALS
        total = 0.0
        complaints: dict[str, None] = {}
        keywords: dict[str, None] = {}
        terms: dict[str, None] = {}
        phrases: dict[str, None] = {}
        for clause in clauses:
            total += self._clause(clause, complaints, keywords)
            self._terms(clause, terms, phrases)
        sentiment = total / math.sqrt(total * total + _SQUASH)
        return TextSignals(sentiment, sentiment <= -self.negative_at, tuple(complaints), tuple(keywords),
                           tuple(terms)[:_MAX_TERMS], tuple(phrases)[:_MAX_TERMS])

    def _clause(self, clause: Clause, complaints: dict[str, None], keywords: dict[str, None]) -> float:
        """The clause's sum of sentiment; complaint and negative words matched go into the dicts."""
        index = self._index
        total, negated, boost, since = 0.0, False, 1.0, 0
        i, n = 0, len(clause)
        while i < n:
            matches = index.get(clause[i])
            entry = None
            if matches is not None:
                for tokens, candidate in matches:  # longest first
                    if len(tokens) == 1 or clause[i : i + len(tokens)] == tokens:
                        entry = candidate
                        i += len(tokens)
                        break
            if entry is None:
                i += 1
                since += 1
                if since >= SCOPE:
                    negated, boost = False, 1.0
                continue
            kind = entry.kind
            if kind == NEGATION:
                negated, since = not negated, 0
                continue
            if kind == INTENSIFIER:
                boost, since = boost * entry.weight, 0
                continue
            sign = 1.0 if kind == POSITIVE else -1.0
            if negated:
                sign = 0.0 if kind == COMPLAINT else sign * NEGATED
            elif kind != POSITIVE:
                keywords[entry.word] = None
                if kind == COMPLAINT:
                    complaints[entry.word] = None
            total += sign * entry.weight * boost
            negated, boost, since = False, 1.0, 0
        return total

    def _terms(self, clause: Clause, terms: dict[str, None], phrases: dict[str, None]) -> None:
        skip = self._skip
        previous = None
        for token in clause:
            if token in skip or (len(token) == 1 and token < "\x80"):
                continue
            terms[token] = None
            if previous is not None:  # Chinese next to Chinese joins without a space
                cjk = "\u3400" <= previous[-1] <= "\ufaff" and "\u3400" <= token[0] <= "\ufaff"
                phrases[previous + token if cjk else previous + " " + token] = None
            previous = token


def _index(lexicon: Lexicon, tokeniser: Tokeniser) -> dict[str, list[tuple[Clause, _Entry]]]:
    """First token → (tokens, entry) of every lexicon word, longest first; a word is tokenised as text is."""
    entries: dict[str, _Entry] = {}
    for kind, words in ((POSITIVE, lexicon.positive), (NEGATIVE, lexicon.negative), (COMPLAINT, lexicon.complaint),
                        (INTENSIFIER, lexicon.intensifier)):
        for word, weight in words.items():
            previous = entries.get(word)
            weight = max(weight, previous.weight) if previous is not None and kind == COMPLAINT else weight
            entries[word] = _Entry(kind, word, weight)
    for word in lexicon.negation:
        entries.setdefault(word, _Entry(NEGATION, word, 0.0))
    index: dict[str, list[tuple[Clause, _Entry]]] = {}
    for word, entry in entries.items():
        tokens = tokeniser.tokens(word)
        if tokens:
            index.setdefault(tokens[0], []).append((tokens, entry))
    for matches in index.values():
        matches.sort(key=lambda m: -len(m[0]))
    return index



def build_analyser(settings: TextSettings) -> TextAnalyser:
    """The analyser ``settings.text`` asks for: the shipped lexicon with the centre's words; LexiconError names a bad one."""
    lexicon = Lexicon.default().extended(settings.lexicon)
    return TextAnalyser(lexicon, negative_at=settings.negative_at, max_chars=settings.max_chars)
