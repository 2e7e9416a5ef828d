"""What every helpdesk adapter shares: its shape, its errors, times, teams and channels.

An adapter decodes one delivery's bytes into its typed payload (msgspec structs of
the fields it reads; other fields are ignored) and turns it into ``Mapped`` items
(an event as a plain dict, plus an optional *once* key: the event is sent only the
first time that key is seen, e.g. the first agent reply of a conversation). It is
total: bytes that are not its payload (not UTF-8, not JSON, a field of the wrong
type) raise ``Malformed``; a payload that cannot be mapped raises ``Unmappable``;
both name the payload field. A signature that does not hold raises ``BadSignature``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from sqm.config import WebhookSource
from sqm.models import name_problem

T = TypeVar("T")



class Unmappable(Exception):
    """A payload that cannot become a ServiceEvent; ``field`` names the payload field."""

    def __init__(self, reason: str, *, field: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class Malformed(Unmappable):
    """The delivery is not the helpdesk's payload at all (answered 422, and dead-lettered)."""


class BadSignature(Exception):
    """The signature or its timestamp is missing, wrong or too old."""


@dataclass(frozen=True, slots=True)
class Mapped:
    event: dict[str, Any]
    once: str | None = None


Verify = Callable[[str, Mapping[str, str], bytes, datetime, float], None]
"""``verify(secret, headers, body, now, max_skew_s)``: raises BadSignature unless the request is signed."""
MapPayload = Callable[[WebhookSource, bytes, datetime, set[str]], list[Mapped]]
"""``map(source, body, now, known_teams)``: the events of one delivery; raises Malformed or Unmappable, nothing else."""


@dataclass(frozen=True, slots=True)
class Helpdesk:
    """One helpdesk kind (``api.webhooks[].kind``): how its deliveries are signed and what they mean."""

    name: str
    verify: Verify
    map: MapPayload


def check_fresh(at: datetime, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature when a signed timestamp is further than ``max_skew_s`` from now (a replay)."""
    skew = abs((now - at).total_seconds())
    if skew > max_skew_s:
        msg = f"signature timestamp is {skew:.0f} s away from now (allowed {max_skew_s:.0f} s)"
        raise BadSignature(msg)


_FIELD_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def decode_payload(body: bytes, shape: type[T]) -> T:
    """The delivery's bytes as the adapter's typed payload; Malformed (naming the field) when they are not."""
    try:
        return msgspec.json.decode(body, type=shape)
    except UnicodeDecodeError as err:
        msg = f"not valid UTF-8 at byte {err.start}"
        raise Malformed(msg, field="") from err
    except msgspec.DecodeError as err:  # ValidationError included: a field of the wrong type
        text = str(err)
        found = _FIELD_AT.search(text)
        field = found["path"].replace("[", ".").replace("]", "") if found else ""
        reason = text[: found.start()] if found else text
        raise Malformed(reason if isinstance(err, msgspec.ValidationError) else f"not valid JSON: {reason}",
                        field=field) from err


def parse_time(value: Any) -> datetime | None:
    """Epoch seconds or an RFC 3339 string (``Z`` allowed) as an aware datetime; None if neither (or out of range).

    >>> parse_time(1772416800).isoformat(), parse_time("2026-03-02T02:00:00.000Z").isoformat(), parse_time("soon")
    ('2026-03-02T02:00:00+00:00', '2026-03-02T02:00:00+00:00', None)
    >>> parse_time(10**20), parse_time("9" * 30), parse_time(True)
    (None, None, None)
    """
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value:
            if value.isascii() and value.isdigit():
                return datetime.fromtimestamp(int(value), UTC)
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return at if at.tzinfo is not None else None
    except (ValueError, OverflowError, OSError):  # not a time, or out of datetime's range
        return None
    return None


def time_or_now(value: Any, now: datetime, field: str) -> datetime:
    """The payload's time, or ``now`` when it has none; Unmappable when it has one that is not a time."""
    if value is None or value == "":
        return now
    at = parse_time(value)
    if at is None:
        msg = f"not a time: {str(value)[:40]!r}"
        raise Unmappable(msg, field=field)
    return at


def pick_team(src: WebhookSource, known: set[str], candidates: list[tuple[str, Any]]) -> str:
    """The sqm team: the first candidate in ``team_map``, else a candidate that is an sqm team, else the default.

    ``candidates`` are (payload field, value) pairs, most specific first.
    """
    for _, value in candidates:
        if value is not None and str(value) in src.team_map:
            return src.team_map[str(value)]
    for _, value in candidates:
        if value is not None and str(value).lower() in known:
            return str(value).lower()
    if src.default_team:
        return src.default_team
    field, value = next(((f, v) for f, v in candidates if v is not None), (candidates[0][0], None))
    msg = f"no sqm team for {value!r} (add it to api.webhooks[{src.name}].team_map or set default_team)"
    raise Unmappable(msg, field=field)


def pick_channel(src: WebhookSource, builtin: Mapping[str, str], raw: Any) -> str:
    """The sqm channel: the source's ``channel_map``, else the helpdesk's built-in map, else the default."""
    key = str(raw or "")
    found = src.channel_map.get(key) or builtin.get(key) or builtin.get(key.lower()) or src.default_channel
    problem = name_problem(found) if 0 < len(found) <= 64 else "must be 1 to 64 characters"
    if problem is not None:
        msg = f"channel {found!r} is not a valid sqm channel name: it {problem}"
        raise Unmappable(msg, field="channel")
    return found


def base_event(src: WebhookSource, event_id: str, kind: str, ts: datetime, contact: str, team: str,
               channel: str) -> dict[str, Any]:
    """The fields every mapped event has, as the plain dict ``event_from_dict`` validates."""
    return {"event_id": event_id, "type": kind, "ts": ts.isoformat(), "contact_id": contact, "team": team,
            "channel": channel, "region": src.region}
