"""The shared records every part of sqm relies on (see docs/architecture.md).

- ``ServiceEvent``: one fact about a contact, the input contract.
- ``KpiSnapshot``: the KPIs of one window at one dimension (team x channel x region).
- ``Anomaly``: a detector's finding about one KPI series.
- ``Alert``: what the alert engine tracks for one fingerprint.

Records are msgspec Structs: strict, fast to decode (the dataflow decodes every
event) and JSON-encoded the same way everywhere (``encode``/``decode_*``).
This module imports nothing else of the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

from sqm.errors import InvalidEvent

ALL = "*"
"""Dimension value meaning "all" in a rolled-up snapshot (e.g. team="*")."""

DEFAULT_REGION = "default"

EventType = Literal[
    "contact.created",
    "contact.first_response",
    "contact.resolved",
    "contact.reopened",
    "contact.abandoned",
    "contact.transferred",
    "survey.csat",
    "survey.nps",
    "complaint.opened",
    "complaint.responded",
    "complaint.resolved",
    "feedback.received",
    "feedback.closed",
    "contact.message",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

NAME_CHARS = r"^[^\s:*|,=\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]+$"
"""No spaces, no ``: * | , =`` (names become key parts), no control, zero-width or bidirectional-override
characters; ``name_problem`` also refuses whatever else ``str.isprintable`` does (unassigned, private use)."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, extra_json_schema={"pattern": NAME_CHARS})]
"""A team, channel, region... name; its characters are checked in ``ServiceEvent.__post_init__``
against a memo of names already seen (a ``pattern`` here would cost the dataflow 2 µs an event)."""
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)]
TEXT_MAX = 4000
"""Characters of ``text`` an event may carry (a chat message, a survey comment, a complaint's description)."""
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]

