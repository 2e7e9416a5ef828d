"""Appending validated events to the partitioned event streams.

Used by every producer (HTTP ingest, webhooks, the simulator, replay); the
dataflow's source reads what this writes. An event is acknowledged to its sender
only after ``append_events`` returns: it is then in Redis; when it raises, none of
the batch was written (one transaction). Records that cannot
be events go to the dead-letter stream in one format (``dead_letter``).

The dataflow re-reads a few stream entries after a restart (those since its last
recovery snapshot); ``append_dead_letters`` with ``positions`` writes each of
their dead letters once (see there).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from sqm.keys import (
    DLQ,
    DLQ_POSITIONS,
    EVENTS_PER_ENTRY,
    INGEST_COUNT_TTL_S,
    INGEST_SEEN,
    events_stream,
    ingest_count,
    partition_for,
)
from sqm.models import ServiceEvent, encode

DLQ_MAXLEN = 100_000
"""The dead-letter stream keeps about this many newest records."""
DEAD_LETTER_RAW_MAX = 20_000
"""Bytes of a rejected record kept in its dead letter."""

StreamPosition = tuple[str, str, int]
"""Where a dead letter comes from in an event stream: (stream or partition name, entry id, ordinal of the
letter among that entry's letters)."""


def group_by_partition(events: Iterable[ServiceEvent], partitions: int) -> dict[int, list[ServiceEvent]]:
    """Events per partition, keeping each team's order."""
    out: dict[int, list[ServiceEvent]] = defaultdict(list)
    for ev in events:
        out[partition_for(ev.team, partitions)].append(ev)
    return out


def append_events(redis: Any, events: Sequence[ServiceEvent], partitions: int, *, source: str = "api",
                  now: float | None = None) -> list[bytes]:
    """XADD the events, ``EVENTS_PER_ENTRY`` to an entry, in one MULTI/EXEC transaction; returns the entry ids.

    All or nothing: Redis refuses the whole transaction (EXECABORT, or OOM at EXEC) or runs all of it,
    so an error means no event was written. (A transaction needs every stream on one server: with a
    Redis Cluster the partitions' hash tags would put them on different slots.) The same transaction
    counts the arrival for the heartbeats (``count_arrival``): ``source`` names the producer (``api``,
    ``webhook:zendesk``, ``sim``, ``replay``), ``now`` is the wall clock (epoch s).
    """
    if not events:
        return []
    pipe = redis.pipeline(transaction=True)
    ids = 0
    for p, evs in group_by_partition(events, partitions).items():
        key = events_stream(p)
        for i in range(0, len(evs), EVENTS_PER_ENTRY):
            pipe.xadd(key, {"e": encode(evs[i : i + EVENTS_PER_ENTRY])})
            ids += 1
    count_arrival(pipe, source, {ev.team for ev in events}, time.time() if now is None else now)
    return list(pipe.execute())[:ids]


def count_arrival(pipe: Any, source: str, teams: Iterable[str], now: float) -> None:
    """One arrival of ``source`` and of each team, in the pipeline: the latest time each was seen
    (``sqm:ingest:seen``) and a count in this wall-clock minute (``sqm:ingest:count:<minute>``). One append
    is one arrival however many events it carries: producers batch, and the heartbeats judge silences
    on arrivals (see docs/alerts.md)."""
    fields = [f"source:{source}", *(f"team:{t}" for t in sorted(teams))]
    minute_key = ingest_count(int(now // 60))
    pipe.hset(INGEST_SEEN, mapping=dict.fromkeys(fields, f"{now:.3f}"))
    for f in fields:
        pipe.hincrby(minute_key, f, 1)
    pipe.expire(minute_key, INGEST_COUNT_TTL_S)


DeadLetter = dict[str, str | bytes]
"""One ``sqm:dlq`` record (the fields of its stream entry), made by ``dead_letter``."""


def dead_letter(*, reason: str, field: str, source: str, raw: bytes | str, keep_text: bool = False) -> DeadLetter:
    """One ``sqm:dlq`` record: why (``reason``, ``field``: "" for the whole record), from where (``source``:
    ``<partition>/<entry id>`` for the flow, ``webhook:<name>``, ``replay:<file>:<line>``) and what (``raw``,
    capped at ``DEAD_LETTER_RAW_MAX``). Every producer and the flow build their letters with it. Unless
    ``keep_text`` (``text.keep_raw``), what customers wrote is taken out of ``raw`` first (``without_text``):
    a dead letter outlives the event streams by far.

    >>> dead_letter(reason="not valid JSON", field="", source="0003/1-0", raw=b"{oops")
    {'reason': 'not valid JSON', 'field': '', 'source': '0003/1-0', 'raw': b'{oops'}
    """
    kept = raw if keep_text else without_text(raw)
    return {"reason": reason, "field": field, "source": source, "raw": kept[:DEAD_LETTER_RAW_MAX]}

TEXT_KEYS = frozenset({"text", "content", "feedback_message", "description", "comment"})
"""JSON keys whose string values are what a person wrote: an event's ``text``, a helpdesk's message ``content``,
a survey's ``feedback_message``, a ticket's ``description`` or ``comment``."""


def without_text(raw: bytes | str) -> bytes | str:
    """``raw`` with the string value of every ``TEXT_KEYS`` key, at any depth, replaced by its length.

    A record that is not JSON is returned as it is (it cannot be told apart).

    >>> without_text('{"type": "contact.message", "text": "我要投诉", "n": [{"content": "hi"}]}')
    '{"type":"contact.message","text":"<4 characters removed>","n":[{"content":"<2 characters removed>"}]}'
    >>> without_text(b'{"type": "survey.csat"}'), without_text("not json")
    (b'{"type": "survey.csat"}', 'not json')
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not _strip_text(obj):
        return raw
    out = orjson.dumps(obj)
    return out if isinstance(raw, bytes) else out.decode()


def _strip_text(obj: Any) -> bool:
    """Replace the text values in ``obj`` in place; True if any was."""
    found = False
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in TEXT_KEYS and isinstance(value, str):
                obj[key] = f"<{len(value)} characters removed>"
                found = True
            elif isinstance(value, dict | list):
                found = _strip_text(value) or found
    elif isinstance(obj, list):
        for value in obj:
            found = _strip_text(value) or found
    return found


_ADD_AFTER = """
local pos = redis.call('HGET', KEYS[1], ARGV[1])
if pos then
  local ms, seq, k = string.match(pos, '^(%d+)-(%d+)/(%d+)$')
  ms, seq, k = tonumber(ms), tonumber(seq), tonumber(k)
  local ms2, seq2, k2 = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  if ms2 < ms or (ms2 == ms and (seq2 < seq or (seq2 == seq and k2 <= k))) then
    redis.call('HINCRBY', KEYS[1], 'replayed', 1)
    return false
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '-' .. ARGV[3] .. '/' .. ARGV[4])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))
"""


def append_dead_letters(redis: Any, letters: Iterable[DeadLetter],
                        positions: Iterable[StreamPosition | None] | None = None) -> int:
    """XADD rejected records to ``sqm:dlq`` (capped at about ``DLQ_MAXLEN`` entries) in one pipeline.

    ``positions`` (one per letter, or None for a letter not read from an event
    stream) makes the write idempotent for a reader that re-reads a stream from an
    earlier entry, as the dataflow does after a restart: a letter at or before the
    position last written for its stream (entry id, then ordinal) was written
    before and is skipped (counted in ``DLQ_POSITIONS`` field ``replayed``). The
    check, the XADD and the new position are one Lua script, so a lost connection
    cannot leave one without the other. Letters of one stream must come in stream
    order. Returns how many letters were added.
    """
    letters = list(letters)
    where = [None] * len(letters) if positions is None else list(positions)
    pipe = redis.pipeline(transaction=False)
    for letter, pos in zip(letters, where, strict=True):
        if pos is None:
            pipe.xadd(DLQ, letter, maxlen=DLQ_MAXLEN, approximate=True)
            continue
        stream, entry_id, ordinal = pos
        ms, _, seq = entry_id.partition("-")
        pairs = [x for kv in letter.items() for x in kv]
        pipe.eval(_ADD_AFTER, 2, DLQ_POSITIONS, DLQ, stream, ms, seq or "0", ordinal, DLQ_MAXLEN, *pairs)
    return sum(1 for added in pipe.execute() if added)
