"""The input contract: ``ServiceEvent``, its types and fields, its names' rules, and its decoding.

Strict msgspec decoding (the dataflow decodes every event): unknown fields, naive
timestamps, fields that do not belong to the event's type, scores out of range and
names that could break a key or a terminal are refused with ``InvalidEvent(field,
reason)``. docs/events.md is the reference. This module imports only ``sqm.errors``.
"""

from __future__ import annotations

import re
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

from sqm.errors import InvalidEvent

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
