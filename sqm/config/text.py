"""Settings of the text signals (``text``): privacy, the lexicon, the thresholds (docs/text.md)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from sqm.config.base import Section

LEXICON_KEYS = ("complaint", "negative", "positive", "negation", "intensifier", "stopwords", "remove")


class TextSettings(Section):
    """What sqm reads in customers' text, and what of it it keeps."""

    keep_raw: bool = Field(False, description="keep raw text in Redis (dead letters); off: text is read in passing and "
                           "only its derived signals are kept")
    max_chars: int = Field(2000, ge=1, le=4000, description="characters of a text read")
    negative_at: float = Field(0.3, gt=0, lt=1, description="a text reads negative at sentiment <= -negative_at")
    lexicon: dict[str, Any] = Field(default_factory=dict, description="the centre's own words, added to the shipped "
                                    "lexicon (keys: " + ", ".join(LEXICON_KEYS) + "); see docs/text.md")
    recovery_risk: float = Field(0.6, gt=0, le=1, description="a contact whose complaint_risk reaches this raises a "
                                 "recovery alert")
    recovery_tiers: list[str] = Field(default_factory=lambda: ["vip"], description="customer tiers whose negative "
                                      "text raises a recovery alert whatever its risk")

    @field_validator("lexicon")
    @classmethod
    def _lexicon_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(LEXICON_KEYS))
        if unknown:
            msg = f"unknown key {unknown[0]!r} (known: {', '.join(LEXICON_KEYS)})"
            raise ValueError(msg)
        return v
