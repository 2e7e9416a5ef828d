"""Text → clauses of tokens, for Chinese, English and mixed text.

The text is normalised (``lexicon.normalise``: NFKC, case-folded), cut to
``max_chars``, and split into clauses at sentence and clause punctuation. In a
clause, runs of Chinese characters are segmented by jieba-rs (``rjieba``, taught
the lexicon's words so that 没人回复 stays one token), Latin words and numbers are
tokens (``don't``, ``e-mail``), each emoji is a token, anything else separates.

>>> tok = Tokeniser(words={"没人回复"})
>>> tok.clauses("等了很久没人回复！Refund please 😡")
(('等', '了', '很', '久', '没人回复'), ('refund', 'please', '😡'))
>>> tok.clauses(""), tok.clauses("  ...  ")
((), ())
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import rjieba

from detectors.text.lexicon import normalise

Clause = tuple[str, ...]
Clauses = tuple[Clause, ...]

MAX_CHARS = 2000
"""Characters of a text read by default; a longer text is read up to there."""
MAX_TOKEN = 32
"""A Latin word or number longer than this is read as its first 32 characters."""
_SEGMENTERS_MAX = 8

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)|(?P<word>[a-z0-9]+(?:['\-][a-z0-9]+)*)|(?P<emoji>[{_EMOJI}])|(?P<brk>[.!?;,:。！？；，：、…\n~]+)"
)
# emoji modifiers (skin tones) are in the emoji range but never a token of their own
_MODIFIERS = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))
_segmenters: dict[frozenset[str], Any] = {}


def segmenter(words: frozenset[str]) -> Any:
    """A jieba-rs segmenter taught ``words`` (its Chinese ones), built once per set of words."""
    seg = _segmenters.get(words)
    if seg is None:
        if len(_segmenters) >= _SEGMENTERS_MAX:
            _segmenters.pop(next(iter(_segmenters)))
        seg = rjieba.Jieba()
        for word in sorted(words):
            if re.fullmatch(f"[{_CJK}]+", word):
                seg.add_word(word, None, None)
        _segmenters[words] = seg
    return seg


class Tokeniser:
    """Splits text into clauses of tokens; see the module docstring.

    ``words``: extra Chinese words the segmenter must keep whole (the lexicon's).
    ``max_chars``: characters read of a text (> 0). It pickles without its
    segmenter and builds it again when next used.
    """

    def __init__(self, words: Iterable[str] = (), max_chars: int = MAX_CHARS) -> None:
        if not isinstance(max_chars, int) or max_chars <= 0:
            msg = f"max_chars must be a positive integer, got {max_chars!r}"
            raise ValueError(msg)
        self.words = frozenset(normalise(w) for w in words)
        self.max_chars = max_chars
        self._cut: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"words": self.words, "max_chars": self.max_chars}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.words, self.max_chars, self._cut = state["words"], state["max_chars"], None

    def clauses(self, text: str | None) -> Clauses:
        """The clauses of ``text`` (None or empty: none), each a tuple of tokens."""
        if not text:
            return ()
        cut = self._cut
        if cut is None:
            cut = self._cut = segmenter(self.words).cut
        out: list[Clause] = []
        clause: list[str] = []
        for m in _TOKEN.finditer(normalise(text[: self.max_chars])):
            kind = m.lastgroup
            if kind == "cjk":
                clause.extend(cut(m.group()))
            elif kind == "brk":
                if clause:
                    out.append(tuple(clause))
                    clause = []
            elif kind == "word":
                clause.append(m.group()[:MAX_TOKEN])
            elif m.group() not in _MODIFIERS:
                clause.append(m.group())
        if clause:
            out.append(tuple(clause))
        return tuple(out)

    def tokens(self, text: str | None) -> Clause:
        """All tokens of ``text`` in order, clauses joined."""
        return tuple(t for clause in self.clauses(text) for t in clause)
