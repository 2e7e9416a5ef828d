"""Labelled incidents the simulator injects, and their parser.

An incident changes the TRUE parameter of the simulated contact center for the
contacts created during its interval: ``kpi=timeout_rate change=+40%`` makes the
share of contacts waiting past the channel's answer target 1.4x its normal value.
The resolved incidents are the ground truth detectors are scored against.

The CLI form is whitespace-separated ``key=value`` pairs::

    team=billing kpi=timeout_rate change=+40% at=10:00 for=45m
    kpi=volume change=x2 at=+2h for=1h30m channel=chat region=east
    kpi=csat change=-15% at=2026-03-02T14:00+08:00 for=30m

- ``kpi`` (required): one of ``INCIDENT_KPIS`` (aliases such as ``frt_avg_s`` or
  ``aht`` are accepted).
- ``change`` (required): ``+40%``, ``-20%``, ``40%`` (= +40 %), ``x1.4``, ``1.4x``.
- ``at`` (required): ``HH:MM[:SS]`` (the simulator's local time, on ``day`` or on
  the first such time at or after the simulation start), an offset from the
  start (``+2h``, ``+90m``, ``+1h30m``), or an ISO datetime (without an offset it
  is read in the simulator's time zone).
- ``for``: a duration (``45m``, ``2h``, ``1h30m``, ``90s``, ``1d``); default 30 m.
- ``team``, ``channel``, ``region``: optional; omitted means every one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from sqm.errors import ConfigError

INCIDENT_KPIS: dict[str, str] = {
    "timeout_rate": "timeout_rate",
    "frt": "frt",
    "abandon_rate": "abandon_rate",
    "csat": "csat",
    "complaint_rate": "complaint_rate",
    "volume": "volume",
    "fcr_rate": "fcr_rate",
    "aht": "handle_s",
    "nps": "nps_promoters",
    "complaint_timely_rate": "complaint_timely_rate",
    "resolution_rate": "resolve_rate",
}
"""Incident KPI name → the simulator parameter it scales."""

_ALIASES = {
    "frt_avg_s": "frt",
    "frt_p50_s": "frt",
    "frt_p90_s": "frt",
    "first_response": "frt",
    "aht_s": "aht",
    "handle_s": "aht",
    "fcr": "fcr_rate",
    "abandon": "abandon_rate",
    "timeout": "timeout_rate",
    "complaints": "complaint_rate",
}
_KEYS = ("team", "channel", "region", "kpi", "change", "at", "for")
DEFAULT_DURATION = timedelta(minutes=30)

_DURATION = re.compile(r"^(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?:in)?)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")
_PERCENT = re.compile(r"^(?P<v>[+-]?\d+(?:\.\d+)?)%$")
_TIMES = re.compile(r"^(?:[x×*](?P<a>\d+(?:\.\d+)?)|(?P<b>\d+(?:\.\d+)?)[x×])$")
_CLOCK = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$")


class IncidentError(ConfigError, ValueError):
    """An incident description is invalid; the message names the bad part."""


def parse_duration(text: str) -> timedelta:
    """``45m``, ``2h``, ``1h30m``, ``90s``, ``1d`` → timedelta.

    >>> parse_duration("1h30m"), parse_duration("90s")
    (datetime.timedelta(seconds=5400), datetime.timedelta(seconds=90))
    """
    m = _DURATION.match(text.strip().lower())
    if not text.strip() or m is None or not any(m.groupdict().values()):
        msg = f"bad duration {text!r}: use a number with a unit, e.g. 45m, 2h, 1h30m, 90s, 1d"
        raise IncidentError(msg)
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def parse_change(text: str) -> float:
    """``+40%`` → 1.4, ``-20%`` → 0.8, ``x2`` / ``2x`` → 2.0.

    >>> parse_change("+40%"), parse_change("-20%"), parse_change("x2")
    (1.4, 0.8, 2.0)
    """
    t = text.strip().lower()
    if m := _PERCENT.match(t):
        factor = 1 + float(m["v"]) / 100
    elif m := _TIMES.match(t):
        factor = float(m["a"] or m["b"])
    else:
        msg = f"bad change {text!r}: use a percentage (+40%, -20%) or a factor (x1.4)"
        raise IncidentError(msg)
    if factor < 0:
        msg = f"bad change {text!r}: a parameter cannot fall by more than 100%"
        raise IncidentError(msg)
    return round(factor, 9)


@dataclass(frozen=True, slots=True)
class Incident:
    """A change of one true parameter during an interval, for some team/channel/region.

    ``at`` is an absolute aware datetime once resolved; before that it may be an
    offset from the simulation start (timedelta), or a time of day (on ``day`` if
    given, else the first such time at or after the start). ``Simulator`` resolves
    its incidents; ``start``/``end`` need a resolved incident.

    >>> inc = Incident.parse("team=billing kpi=timeout_rate change=+40% at=10:00 for=45m", day=date(2026, 3, 2))
    >>> inc.team, inc.kpi, inc.factor, inc.duration
    ('billing', 'timeout_rate', 1.4, datetime.timedelta(seconds=2700))
    >>> from zoneinfo import ZoneInfo
    >>> r = inc.resolve(datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    >>> r.start.isoformat(), r.end.isoformat()
    ('2026-03-02T10:00:00+08:00', '2026-03-02T10:45:00+08:00')
    """

    kpi: str
    factor: float
    at: datetime | timedelta | time
    duration: timedelta = DEFAULT_DURATION
    team: str | None = None
    channel: str | None = None
    region: str | None = None
    day: date | None = None

    def __post_init__(self) -> None:
        if self.kpi not in INCIDENT_KPIS:
            msg = f"kpi={self.kpi}: unknown incident KPI (known: {', '.join(INCIDENT_KPIS)})"
            raise IncidentError(msg)
        if self.duration <= timedelta(0):
            msg = f"for={self.duration}: an incident must last longer than 0 s"
            raise IncidentError(msg)
        if self.factor < 0:
            msg = f"change={self.factor}: the factor must be >= 0"
            raise IncidentError(msg)

    @classmethod
    def parse(cls, text: str, *, day: date | None = None, tz: tzinfo | None = None) -> Incident:
        """Parse the CLI form ``"team=billing kpi=timeout_rate change=+40% at=10:00 for=45m"``.

        ``day`` fixes the date of a time-of-day ``at``; ``tz`` with ``day`` makes
        the incident absolute at once (otherwise the simulator's zone is used).
        Raises ``IncidentError`` (a ``ValueError`` and ``ConfigError``) naming the
        bad part.
        """
        fields: dict[str, str] = {}
        for token in text.split():
            key, sep, value = token.partition("=")
            key = key.strip().lower()
            if not sep or not value:
                msg = f"incident {text!r}: {token!r} is not key=value"
                raise IncidentError(msg)
            if key == "duration":
                key = "for"
            if key not in _KEYS:
                msg = f"incident {text!r}: unknown key {key!r} (known: {', '.join(_KEYS)})"
                raise IncidentError(msg)
            if key in fields:
                msg = f"incident {text!r}: {key} given twice"
                raise IncidentError(msg)
            fields[key] = value
        for required in ("kpi", "change", "at"):
            if required not in fields:
                msg = f"incident {text!r}: missing {required}= (e.g. 'kpi=timeout_rate change=+40% at=10:00 for=45m')"
                raise IncidentError(msg)
        try:
            kpi = _ALIASES.get(fields["kpi"].lower(), fields["kpi"].lower())
            if kpi not in INCIDENT_KPIS:
                msg = f"kpi={fields['kpi']}: unknown incident KPI (known: {', '.join(INCIDENT_KPIS)})"
                raise IncidentError(msg)
            factor = parse_change(fields["change"])
            at, at_day = _parse_at(fields["at"], day, tz)
            duration = parse_duration(fields["for"]) if "for" in fields else DEFAULT_DURATION
            if duration <= timedelta(0):
                msg = f"for={fields['for']}: an incident must last longer than 0 s"
                raise IncidentError(msg)
        except IncidentError as err:
            msg = f"incident {text!r}: {err}"
            raise IncidentError(msg) from err
        return cls(
            kpi=kpi,
            factor=factor,
            at=at,
            duration=duration,
            team=fields.get("team"),
            channel=fields.get("channel"),
            region=fields.get("region"),
            day=at_day,
        )

    # --- resolution and ground truth ---------------------------------------------------
    def resolve(self, origin: datetime, tz: tzinfo | None = None) -> Incident:
        """The same incident with ``at`` an absolute datetime, given the simulation start."""
        zone = tz or origin.tzinfo
        if isinstance(self.at, datetime):
            at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=zone)
        elif isinstance(self.at, timedelta):
            at = origin + self.at
        else:
            local = origin.astimezone(zone)
            at = datetime.combine(self.day or local.date(), self.at, tzinfo=zone)
            if self.day is None and at < local:
                at = datetime.combine(local.date() + timedelta(days=1), self.at, tzinfo=zone)
        return replace(self, at=at, day=None)

    @property
    def resolved(self) -> bool:
        return isinstance(self.at, datetime) and self.at.tzinfo is not None

    @property
    def start(self) -> datetime:
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            msg = f"incident {self}: not resolved yet (call resolve(start))"
            raise IncidentError(msg)
        return self.at

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def active(self, at: datetime) -> bool:
        """Whether ``at`` falls in ``[start, end)``."""
        return self.start <= at < self.end

    def matches(self, team: str, channel: str, region: str) -> bool:
        """Whether the incident applies to contacts of this team, channel and region."""
        return (
            (self.team is None or self.team == team)
            and (self.channel is None or self.channel == channel)
            and (self.region is None or self.region == region)
        )

    @property
    def parameter(self) -> str:
        """The simulator parameter scaled (``Params`` field name)."""
        return INCIDENT_KPIS[self.kpi]

    def __str__(self) -> str:
        where = " ".join(f"{k}={v}" for k, v in (("team", self.team), ("channel", self.channel), ("region", self.region)) if v)
        pct = (self.factor - 1) * 100
        change = f"{pct:+g}%"
        if isinstance(self.at, datetime):
            at = self.at.isoformat()
        elif isinstance(self.at, timedelta):
            at = f"+{int(self.at.total_seconds())}s"
        else:
            at = (f"{self.day}T" if self.day else "") + self.at.isoformat()
        mins = self.duration.total_seconds() / 60
        return " ".join(p for p in (where, f"kpi={self.kpi} change={change} at={at} for={mins:g}m") if p)


def _parse_at(text: str, day: date | None, tz: tzinfo | None) -> tuple[datetime | timedelta | time, date | None]:
    t = text.strip()
    if t.startswith("+"):
        try:
            return parse_duration(t[1:]), None
        except IncidentError as err:
            msg = f"at={text}: bad offset (use +2h, +90m, +1h30m)"
            raise IncidentError(msg) from err
    if m := _CLOCK.match(t):
        h, mi, s = int(m["h"]), int(m["m"]), int(m["s"] or 0)
        if h > 23 or mi > 59 or s > 59:
            msg = f"at={text}: not a time of day"
            raise IncidentError(msg)
        tod = time(h, mi, s)
        if day is not None and tz is not None:
            return datetime.combine(day, tod, tzinfo=tz), None
        return tod, day
    try:
        when = datetime.fromisoformat(t)
    except ValueError as err:
        msg = f"at={text}: use HH:MM, an offset like +2h, or an ISO datetime"
        raise IncidentError(msg) from err
    if when.tzinfo is None and tz is not None:
        when = when.replace(tzinfo=tz)
    return when, None
