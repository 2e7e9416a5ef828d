"""Hypothesis strategies shared by the property tests: any JSON, any bytes, events with hostile fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

VALID_EVENT: dict[str, Any] = {
    "event_id": "e-1", "type": "contact.created", "ts": "2026-03-02T09:15:00+08:00",
    "contact_id": "c-1", "team": "billing", "channel": "chat",
}

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=40))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids,
                                                                                              max_size=6),
                           max_leaves=25)
"""Any JSON value (numbers of any size, any unicode text)."""

hostile_text = st.sampled_from(["\x00", "\x1b[31m", "\u202e", "\ud800", "\u200b", "a b", "", "x" * 300, "\n"]) | st.text()


def mutated(base: dict[str, Any], keys: list[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some of its fields (or of ``keys``) replaced by arbitrary JSON values, or dropped."""
    names = keys or list(base)
    replacement = st.one_of(json_values, hostile_text, st.just(None))
    return st.dictionaries(st.sampled_from(names), replacement, max_size=len(names)).map(
        lambda over: {k: v for k, v in {**base, **over}.items() if v is not None})


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON bytes of ``values``, sometimes with a byte sequence that is not UTF-8 spliced into a string."""
    def splice(raw: bytes, junk: bytes, where: int) -> bytes:
        quotes = [i for i, b in enumerate(raw) if b == ord('"')]
        if not quotes:
            return raw
        at = quotes[where % len(quotes)] + 1
        return raw[:at] + junk + raw[at:]

    plain = values.map(lambda v: json.dumps(v).encode())  # ASCII: a lone surrogate becomes \\ud800
    junk = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80abc", b"\\ud800"])
    return plain | st.builds(splice, plain, junk, st.integers(0, 50))


any_bytes = st.binary(max_size=300)