# Which optional, type-specific fields each type takes; the rest are refused.
_TYPE_FIELDS: dict[str, frozenset[str]] = {
    "contact.first_response": frozenset({"by", "response_s", "wait_s"}),
    "contact.resolved": frozenset({"first_contact", "handle_s"}),
    "contact.abandoned": frozenset({"wait_s"}),
    "contact.transferred": frozenset({"to_team"}),
    "survey.csat": frozenset({"score"}),
    "survey.nps": frozenset({"score"}),
    "complaint.opened": frozenset({"severity"}),
    "complaint.responded": frozenset({"response_s"}),
    "contact.message": frozenset({"author"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "contact.transferred": ("to_team",),
    "survey.csat": ("score",),
    "survey.nps": ("score",),
    "complaint.opened": ("severity",),
    "contact.message": ("author", "text"),
}
_SCORE_RANGE = {"survey.csat": (1, 5), "survey.nps": (0, 10)}
_TYPED = frozenset().union(*_TYPE_FIELDS.values())
_FOREIGN: dict[str, tuple[str, ...]] = {t: tuple(sorted(_TYPED - _TYPE_FIELDS.get(t, frozenset()))) for t in EVENT_TYPES}
# Fast paths of __post_init__ (it runs for every event the flow decodes): one C call gets the
# fields to check as a tuple, compared at once with what a valid event has.
_foreign_of = {t: attrgetter(*names) for t, names in _FOREIGN.items()}
_NONES = {t: (None,) * len(names) for t, names in _FOREIGN.items()}
_NAME_FIELDS = ("team", "channel", "region", "queue", "customer_tier", "to_team")
_names_of = attrgetter(*_NAME_FIELDS)
_name_chars = re.compile(NAME_CHARS)
_good_names: set[str | None] = {None}
_GOOD_NAMES_MAX = 100_000


class ServiceEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, gc=False):
    """One fact about a contact: the input contract (docs/events.md).

    >>> ev = decode_event(b'{"event_id": "e1", "type": "survey.csat", "ts": "2026-03-02T09:00:00+08:00",'
    ...                   b' "contact_id": "c1", "team": "billing", "channel": "chat", "score": 5}')
    >>> ev.score, ev.region, ev.ts.isoformat()
    (5, 'default', '2026-03-02T09:00:00+08:00')
    >>> decode_event(b'{"event_id": "e1", "type": "survey.csat", "ts": "2026-03-02T09:00:00",'
    ...              b' "contact_id": "c1", "team": "billing", "channel": "chat", "score": 5}')
    Traceback (most recent call last):
    ...
    sqm.errors.InvalidEvent: ts: Expected `datetime` with a timezone component

    Not tracked by the garbage collector (``gc=False``: its fields are strings, numbers and
    a datetime, so it can be in no reference cycle); the dataflow decodes millions.
    """

    event_id: Ident
    type: EventType
    ts: AwareTime
    contact_id: Ident
    team: Name
    channel: Name
    region: Name = DEFAULT_REGION
    queue: Name | None = None
    agent_id: Ident | None = None
    customer_tier: Name | None = None
    text: Text | None = None
    # type-specific
    by: Literal["agent", "bot"] | None = None
    first_contact: bool | None = None
    handle_s: Seconds | None = None
    to_team: Name | None = None
    score: int | None = None
    severity: Literal["general", "major"] | None = None
    response_s: Seconds | None = None
    wait_s: Seconds | None = None
    author: Literal["customer", "agent", "bot"] | None = None

    def __post_init__(self) -> None:
        kind = self.type
        if _foreign_of[kind](self) != _NONES[kind]:
            for name in _FOREIGN[kind]:
                if getattr(self, name) is not None:
                    msg = f"`{name}` does not apply to type {kind!r}"
                    raise ValueError(msg)
        good = _good_names
        if not (self.team in good and self.channel in good and self.region in good
                and self.queue in good and self.customer_tier in good and self.to_team in good):
            _check_names(self)
        if kind in _REQUIRED:
            for name in _REQUIRED[kind]:
                if getattr(self, name) is None:
                    msg = f"`{name}` is required for type {kind!r}"
                    raise ValueError(msg)
        if kind in _SCORE_RANGE:
            lo, hi = _SCORE_RANGE[kind]
            if not lo <= self.score <= hi:  # type: ignore[operator]
                msg = f"`score` must be between {lo} and {hi} for type {kind!r}, got {self.score}"
                raise ValueError(msg)


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a team, channel, region... name (None: it can). Names reach Redis keys,
    terminals and the wallboard, so they are printable and carry no key separators.

    >>> name_problem("billing"), name_problem("账务"), name_problem("bill ing")
    (None, None, 'must be a name without spaces or any of : * | , =')
    >>> name_problem("bill\\x1b[31m"), name_problem("\\u202egnillib")
    ('must be printable: no control, zero-width or direction-changing characters', 'must be printable: no control, zero-width or direction-changing characters')
    """
    if not _no_separator.match(value):
        return "must be a name without spaces or any of : * | , ="
    if not value.isprintable() or not _name_chars.match(value):
        return "must be printable: no control, zero-width or direction-changing characters"
    return None


_no_separator = re.compile(r"^[^\s:*|,=]*$")


def _check_names(ev: ServiceEvent) -> None:
    """Check the names not yet in the memo of good ones, and remember them (up to a bound)."""
    for name, value in zip(_NAME_FIELDS, _names_of(ev), strict=True):
        if value in _good_names:
            continue
        problem = name_problem(value)
        if problem is not None:
            msg = f"`{name}` {problem}"
            raise ValueError(msg)
        if len(_good_names) < _GOOD_NAMES_MAX:
            _good_names.add(value)


_decoder = msgspec.json.Decoder(ServiceEvent)
_batch_decoder = msgspec.json.Decoder(ServiceEvent | list[ServiceEvent])
_encoder = msgspec.json.Encoder()
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?:\[(?P<index>\d+)\])?\.?(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"^(?:Object contains unknown field|Object missing required field) `(?P<f>[^`]+)`|^`(?P<g>[^`]+)`")


def _invalid(err: msgspec.ValidationError | msgspec.DecodeError | UnicodeDecodeError) -> InvalidEvent:
    """Turn a msgspec error into an InvalidEvent naming the field and the reason."""
    if isinstance(err, UnicodeDecodeError):  # msgspec raises it for bad bytes inside a JSON string
        bad = err.object[err.start : err.start + 4]
        return InvalidEvent("", f"not valid UTF-8: {err.reason} (bytes {bad!r} at offset {err.start})")
    m = _AT.match(str(err))
    assert m is not None  # the pattern matches any string
    reason, path = m["reason"], (m["path"] or "").replace("[", ".").replace("]", "")
    named = _NAMED.match(reason)
    if named and path.split(".")[-1:] != [named["f"] or named["g"]]:
        path = ".".join(p for p in (path, named["f"] or named["g"]) if p)
    if isinstance(err, msgspec.DecodeError) and not isinstance(err, msgspec.ValidationError):
        reason = f"not valid JSON: {reason}"
    index = int(m["index"]) if m["index"] is not None else None
    return InvalidEvent(path, reason, index=index)


def decode_event(raw: bytes | str) -> ServiceEvent:
    """Decode and validate one JSON event; raises InvalidEvent naming the field."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as err:
        raise _invalid(err) from err


def decode_events(raw: bytes | str) -> list[ServiceEvent]:
    """Decode one JSON event or a JSON array of events (all or nothing)."""
    try:
        out = _batch_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as err:
        raise _invalid(err) from err
    return out if isinstance(out, list) else [out]


def event_from_dict(obj: dict[str, Any]) -> ServiceEvent:
    """Validate an already-parsed JSON object (e.g. from a webhook adapter)."""
    try:
        return msgspec.convert(obj, ServiceEvent)
    except msgspec.ValidationError as err:
        raise _invalid(err) from err


def encode(record: msgspec.Struct | Any) -> bytes:
    """JSON-encode any sqm record (or plain data holding records)."""
    return _encoder.encode(record)


def to_builtins(record: Any) -> Any:
    """A record as plain dicts/lists/str, e.g. for an API response."""
    return msgspec.to_builtins(record)


# --- KPIs -------------------------------------------------------------------------

Window = Literal["1m", "5m", "1h", "60m"]
"""1-minute, 5-minute and hourly tumbling windows, and a rolling 60 minutes updated every minute."""
WINDOWS: tuple[str, ...] = Window.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class KpiInfo:
    """What a KPI is, for people: its unit, which way is bad, its names."""

    unit: Literal["count", "seconds", "ratio", "score"]
    bad: Literal["up", "down", "none"]
    en: str
    zh: str


KPIS: dict[str, KpiInfo] = {
    "volume": KpiInfo("count", "none", "Contacts", "进线量"),
    "frt_avg_s": KpiInfo("seconds", "up", "First response (avg)", "平均首次响应时长"),
    "frt_p50_s": KpiInfo("seconds", "up", "First response (p50)", "首次响应时长中位数"),
    "frt_p90_s": KpiInfo("seconds", "up", "First response (p90)", "首次响应时长P90"),
    "service_level": KpiInfo("ratio", "down", "Service level", "服务水平"),
    "timeout_rate": KpiInfo("ratio", "up", "Timeout rate", "超时率"),
    "abandon_rate": KpiInfo("ratio", "up", "Abandon rate", "放弃率"),
    "resolution_rate": KpiInfo("ratio", "down", "Resolution rate", "解决率"),
    "fcr_rate": KpiInfo("ratio", "down", "First-contact resolution", "一次解决率"),
    "aht_s": KpiInfo("seconds", "up", "Handle time (avg)", "平均处理时长"),
    "csat": KpiInfo("ratio", "down", "CSAT", "满意度"),
    "nps": KpiInfo("score", "down", "NPS", "净推荐值"),
    "complaint_rate": KpiInfo("ratio", "up", "Complaint rate", "投诉率"),
    "complaint_timely_rate": KpiInfo("ratio", "down", "Complaints answered in time", "投诉及时响应率"),
    "backlog": KpiInfo("count", "up", "Backlog", "积压量"),
}
KPI_NAMES: tuple[str, ...] = tuple(KPIS)


class KpiSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The KPIs of one window at one dimension.

    ``team``/``channel``/``region`` are ``"*"`` where rolled up. Each KPI in
    ``kpis`` is None (not 0) when its denominator is empty; ``n`` holds that
    denominator per KPI. ``final`` is False for a provisional value of a window
    still open; a later snapshot for the same window replaces it.
    """

    window: Window
    start: AwareTime
    end: AwareTime
    team: str = ALL
    channel: str = ALL
    region: str = ALL
    kpis: dict[str, float | None]
    n: dict[str, int]
    final: bool = True

    @property
    def dims(self) -> tuple[str, str, str]:
        return (self.team, self.channel, self.region)

    @property
    def series(self) -> str:
        return series_id(self.window, self.team, self.channel, self.region)


def series_id(window: str, team: str = ALL, channel: str = ALL, region: str = ALL) -> str:
    """The stable name of one dimension's series of snapshots: ``1m|billing|*|*``."""
    return f"{window}|{team}|{channel}|{region}"


def decode_snapshot(raw: bytes | str) -> KpiSnapshot:
    return msgspec.json.decode(raw, type=KpiSnapshot)


# --- anomalies and alerts -----------------------------------------------------------

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
"""Least to most severe: the one order of severities (the wallboard's copy is checked against it)."""
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
"""``info`` 0, ``warning`` 1, ``critical`` 2: compare severities by rank, sort the most severe first by ``-rank``."""
Direction = Literal["up", "down"]


def most_severe(severities: Iterable[str], default: str = "info") -> str:
    """The highest of ``severities`` in the one order (``default`` when there are none).

    >>> most_severe(["warning", "critical", "info"]), most_severe([])
    ('critical', 'info')
    """
    return max(severities, key=SEVERITY_RANK.__getitem__, default=default)


class Contributor(msgspec.Struct, frozen=True, kw_only=True):
    """A child series that explains part of an aggregate's change."""

    dimension: Literal["team", "channel", "region"]
    value: str
    kpi_value: float | None
    expected: float | None
    share: float
    """Fraction of the parent's change this child accounts for (0..1)."""


class Anomaly(msgspec.Struct, frozen=True, kw_only=True):
    """A detector's finding about one KPI series, what the detectors hand the alert engine.

    ``status`` is "firing" while the incident lasts (repeated sightings carry the
    same ``incident_start``) and "resolved" once, when it ends.
    """

    kpi: str
    window: Window
    team: str = ALL
    channel: str = ALL
    region: str = ALL
    start: AwareTime
    end: AwareTime
    value: float
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    change_pct: float | None = None
    score: float = 0.0
    n: int = 0
    severity: Severity = "warning"
    direction: Direction = "up"
    detector: str
    status: Literal["firing", "resolved"] = "firing"
    incident_start: AwareTime | None = None
    reason_en: str = ""
    reason_zh: str = ""
    contributors: tuple[Contributor, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Same KPI, dimensions and detector → same alert."""
        return f"{self.detector}|{self.kpi}|{self.window}|{self.team}|{self.channel}|{self.region}"

    @property
    def labels(self) -> dict[str, str]:
        return {
            "kpi": self.kpi,
            "window": self.window,
            "team": self.team,
            "channel": self.channel,
            "region": self.region,
            "severity": self.severity,
            "detector": self.detector,
            "direction": self.direction,
        }


def decode_anomaly(raw: bytes | str) -> Anomaly:
    return msgspec.json.decode(raw, type=Anomaly)


AlertState = Literal["pending", "firing", "acknowledged", "resolved"]


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: AwareTime
    state: str
    by: str = "sqm"
    why: str = ""


class Alert(msgspec.Struct, kw_only=True):
    """What the alert engine tracks for one fingerprint (alerts/ owns its life cycle)."""

    fingerprint: str
    state: AlertState
    labels: dict[str, str]
    anomaly: Anomaly
    started_at: AwareTime
    updated_at: AwareTime
    resolved_at: AwareTime | None = None
    acked_by: str | None = None
    acked_at: AwareTime | None = None
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)
    # added by alerts/ (all optional): what the engine shows supervisors about an alert
    sightings: int = 0
    flapping: bool = False
    hold_until: AwareTime | None = None
    """pending → firing at this time, or a held (flapping) resolution resolves at it."""
    ack_expires_at: AwareTime | None = None
    escalation_level: int = 0
    receivers: list[str] = msgspec.field(default_factory=list)
    silenced_by: list[str] = msgspec.field(default_factory=list)
    inhibited_by: str | None = None


def decode_alert(raw: bytes | str) -> Alert:
    return msgspec.json.decode(raw, type=Alert)
