"""The one decode path of every entry point: bytes in, events or dead letters out, never an exception.

HTTP ingest (JSON and NDJSON), helpdesk webhooks, ``sqm replay`` and the dataflow's
source all turn what they were sent into ``ServiceEvent`` values here:

- ``decode_batch(raw)``: one event or a JSON array, all or nothing (HTTP ingest): the
  events, or the ``InvalidEvent`` naming the first bad one (returned, not raised).
- ``decode_record(raw, source=)``: one event (a replay line): the event, or its dead letter.
- ``decode_entry(raw, source=)``: a stream entry (one event or an array): each event or
  its dead letter (the whole entry as one letter when it is not events at all).
- ``decode_mapped(obj, source=, raw=)``: an event a webhook adapter built as a dict.

A dead letter keeps what customers wrote only with ``keep_text`` (``text.keep_raw``).

Each is total: whatever the bytes (invalid UTF-8, any JSON, hostile names), the
answer is a value; a property test feeds them arbitrary bytes and JSON.
"""

from __future__ import annotations

from typing import Any

from sqm.errors import InvalidEvent
from sqm.eventlog import DeadLetter, dead_letter
from sqm.models import ServiceEvent, decode_event, decode_events, event_from_dict


def _unexpected(err: Exception) -> InvalidEvent:
    # the decoders name every failure they know; anything else still becomes a reason, never a crash
    return InvalidEvent("", f"undecodable record ({type(err).__name__}: {err})")


def decode_batch(raw: bytes) -> list[ServiceEvent] | InvalidEvent:
    """One event or a JSON array of events, all or nothing: the events, or why not (naming the event and field)."""
    try:
        return decode_events(raw)
    except InvalidEvent as err:
        return err
    except Exception as err:
        return _unexpected(err)


def _letter(err: InvalidEvent, source: str, raw: bytes, keep_text: bool) -> DeadLetter:
    return dead_letter(reason=err.reason, field=err.field, source=source, raw=raw, keep_text=keep_text)


def decode_record(raw: bytes, *, source: str, keep_text: bool = False) -> ServiceEvent | DeadLetter:
    """One JSON event: the event, or its dead letter (``reason``, ``field``, ``source``, ``raw``)."""
    try:
        return decode_event(raw)
    except InvalidEvent as err:
        return _letter(err, source, raw, keep_text)
    except Exception as err:
        return _letter(_unexpected(err), source, raw, keep_text)


def decode_entry(raw: bytes, *, source: str, keep_text: bool = False) -> list[ServiceEvent | DeadLetter]:
    """A stream entry (one event or an array of them): each event, or one dead letter for an entry that is not events."""
    got = decode_batch(raw)
    if isinstance(got, InvalidEvent):
        where = f"event[{got.index}]: " if got.index is not None else ""
        return [dead_letter(reason=where + got.reason, field=got.field, source=source, raw=raw, keep_text=keep_text)]
    return list(got)



def decode_mapped(obj: dict[str, Any], *, source: str, raw: bytes, keep_text: bool = False) -> ServiceEvent | DeadLetter:
    """An event built as a dict (a webhook adapter's): the event, or a dead letter holding the delivery ``raw``."""
    try:
        return event_from_dict(obj)
    except InvalidEvent as err:
        return _letter(InvalidEvent(err.field, f"invalid event: {err}"), source, raw, keep_text)
    except Exception as err:
        return _letter(_unexpected(err), source, raw, keep_text)
