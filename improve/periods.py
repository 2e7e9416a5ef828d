"""Calendar periods in the site's time zone, and when a scheduled report of one is due.

A period is named ``2026-03-02`` (a day), ``2026-W10`` (an ISO week, Monday first),
``2026-03`` (a month) or ``2026-Q1`` (a quarter). ``bounds`` gives its start and end
as aware datetimes at local midnight. A report of a period is due at ``at`` (local
time) on the first day after the period: a day's the next morning, a week's on
Monday, a month's on the 1st — including after a month of 28, 30 or 31 days.

>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Asia/Shanghai")
>>> [d.isoformat() for d in bounds("2026-02", tz)]
['2026-02-01T00:00:00+08:00', '2026-03-01T00:00:00+08:00']
>>> bounds("2026-W01", tz)[0].date().isoformat(), kind_of("2026-Q4")
('2025-12-29', 'quarter')
>>> from datetime import datetime
>>> due("month", "08:00", None, datetime(2026, 3, 1, 8, 0, tzinfo=tz), tz)
'2026-02'
>>> due("month", "08:00", "2026-02", datetime(2026, 3, 31, 23, 0, tzinfo=tz), tz) is None
True
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

Kind = Literal["day", "week", "month", "quarter"]

_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
)


def kind_of(period: str) -> Kind:
    for kind, pattern in _PATTERNS:
        if pattern.match(period):
            return kind
    msg = f"period {period!r}: use a day 2026-03-02, an ISO week 2026-W10, a month 2026-03 or a quarter 2026-Q1"
    raise ValueError(msg)


def first_day(period: str) -> date:
    kind = kind_of(period)
    parts = [int(p) for p in re.findall(r"\d+", period)]
    try:
        if kind == "day":
            return date(parts[0], parts[1], parts[2])
        if kind == "week":
            return date.fromisocalendar(parts[0], parts[1], 1)
        if kind == "month":
            return date(parts[0], parts[1], 1)
        return date(parts[0], 3 * parts[1] - 2, 1)
    except ValueError as err:
        msg = f"period {period!r}: {err}"
        raise ValueError(msg) from err


def _next_first(kind: Kind, first: date) -> date:
    if kind == "day":
        return first + timedelta(days=1)
    if kind == "week":
        return first + timedelta(days=7)
    months = 1 if kind == "month" else 3
    y, m = divmod(first.month - 1 + months, 12)
    return date(first.year + y, m + 1, 1)


def _midnight(d: date, tz: tzinfo) -> datetime:
    return datetime.combine(d, time(0), tz)


def bounds(period: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the period at local midnights."""
    first = first_day(period)
    return _midnight(first, tz), _midnight(_next_first(kind_of(period), first), tz)


def name_of(kind: Kind, d: date) -> str:
    """The name of the period of ``kind`` holding the local date ``d``."""
    if kind == "day":
        return d.isoformat()
    if kind == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if kind == "month":
        return f"{d.year}-{d.month:02d}"
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def previous(period: str) -> str:
    """The period of the same kind just before.

    >>> previous("2026-01"), previous("2026-W01"), previous("2026-Q1"), previous("2026-03-01")
    ('2025-12', '2025-W52', '2025-Q4', '2026-02-28')
    """
    return name_of(kind_of(period), first_day(period) - timedelta(days=1))


def last_complete(kind: Kind, now: datetime, tz: tzinfo) -> str:
    """The newest period of ``kind`` that has ended by ``now``."""
    return previous(name_of(kind, now.astimezone(tz).date()))


def due(kind: Kind, at: str, last_sent: str | None, now: datetime, tz: tzinfo) -> str | None:
    """The period whose report should go out now (the newest complete one, once its day's ``at`` has come),
    or None when it was sent already or it is too early."""
    period = last_complete(kind, now, tz)
    if period == last_sent:
        return None
    hh, mm = (int(x) for x in at.split(":"))
    send_at = datetime.combine(bounds(period, tz)[1].date(), time(hh, mm), tz)
    return period if now >= send_at else None
