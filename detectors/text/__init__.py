"""Text signals: what customers say, in Chinese and English (docs/text.md).

Pure: imports the ``sqm`` core, River and the segmenter (``rjieba``) only; no I/O.

- ``TextAnalyser(lexicon).read(text)`` → ``TextSignals`` (sentiment, negative,
  complaint words, keywords, terms, phrases), from a ``Lexicon`` (the shipped one,
  extended by the centre's words);
- ``ComplaintModel``: an online classifier of a contact's terms, learned from the
  centre's own outcomes (a complaint or a CSAT of 1-2), → ``complaint_risk``;
- ``EmergingTopics``: terms and phrases rising above their own rolling rate.
"""

from detectors.text.classifier import ComplaintModel
from detectors.text.lexicon import Lexicon, LexiconError, normalise
from detectors.text.signals import NO_SIGNALS, TextAnalyser, TextSignals, build_analyser
from detectors.text.tokens import Tokeniser
from detectors.text.topics import EmergingTopics, RisingTopic

__all__ = [
    "NO_SIGNALS",
    "ComplaintModel",
    "EmergingTopics",
    "Lexicon",
    "LexiconError",
    "RisingTopic",
    "TextAnalyser",
    "TextSignals",
    "Tokeniser",
    "build_analyser",
    "normalise",
]
