"""KPI values as people read them, in English and Simplified Chinese: one rule per unit.

The detectors' reasons, the alert messages and the pages (``dashboards/wallboard/format.js``,
the mirror of this module) all write a value through these rules, so one notification
never says "300秒" in its reason and "5.0 min" beside it.

========  ==========================================  ===========================
unit      en                                          zh
========  ==========================================  ===========================
seconds   ``45 s`` below 2 min, ``4.5 min`` below      ``45秒`` · ``4.5分钟`` ·
          1 h, ``2.1 h`` from 1 h on                  ``2.1小时``
ratio     ``35.1%`` (one decimal)                     ``35.1%``
score     ``42`` (NPS: points, whole numbers)         ``42``
count     ``1,200``                                   ``1,200``
number    ``0.35``, ``42`` (at most 2 decimals: a KPI     ``0.35``
          that ``sqm.models.KPIS`` does not list)
========  ==========================================  ===========================

A missing value (None, NaN, ±inf) is ``–``. Rounding is half away from zero on the exact
binary value (what JavaScript's ``toFixed`` does), and a value that rounds to zero has no
sign, so both languages print the same digits. Values read side by side (a value and its
baseline) share the unit of the larger one: pass the other as ``alongside``.

``tests/kpi_format_table.json`` holds the rows both implementations are checked against.

>>> format_value("timeout_rate", 0.3512), format_value("frt_avg_s", 45.0), format_value("frt_avg_s", 270.0, "zh")
('35.1%', '45 s', '4.5分钟')
>>> format_value("frt_avg_s", 95.0, alongside=[300.0]), format_value("volume", 1200.0), format_value("nps", None)
('1.6 min', '1,200', '–')
>>> format_change("timeout_rate", 0.35, 0.20), format_change("nps", 30.0, 42.0, "zh")
('+75%', '-12分')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

from sqm.models import KPIS

Unit = Literal["count", "seconds", "ratio", "score", "number"]
"""``sqm.models.KpiInfo``'s units, and ``number`` for a KPI that has no entry in ``KPIS``."""
LANGS = ("en", "zh")
MISSING = "–"
"""What a value that is not there reads as (an en dash)."""

MINUTES_FROM_S = 120.0
"""Durations of this many seconds and more are written in minutes."""
HOURS_FROM_S = 3600.0
"""Durations of this many seconds and more are written in hours."""

_DURATION_UNITS = {"en": (" s", " min", " h"), "zh": ("秒", "分钟", "小时")}
_POINTS = {"en": " pts", "zh": "分"}


def fixed(value: float, digits: int) -> str:
    """``value`` (finite) with ``digits`` decimals, half away from zero on its exact binary value; never ``-0``.

    >>> fixed(2.5, 0), fixed(-2.5, 0), fixed(0.35, 1), fixed(6.25, 1), fixed(-0.04, 1)
    ('3', '-3', '0.3', '6.3', '0.0')
    """
    numerator, denominator = value.as_integer_ratio()  # exact: the denominator is a power of 2
    whole, rest = divmod(abs(numerator) * 10**digits, denominator)
    if 2 * rest >= denominator:
        whole += 1
    text = str(whole).rjust(digits + 1, "0")
    if digits:
        text = f"{text[:-digits]}.{text[-digits:]}"
    return "-" + text if numerator < 0 and whole else text


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        msg = f"language {lang!r} is not one of {', '.join(LANGS)}"
        raise ValueError(msg)


def unit_of(kpi: str) -> Unit:
    """The unit a KPI is measured in (``sqm.models.KPIS``); ``number`` for a KPI without an entry there."""
    info = KPIS.get(kpi)
    return "number" if info is None else info.unit


def _ratio(value: float, lang: str, scale: float) -> str:
    return fixed(value * 100, 1) + "%"


def _seconds(value: float, lang: str, scale: float) -> str:
    secs, mins, hours = _DURATION_UNITS[lang]
    if scale < MINUTES_FROM_S:
        return fixed(value, 0) + secs
    if scale < HOURS_FROM_S:
        return fixed(value / 60, 1) + mins
    return fixed(value / 3600, 1) + hours


def _count(value: float, lang: str, scale: float) -> str:
    return f"{int(fixed(value, 0)):,}"


def _score(value: float, lang: str, scale: float) -> str:
    return fixed(value, 0)


def _number(value: float, lang: str, scale: float) -> str:
    return fixed(value, 2).rstrip("0").rstrip(".")


_RULES: dict[str, Callable[[float, str, float], str]] = {
    "seconds": _seconds, "ratio": _ratio, "score": _score, "count": _count, "number": _number,
}
"""One rule per unit: (value, language, the largest magnitude shown beside it) → text."""


def format_quantity(unit: Unit, value: float | None, lang: str = "en", *,
                    alongside: Iterable[float | None] = ()) -> str:
    """A value of ``unit`` as people read it (the table in this module's docstring)."""
    rule = _RULES.get(unit)
    if rule is None:
        msg = f"unit {unit!r} is not one of {', '.join(_RULES)}"
        raise ValueError(msg)
    _check_lang(lang)
    if value is None or not math.isfinite(value):
        return MISSING
    scale = max([abs(value)] + [abs(v) for v in alongside if v is not None and math.isfinite(v)])
    return rule(value, lang, scale)


def format_value(kpi: str, value: float | None, lang: str = "en", *, alongside: Iterable[float | None] = ()) -> str:
    """A KPI's value as people read it, in ``lang`` (``en`` or ``zh``)."""
    return format_quantity(unit_of(kpi), value, lang, alongside=alongside)


def format_change(kpi: str, value: float | None, expected: float | None, lang: str = "en", *,
                  change_pct: float | None = None) -> str:
    """How far ``value`` is from ``expected``: relative (``+75%``), or in points for a score (``-12 pts`` / ``-12分``).

    Without both values (or against a baseline of 0) it is ``change_pct`` when given, else ``–``.
    """
    _check_lang(lang)
    pair = _both(value, expected)
    if pair is not None and unit_of(kpi) == "score":
        return _signed(pair[0] - pair[1]) + _POINTS[lang]
    if pair is not None and pair[1] != 0:
        return _signed((pair[0] - pair[1]) / abs(pair[1]) * 100) + "%"
    if change_pct is not None and math.isfinite(change_pct):
        return _signed(change_pct) + "%"
    return MISSING


def _both(value: float | None, expected: float | None) -> tuple[float, float] | None:
    if value is None or expected is None or not (math.isfinite(value) and math.isfinite(expected)):
        return None
    return value, expected


def _signed(number: float) -> str:
    text = fixed(number, 0)
    return text if text.startswith("-") else "+" + text
