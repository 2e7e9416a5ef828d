"""Redis near maxmemory: a batch is written whole or not at all; the guard reads INFO at most once per ttl."""

from __future__ import annotations

import pytest
import redis as redis_lib

from sqm.eventlog import append_events
from sqm.keys import events_stream
from sqm.models import ServiceEvent, event_from_dict
from sqm.store import MemoryGuard, memory_info, policy_problem


def batch(n_per_team: int, tag: str = "") -> list[ServiceEvent]:
    return [event_from_dict({"event_id": f"{tag}{t}-{i}", "type": "contact.created", "ts": "2026-03-02T09:00:00+08:00",
                             "contact_id": f"c{i}", "team": t, "channel": "chat", "text": "x" * 100})
            for t in ("billing", "tech", "sales", "vip") for i in range(n_per_team)]


def written(client: redis_lib.Redis, partitions: int = 4) -> int:
    return sum(client.xlen(events_stream(p)) for p in range(partitions))


def info_calls(client: redis_lib.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_info", {}).get("calls", 0))


def test_a_batch_that_crosses_maxmemory_is_written_whole_or_not_at_all(bounded_redis):
    client = bounded_redis("0")
    used = memory_info(client).used
    client.config_set("maxmemory", used + 400_000)  # the batch needs about 1 MB: it crosses the limit halfway
    events = batch(1000)
    try:
        ids = append_events(client, events, 4)
    except redis_lib.RedisError:
        assert written(client) == 0  # refused: nothing of it
    else:
        assert written(client) == len(ids) == 40
    client.config_set("maxmemory", memory_info(client).used - 1)
    before = written(client)
    with pytest.raises(redis_lib.RedisError, match="maxmemory|OOM|EXECABORT"):
        append_events(client, batch(10, "again-"), 4)
    assert written(client) == before


def test_the_guard_refuses_within_the_headroom_and_reads_info_once_per_ttl(bounded_redis):
    client = bounded_redis("0")
    now = [0.0]
    guard = MemoryGuard(client, headroom=0.2, ttl_s=1.0, clock=lambda: now[0])
    assert guard.refusal() is None  # no maxmemory: nothing to protect
    used = memory_info(client).used
    client.config_set("maxmemory", int(used / 0.9))  # 90 % full: above 80 %
    assert guard.refusal() is None  # still the cached reading
    now[0] = 1.5
    calls = info_calls(client)
    reasons = {guard.refusal() for _ in range(100)}
    assert info_calls(client) - calls == 1 + 1  # one INFO memory for 100 checks (and the commandstats read)
    [reason] = reasons
    assert reason is not None and "90% full" in reason and "80%" in reason
    client.config_set("maxmemory", used * 2)
    now[0] = 3.0
    assert guard.refusal() is None
    assert guard.refusal(incoming=used) is not None  # a body that would take it past the line


def test_evicting_policies_are_named():
    assert policy_problem("noeviction") is None
    for policy in ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl"):
        assert "set maxmemory-policy noeviction" in policy_problem(policy)
