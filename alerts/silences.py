"""Silences, quiet hours and inhibition: the stages that hold notifications back.

>>> from datetime import UTC, datetime
>>> from sqm.config import QuietHours
>>> tz = ZoneInfo("Asia/Shanghai")
>>> quiet_until([QuietHours(start="22:00", end="08:00")], datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tz)
datetime.datetime(2026, 3, 3, 8, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
>>> quiet_until([QuietHours(start="22:00", end="08:00")], datetime(2026, 3, 2, 3, 0, tzinfo=UTC), tz) is None
True
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from sqm.config import InhibitRule, QuietHours
from sqm.matchers import matches_all, parse, parse_all
from sqm.models import Alert

log = logging.getLogger("sqm.alerts")

class Silence(msgspec.Struct, kw_only=True):
    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""
    expire_when_resolved: bool = False
    created_at: datetime
    expired_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at and self.expired_at is None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches; a stored matcher that no longer parses matches nothing (logged)."""
        try:
            return matches_all((parse(m) for m in self.matchers), labels)
        except ValueError as err:
            log.error("silence %s ignored: %s", self.id, err)
            return False

    @property
    def status(self) -> str:
        return "expired" if self.expired_at is not None else "active"


def new_silence(matchers: Sequence[str], starts_at: datetime, ends_at: datetime, created_by: str, *,
                comment: str = "", expire_when_resolved: bool = False, now: datetime) -> Silence:
    """A validated silence (raises ValueError naming the bad matcher or times)."""
    if not matchers:
        msg = "matchers: a silence needs at least one matcher"
        raise ValueError(msg)
    for m in matchers:
        parse(m)
    if ends_at <= starts_at:
        msg = f"ends_at: must be after starts_at ({starts_at.isoformat()}), got {ends_at.isoformat()}"
        raise ValueError(msg)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        msg = "starts_at/ends_at: need a timezone"
        raise ValueError(msg)
    return Silence(id=uuid.uuid4().hex[:12], matchers=list(matchers), starts_at=starts_at, ends_at=ends_at,
                   created_by=created_by, comment=comment, expire_when_resolved=expire_when_resolved, created_at=now)


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> list[str]:
    return [s.id for s in silences if s.active(now) and s.matches(labels)]


def _hhmm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def quiet_until(windows: Sequence[QuietHours], now: datetime, tz: ZoneInfo) -> datetime | None:
    """If ``now`` is inside one of the quiet windows (site time), when that window ends; else None."""
    local = now.astimezone(tz)
    for w in windows:
        start, end = _hhmm(w.start), _hhmm(w.end)
        for back in (0, 1):  # a window that began today, or yesterday and spans midnight
            day = (local - timedelta(days=back)).date()
            if day.weekday() not in w.days:
                continue
            begin = datetime.combine(day, start, tzinfo=tz)
            finish = datetime.combine(day if end > start else day + timedelta(days=1), end, tzinfo=tz)
            if begin <= local < finish:
                return finish
    return None


def inhibited_by(rules: Sequence[InhibitRule], target: Alert, sources: Iterable[Alert]) -> str | None:
    """The fingerprint of a firing alert that holds ``target`` back, if any (Alertmanager inhibit rules)."""
    srcs = [a for a in sources if a.state in ("firing", "acknowledged") and a.fingerprint != target.fingerprint]
    for rule in rules:
        if not matches_all(parse_all(rule.target), target.labels):
            continue
        src_m = parse_all(rule.source)
        for s in srcs:
            if matches_all(src_m, s.labels) and all(s.labels.get(k) == target.labels.get(k) for k in rule.equal):
                return s.fingerprint
    return None
