"""The one decode path of every entry point: bytes in, events or dead letters out, never an exception.

HTTP ingest (JSON and NDJSON), helpdesk webhooks, ``sqm replay`` and the dataflow's
source all turn what they were sent into ``ServiceEvent`` values here:

- ``decode_batch(raw, ...)``: one event or a JSON array, all or nothing (HTTP ingest): the
  events, or the ``InvalidEvent`` naming the first bad one (returned, not raised).
- ``decode_record(raw, source=, ...)``: one event (a replay line): the event, or its dead letter.
- ``decode_entry(raw, source=, ...)``: a stream entry (one event or an array): each event or
  its dead letter (the whole entry as one letter when it is not events at all).
- ``decode_mapped(obj, source=, raw=, ...)``: an event a webhook adapter built as a dict.

A dead letter keeps what customers wrote only with ``keep_text`` (``text.keep_raw``).

Each is total: whatever the bytes (invalid UTF-8, any JSON, hostile names), the
answer is a value; a property test feeds them arbitrary bytes and JSON. Each also
takes ``times`` and ``now`` (epoch seconds of the wall clock, from a ``Clock``) and
refuses an event whose ``ts`` is outside ``EventTimes`` — the one rule of accepted
event times, which the dataflow applies too (``EventTimes.refusal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqm.config import StreamSettings
from sqm.errors import InvalidEvent
from sqm.eventlog import DeadLetter, dead_letter
from sqm.models import ServiceEvent, decode_event, decode_events, encode, event_from_dict


@dataclass(frozen=True, slots=True)
class EventTimes:
    """The accepted range of an event's ``ts``: from ``max_age_s`` before the wall clock to ``max_ahead_s``
    after it (0: no bound on that side). Outside it an event is refused at ingest (HTTP 422 naming ``ts``)
    and dead-lettered by the dataflow, so that no timestamp from 1970 or 9999 reaches a window.

    >>> times = EventTimes(max_age_s=86400, max_ahead_s=300)
    >>> now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
    >>> times.refusal(now - 3600, now) is None, times.refusal(now + 60, now) is None
    (True, True)
    >>> times.refusal(0.0, now)
    'ts 1970-01-01T00:00:00+00:00 is 20514.5 days before now: older than the accepted history (streams.ts_max_age_s = 86400 s)'
    >>> times.refusal(now + 3600, now)
    'ts 2026-03-02T13:00:00+00:00 is 3600 s ahead of now: more than the allowed clock skew (streams.ts_max_ahead_s = 300 s)'
    """

    max_age_s: float
    max_ahead_s: float

    @classmethod
    def of(cls, streams: StreamSettings) -> EventTimes:
        """The range the settings give (``streams.ts_max_age_s``, ``streams.ts_max_ahead_s``)."""
        return cls(max_age_s=streams.ts_max_age_s, max_ahead_s=streams.ts_max_ahead_s)

    def refusal(self, ts: float, now: float) -> str | None:
        """Why an event at ``ts`` (epoch seconds) is refused at wall-clock ``now``; None when it is accepted."""
        if self.max_age_s and ts < now - self.max_age_s:
            return (f"ts {_iso(ts)} is {(now - ts) / 86400:.1f} days before now: older than the accepted history "
                    f"(streams.ts_max_age_s = {self.max_age_s:.0f} s)")
        if self.max_ahead_s and ts > now + self.max_ahead_s:
            return (f"ts {_iso(ts)} is {ts - now:.0f} s ahead of now: more than the allowed clock skew "
                    f"(streams.ts_max_ahead_s = {self.max_ahead_s:.0f} s)")
        return None


ANY_TIME = EventTimes(max_age_s=0, max_ahead_s=0)
"""No bound: for readers of what was accepted already (tests, tools)."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _out_of_range(events: list[ServiceEvent], times: EventTimes, now: float, *, batch: bool) -> InvalidEvent | None:
    for i, ev in enumerate(events):
        why = times.refusal(ev.ts.timestamp(), now)
        if why is not None:
            return InvalidEvent("ts", why, index=i if batch else None)
    return None


def _unexpected(err: Exception) -> InvalidEvent:
    # the decoders name every failure they know; anything else still becomes a reason, never a crash
    return InvalidEvent("", f"undecodable record ({type(err).__name__}: {err})")


def _decode_batch(raw: bytes) -> list[ServiceEvent] | InvalidEvent:
    try:
        return decode_events(raw)
    except InvalidEvent as err:
        return err
    except Exception as err:
        return _unexpected(err)


def decode_batch(raw: bytes, *, times: EventTimes, now: float) -> list[ServiceEvent] | InvalidEvent:
    """One event or a JSON array of events, all or nothing: the events, or why not (naming the event and field)."""
    got = _decode_batch(raw)
    if isinstance(got, InvalidEvent):
        return got
    return _out_of_range(got, times, now, batch=raw.lstrip()[:1] == b"[") or got


def _letter(err: InvalidEvent, source: str, raw: bytes, keep_text: bool) -> DeadLetter:
    return dead_letter(reason=err.reason, field=err.field, source=source, raw=raw, keep_text=keep_text)


def decode_record(raw: bytes, *, source: str, times: EventTimes, now: float,
                  keep_text: bool = False) -> ServiceEvent | DeadLetter:
    """One JSON event: the event, or its dead letter (``reason``, ``field``, ``source``, ``raw``)."""
    try:
        ev = decode_event(raw)
    except InvalidEvent as err:
        return _letter(err, source, raw, keep_text)
    except Exception as err:
        return _letter(_unexpected(err), source, raw, keep_text)
    bad = _out_of_range([ev], times, now, batch=False)
    return ev if bad is None else _letter(bad, source, raw, keep_text)


def decode_entry(raw: bytes, *, source: str, times: EventTimes, now: float,
                 keep_text: bool = False) -> list[ServiceEvent | DeadLetter]:
    """A stream entry (one event or an array of them): each event, or its dead letter when its ``ts`` is out of
    range (holding that event alone); one dead letter for an entry that is not events."""
    got = _decode_batch(raw)
    if isinstance(got, InvalidEvent):
        where = f"event[{got.index}]: " if got.index is not None else ""
        return [dead_letter(reason=where + got.reason, field=got.field, source=source, raw=raw, keep_text=keep_text)]
    out: list[ServiceEvent | DeadLetter] = []
    for ev in got:
        why = times.refusal(ev.ts.timestamp(), now)
        out.append(ev if why is None else dead_letter(reason=why, field="ts", source=source, raw=encode(ev),
                                                           keep_text=keep_text))
    return out


def decode_mapped(obj: dict[str, Any], *, source: str, raw: bytes, times: EventTimes,
                  now: float, keep_text: bool = False) -> ServiceEvent | DeadLetter:
    """An event built as a dict (a webhook adapter's): the event, or a dead letter holding the delivery ``raw``."""
    try:
        ev = event_from_dict(obj)
    except InvalidEvent as err:
        return _letter(InvalidEvent(err.field, f"invalid event: {err}"), source, raw, keep_text)
    except Exception as err:
        return _letter(_unexpected(err), source, raw, keep_text)
    bad = _out_of_range([ev], times, now, batch=False)
    return ev if bad is None else _letter(bad, source, raw, keep_text)
