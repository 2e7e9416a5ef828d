"""The one decode path (``sqm.ingest``): any bytes give events or dead letters, never an exception."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from sqm.ingest import decode_batch, decode_entry, decode_record
from sqm.models import ServiceEvent, decode_event, encode
from tests.strategies import VALID_EVENT, any_bytes, encoded, json_values, mutated

BAD_UTF8 = b'{"event_id": "e-\xff", "type": "contact.created", "ts": "2026-03-02T09:15:00+08:00", ' \
           b'"contact_id": "c-1", "team": "billing", "channel": "chat"}'


def test_invalid_utf8_inside_a_string_is_a_dead_letter_naming_the_reason():
    letter = decode_record(BAD_UTF8, source="test:1")
    assert not isinstance(letter, ServiceEvent)
    assert "UTF-8" in letter["reason"] and letter["source"] == "test:1" and letter["raw"] == BAD_UTF8
    batch = decode_batch(b"[" + BAD_UTF8 + b"]")
    assert not isinstance(batch, list) and "UTF-8" in batch.reason


def test_a_good_record_is_its_event():
    raw = msgspec.json.encode(VALID_EVENT)
    ev = decode_record(raw, source="test:1")
    assert ev == decode_event(raw)
    assert decode_batch(b"[" + raw + b"," + raw + b"]") == [ev, ev]
    assert decode_entry(raw, source="0001/1-0") == [ev]


def test_an_entry_that_is_not_events_is_one_letter():
    [whole] = decode_entry(b"[oops", source="0001/2-0")
    assert not isinstance(whole, ServiceEvent) and whole["reason"].startswith("not valid JSON")
    assert whole["source"] == "0001/2-0" and whole["raw"] == b"[oops"
    [second] = decode_entry(msgspec.json.encode([VALID_EVENT, {**VALID_EVENT, "team": ""}]), source="0001/3-0")
    assert not isinstance(second, ServiceEvent) and second["field"] == "team" and second["reason"].startswith("event[1]")


def _check_total(raw: bytes) -> None:
    one = decode_record(raw, source="prop")
    if isinstance(one, ServiceEvent):
        assert decode_event(encode(one)) == one
    else:
        assert isinstance(one["reason"], str) and one["reason"] and isinstance(one["field"], str)
    batch = decode_batch(raw)
    assert isinstance(batch, list) or batch.reason
    for item in decode_entry(raw, source="prop"):
        assert isinstance(item, ServiceEvent) or item["reason"]


@given(any_bytes)
def test_any_bytes_decode_to_events_or_dead_letters(raw):
    _check_total(raw)


@given(encoded(json_values | mutated(VALID_EVENT) | st.lists(mutated(VALID_EVENT), max_size=3)))
def test_any_json_and_hostile_events_decode_to_events_or_dead_letters(raw):
    _check_total(raw)
