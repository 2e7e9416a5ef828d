"""Raw text is read in passing: once the flow has run, only the event streams hold it (trimmed by the flow)."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from sim.simulator import Simulator, TextMix, write_stream
from sqm.config import Settings
from sqm.keys import DLQ
from sqm.models import ServiceEvent
from tests.streams.helpers import MORNING, closes, run_until, stats


def values_of(redis, key) -> list:
    """Every value held by one key, whatever its type."""
    kind = redis.type(key).decode()
    if kind == "string":
        return [redis.get(key)]
    if kind == "hash":
        return [v for kv in redis.hgetall(key).items() for v in kv]
    if kind == "zset":
        return redis.zrange(key, 0, -1)
    if kind == "set":
        return list(redis.smembers(key))
    if kind == "list":
        return redis.lrange(key, 0, -1)
    return [v for _, f in redis.xrange(key) for kv in f.items() for v in kv]


def test_no_key_but_the_event_streams_holds_customer_text(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path)
    sim = Simulator(settings, seed=8, start=MORNING, volumes={"billing": 600, "tech": 300}, text=TextMix())
    events = list(sim.events(MORNING + timedelta(minutes=20)))
    texts = {e.text for e in events if e.text}
    assert len(texts) > 20
    first = msgspec.structs.asdict(events[0])  # a message older than the lateness: dead-lettered
    late = ServiceEvent(**{**first, "event_id": "late-1", "type": "contact.message", "author": "customer",
                           "text": "我要投诉，手机号13800000000", "customer_tier": None})
    write_stream(redis, events, settings.streams.partitions)
    write_stream(redis, [late], settings.streams.partitions)
    run_until(settings, redis_url, redis, closes(events, settings))
    assert stats(redis)["late"] == 1
    [(_, letter)] = redis.xrange(DLQ)
    assert b"13800000000" not in letter[b"raw"] and b"characters removed" in letter[b"raw"]
    for key in redis.scan_iter(count=1000):
        name = key.decode()
        if name.startswith("sqm:events:"):
            continue
        blob = values_of(redis, key)
        joined = b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in blob).decode(errors="replace")
        assert not any(t in joined for t in texts), f"{name} holds customer text"
        assert "13800000000" not in joined, name
