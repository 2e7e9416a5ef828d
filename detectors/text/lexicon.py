"""The lexicon: complaint, negative and positive words, negations, intensifiers, stop words.

``Lexicon.default()`` is the shipped one (``detectors.text.default_lexicon``);
``extended(config)`` adds a centre's own words to it or removes some, from the plain
mapping of ``text.lexicon`` in the settings::

    complaint: {"炸了": 2}          # word → weight; a list gives each the default weight
    negative: ["卡顿"]
    positive: {"给力": 1.5}
    negation: ["甭"]
    intensifier: {"贼": 1.8}        # word → factor > 0
    stopwords: ["亲"]
    remove: ["经理"]                # shipped words this centre does not want

A word may not be both negative (or a complaint word) and positive; a bad key, an
empty word or a weight that is not a positive number raises ``LexiconError``
naming it.

>>> lex = Lexicon.default().extended({"complaint": {"炸了": 2}, "remove": ["经理"]})
>>> lex.complaint["炸了"], "经理" in lex.complaint, "投诉" in lex.complaint
(2.0, False, True)
>>> Lexicon.default().extended({"positive": ["投诉"]})
Traceback (most recent call last):
...
detectors.text.lexicon.LexiconError: text.lexicon.positive: '投诉' is also a negative or complaint word
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.text import default_lexicon as shipped
from sqm.errors import ConfigError

DEFAULT_WEIGHT = 1.0
DEFAULT_FACTOR = 1.5
WEIGHTED = ("complaint", "negative", "positive", "intensifier")
LISTED = ("negation", "stopwords")
KEYS = (*WEIGHTED, *LISTED, "remove")


class LexiconError(ConfigError, ValueError):
    """A lexicon entry is invalid; the message names the key and the word."""


_FULL_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " ", "\u2019": "'"}
"""Full-width ASCII and the ideographic space as NFKC maps them, and ’ as '."""
_FULL_WIDTH_CHARS = re.compile("[\uff01-\uff5e\u3000\u2019]")


def normalise(text: str) -> str:
    """The form words are compared in: NFKC (full-width → half-width) and case-folded.

    >>> normalise("ＡＰＰ  Refund！ don’t"), normalise("ｶﾞ①")
    ("app  refund! don't", 'ガ1')
    """
    # the full-width punctuation of Chinese text first (a regex: NFKC itself costs 8 µs on 50 characters)
    text = _FULL_WIDTH_CHARS.sub(lambda m: _FULL_WIDTH[m.group()], text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


@dataclass(frozen=True)
class Lexicon:
    """The words the text signals are read from (normalised with ``normalise``)."""

    complaint: Mapping[str, float] = field(default_factory=dict)
    negative: Mapping[str, float] = field(default_factory=dict)
    positive: Mapping[str, float] = field(default_factory=dict)
    negation: frozenset[str] = frozenset()
    intensifier: Mapping[str, float] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        both = (set(self.complaint) | set(self.negative)) & set(self.positive)
        if both:
            word = sorted(both)[0]
            msg = f"text.lexicon.positive: {word!r} is also a negative or complaint word"
            raise LexiconError(msg)

    @classmethod
    def default(cls) -> Lexicon:
        """The shipped lexicon for customer service (zh-CN and English)."""
        return cls.build({
            "complaint": shipped.COMPLAINT, "negative": shipped.NEGATIVE, "positive": shipped.POSITIVE,
            "negation": shipped.NEGATION, "intensifier": shipped.INTENSIFIER, "stopwords": shipped.STOPWORDS,
        })

    @classmethod
    def build(cls, config: Mapping[str, Any]) -> Lexicon:
        """A lexicon of exactly the words in ``config`` (the keys of the module docstring)."""
        return cls().extended(config)

    def extended(self, config: Mapping[str, Any]) -> Lexicon:
        """This lexicon with ``config``'s words added and its ``remove`` words taken out."""
        if not isinstance(config, Mapping):
            msg = f"text.lexicon: expected a mapping of {', '.join(KEYS)}, got {type(config).__name__}"
            raise LexiconError(msg)
        unknown = sorted(set(config) - set(KEYS))
        if unknown:
            msg = f"text.lexicon: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})"
            raise LexiconError(msg)
        removed = set(_words("remove", config.get("remove", ())))
        def weighted(key: str) -> dict[str, float]:
            merged = {**getattr(self, key), **_weights(key, config.get(key, {}))}
            return {w: v for w, v in merged.items() if w not in removed}

        def listed(key: str) -> frozenset[str]:
            return frozenset(getattr(self, key) | set(_words(key, config.get(key, ())))) - removed

        return Lexicon(complaint=weighted("complaint"), negative=weighted("negative"), positive=weighted("positive"),
                       negation=listed("negation"), intensifier=weighted("intensifier"), stopwords=listed("stopwords"))

    def words(self) -> frozenset[str]:
        """Every word of the lexicon but the stop words (the segmenter is taught these)."""
        return frozenset(self.complaint) | set(self.negative) | set(self.positive) | self.negation | set(self.intensifier)

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """Equal for equal lexicons, hashable: the key of a compiled matcher."""
        return tuple(
            tuple(sorted(getattr(self, key).items())) if key in WEIGHTED else tuple(sorted(getattr(self, key)))
            for key in (*WEIGHTED, *LISTED)
        )


def _words(key: str, values: Any) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        msg = f"text.lexicon.{key}: expected a list of words, got {values!r}"
        raise LexiconError(msg)
    return [_word(key, value) for value in values]


def _word(key: str, value: Any) -> str:
    if not isinstance(value, str) and not (isinstance(value, int) and not isinstance(value, bool)):
        msg = f"text.lexicon.{key}: {value!r} is not a word"
        raise LexiconError(msg)
    word = " ".join(normalise(str(value)).split())
    if not word:
        msg = f"text.lexicon.{key}: an empty word"
        raise LexiconError(msg)
    if len(word) > 64:
        msg = f"text.lexicon.{key}: {word[:20]!r}... is longer than 64 characters"
        raise LexiconError(msg)
    return word


def _weights(key: str, values: Any) -> dict[str, float]:
    """A mapping word → weight, or a list of words (each the default weight or factor)."""
    default = DEFAULT_FACTOR if key == "intensifier" else DEFAULT_WEIGHT
    if not isinstance(values, Mapping):
        return {w: default for w in _words(key, values)}
    out = {}
    for raw, weight in values.items():
        word = _word(key, raw)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 10:
            msg = f"text.lexicon.{key}.{word}: the weight must be a number in (0, 10], got {weight!r}"
            raise LexiconError(msg)
        out[word] = float(weight)
    return out
