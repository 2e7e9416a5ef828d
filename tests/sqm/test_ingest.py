"""The one decode path (``sqm.ingest``): any bytes give events or dead letters, never an exception."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqm.ingest import ANY_TIME, EventTimes, decode_batch, decode_entry, decode_record
from sqm.models import ServiceEvent, decode_event, encode
from tests.strategies import VALID_EVENT, any_bytes, encoded, json_values, mutated

NOW = 1772416800.0  # 2026-03-02T02:00:00Z
T = {"times": ANY_TIME, "now": NOW}
BAD_UTF8 = b'{"event_id": "e-\xff", "type": "contact.created", "ts": "2026-03-02T09:15:00+08:00", ' \
           b'"contact_id": "c-1", "team": "billing", "channel": "chat"}'


def test_invalid_utf8_inside_a_string_is_a_dead_letter_naming_the_reason():
    letter = decode_record(BAD_UTF8, source="test:1", **T)
    assert not isinstance(letter, ServiceEvent)
    assert "UTF-8" in letter["reason"] and letter["source"] == "test:1" and letter["raw"] == BAD_UTF8
    batch = decode_batch(b"[" + BAD_UTF8 + b"]", **T)
    assert not isinstance(batch, list) and "UTF-8" in batch.reason


def test_a_good_record_is_its_event():
    raw = msgspec.json.encode(VALID_EVENT)
    ev = decode_record(raw, source="test:1", **T)
    assert ev == decode_event(raw)
    assert decode_batch(b"[" + raw + b"," + raw + b"]", **T) == [ev, ev]
    assert decode_entry(raw, source="0001/1-0", **T) == [ev]


def test_an_entry_that_is_not_events_is_one_letter():
    [whole] = decode_entry(b"[oops", source="0001/2-0", **T)
    assert not isinstance(whole, ServiceEvent) and whole["reason"].startswith("not valid JSON")
    assert whole["source"] == "0001/2-0" and whole["raw"] == b"[oops"
    [second] = decode_entry(msgspec.json.encode([VALID_EVENT, {**VALID_EVENT, "team": ""}]), source="0001/3-0", **T)
    assert not isinstance(second, ServiceEvent) and second["field"] == "team" and second["reason"].startswith("event[1]")


def _check_total(raw: bytes) -> None:
    one = decode_record(raw, source="prop", **T)
    if isinstance(one, ServiceEvent):
        assert decode_event(encode(one)) == one
    else:
        assert isinstance(one["reason"], str) and one["reason"] and isinstance(one["field"], str)
    batch = decode_batch(raw, **T)
    assert isinstance(batch, list) or batch.reason
    for item in decode_entry(raw, source="prop", **T):
        assert isinstance(item, ServiceEvent) or item["reason"]


@given(any_bytes)
def test_any_bytes_decode_to_events_or_dead_letters(raw):
    _check_total(raw)


@given(encoded(json_values | mutated(VALID_EVENT) | st.lists(mutated(VALID_EVENT), max_size=3)))
def test_any_json_and_hostile_events_decode_to_events_or_dead_letters(raw):
    _check_total(raw)


TIMES = EventTimes(max_age_s=7 * 86400, max_ahead_s=300)


@pytest.mark.parametrize(("ts", "words"), [
    ("1970-01-01T00:00:00Z", "older than the accepted history"), ("9999-12-31T23:59:59Z", "ahead of now"),
    ("2100-01-01T00:00:00+08:00", "ahead of now"), ("2026-03-02T02:10:00Z", "ahead of now"),
    ("2026-02-20T00:00:00Z", "older than the accepted history"),
])
def test_a_ts_outside_the_accepted_range_is_refused_naming_ts(ts, words):
    raw = msgspec.json.encode({**VALID_EVENT, "ts": ts})
    letter = decode_record(raw, source="r:1", times=TIMES, now=NOW)
    assert not isinstance(letter, ServiceEvent) and letter["field"] == "ts" and words in letter["reason"]
    refused = decode_batch(b"[" + msgspec.json.encode(VALID_EVENT) + b"," + raw + b"]", times=TIMES, now=NOW)
    assert not isinstance(refused, list) and refused.field == "ts" and refused.index == 1
    good, late = decode_entry(msgspec.json.encode([VALID_EVENT, {**VALID_EVENT, "event_id": "x", "ts": ts}]),
                              source="0001/1-0", times=TIMES, now=NOW)
    assert isinstance(good, ServiceEvent)
    assert not isinstance(late, ServiceEvent) and late["field"] == "ts" and b'"x"' in late["raw"]


def test_the_edges_of_the_range_are_accepted():
    for ts in ("2026-02-23T02:00:01Z", "2026-03-02T02:04:59Z"):
        raw = msgspec.json.encode({**VALID_EVENT, "ts": ts})
        assert isinstance(decode_record(raw, source="r", times=TIMES, now=NOW), ServiceEvent), ts


@pytest.mark.parametrize("name", ["\x00", "bill\x1b[31m", "\u202ebilling", "team\u200b", "\x7f", "a\ue000"])
def test_names_must_be_printable(name):
    raw = msgspec.json.encode({**VALID_EVENT, "team": name})
    letter = decode_record(raw, source="t", **T)
    assert not isinstance(letter, ServiceEvent) and letter["field"] == "team" and "printable" in letter["reason"]
