"""The flow's outputs besides KPIs: dead letters, late events, anomalies, the hot-store layout."""

from __future__ import annotations

from datetime import timedelta

import orjson

from sim.simulator import write_stream
from sqm.config import Settings
from sqm.keys import ANOMALIES, DLQ, KPI_LIVE, events_stream, kpi_history, kpi_latest, partition_for
from sqm.models import ServiceEvent, decode_anomaly, decode_snapshot, encode
from streams.sinks import write_anomalies
from tests.streams.helpers import START, StandInMonitor, run_until, stats


def created(i: int, sec: float, team: str = "billing") -> ServiceEvent:
    return ServiceEvent(event_id=f"{team}{i}", type="contact.created", ts=START + timedelta(seconds=sec),
                        contact_id=f"c{i}", team=team, channel="chat", region="east")


def test_bad_and_late_records_are_dead_lettered_and_the_flow_goes_on(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path)
    key = events_stream(partition_for("billing", settings.streams.partitions))
    write_stream(redis, [created(i, 30 * i) for i in range(20)], settings.streams.partitions)  # to 9:30
    redis.xadd(key, {"e": b"{oops"})
    redis.xadd(key, {"e": orjson.dumps({"event_id": "x", "type": "contact.created", "ts": "2026-03-02T01:00:00"})})
    redis.xadd(key, {"nofield": b"1"})
    write_stream(redis, [created(100, 60)], settings.streams.partitions)  # 8.5 min behind: late
    write_stream(redis, [created(i, 30 * i) for i in range(20, 30)], settings.streams.partitions)  # flow goes on
    done = (START + timedelta(minutes=12)).timestamp()
    run_until(settings, redis_url, redis, lambda st: st.get("closed_until", 0) >= done)
    st = stats(redis)
    assert st["events"] == 30 and st["invalid"] == 3 and st["late"] == 1
    dead = [{k.decode(): v for k, v in fields.items()} for _, fields in redis.xrange(DLQ)]
    assert [d["field"] for d in dead] == [b"", b"ts", b"", b"ts"]
    assert b"not valid JSON" in dead[0]["reason"] and dead[0]["raw"] == b"{oops"
    assert b"timezone" in dead[1]["reason"]
    assert dead[3]["reason"].startswith(b"late:") and orjson.loads(dead[3]["raw"])["event_id"] == "billing100"
    vol = decode_snapshot(redis.hget(kpi_latest("1m"), "billing|*|*"))
    assert vol.kpis["volume"] == 2.0  # the late event is not in any window


def test_anomalies_reach_the_stream_once_with_children(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path, detectors={"window": "1m"})
    feed = [created(i, 20 * i, team) for i in range(40) for team in ("billing", "tech") if i % 2 == 0]
    feed += [created(1000 + i, 20 * i, "tech") for i in range(40)]
    write_stream(redis, sorted(feed, key=lambda e: e.ts), settings.streams.partitions)
    monitors: list[StandInMonitor] = []

    def factory() -> StandInMonitor:
        monitors.append(StandInMonitor(limit=2.5))
        return monitors[-1]

    done = (START + timedelta(minutes=10)).timestamp()
    pubsub = redis.pubsub()
    pubsub.subscribe(KPI_LIVE)
    run_until(settings, redis_url, redis, lambda st: st.get("closed_until", 0) >= done, monitor_factory=factory)
    assert stats(redis)["late"] == 0
    found = [decode_anomaly(f[b"a"]) for _, f in redis.xrange(ANOMALIES)]
    assert found and all(a.detector == "stand-in" and a.value > 2.5 and a.window == "1m" for a in found)
    assert {a.team for a in found} == {"tech", "*"}  # billing has 1.5 contacts a minute, tech 4.5
    seen = {sid: n for m in monitors for sid, n in m.seen}
    assert seen["1m|*|*|*"] == 2 and seen["1m|tech|*|*"] == 1 and seen["1m|tech|chat|east"] == 0
    assert write_anomalies(redis, found) == 0  # replayed after a restart: not added again
    assert redis.xlen(ANOMALIES) == len(found)
    # hot store: latest per window and dims, one history member per window start, live messages
    latest = redis.hgetall(kpi_latest("60m"))
    assert {b"*|*|*", b"tech|*|*", b"tech|chat|east", b"*|chat|*", b"*|*|east"} <= set(latest)
    hist = [decode_snapshot(raw) for raw in redis.zrange(kpi_history("1m|*|*|*"), 0, -1, withscores=False)]
    assert [h.start for h in hist] == [START + timedelta(minutes=i) for i in range(len(hist))] and len(hist) >= 10
    messages = []
    while (msg := pubsub.get_message(timeout=0.1)) is not None:
        if msg["type"] == "message":
            messages.extend(orjson.loads(msg["data"]))
    pubsub.close()
    assert messages == [] or {"window", "kpis", "n"} <= set(messages[0])
    assert encode(hist[0])  # round-trips


def test_a_sink_write_is_retried_while_redis_is_unreachable() -> None:
    import pytest
    import redis as redis_lib

    from streams.sinks import RETRY_S, retrying

    calls, pauses = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise redis_lib.ConnectionError("down")
        return "written"

    assert retrying("test", flaky, sleep=pauses.append) == "written"
    assert pauses == list(RETRY_S[:2])

    def down() -> None:
        raise redis_lib.ConnectionError("down")

    with pytest.raises(redis_lib.ConnectionError):
        retrying("test", down, sleep=pauses.append)


class _BrokenOnce(StandInMonitor):
    """Fails on its first window, as a monitor resumed from an older sqm's state might."""

    def update(self, snapshot, children=()):
        if not self.seen:
            self.seen.append(("broken", 0))
            raise AttributeError("'_Track' object has no attribute 'rhythm'")
        return super().update(snapshot, children)


def test_a_failing_monitor_is_replaced_and_the_flow_goes_on(redis, redis_url, tmp_path, caplog) -> None:
    settings = Settings(state_dir=tmp_path, detectors={"window": "1m"})
    write_stream(redis, [created(i, 10 * i, "tech") for i in range(60)], settings.streams.partitions)
    monitors: list[StandInMonitor] = []

    def factory() -> StandInMonitor:
        monitors.append(_BrokenOnce(limit=2.5) if len(monitors) % 2 == 0 else StandInMonitor(limit=2.5))
        return monitors[-1]

    done = (START + timedelta(minutes=8)).timestamp()
    run_until(settings, redis_url, redis, lambda st: st.get("closed_until", 0) >= done, monitor_factory=factory)
    assert "'_Track' object has no attribute 'rhythm'" in caplog.text and "learning again" in caplog.text
    found = [decode_anomaly(f[b"a"]) for _, f in redis.xrange(ANOMALIES)]
    assert ("tech", "*", "*") in {(a.team, a.channel, a.region) for a in found}  # its replacement fires (6 a minute)
    assert decode_snapshot(redis.hget(kpi_latest("1m"), "tech|*|*")).kpis["volume"] == 6.0


def test_with_an_evidence_window_each_monitor_gets_its_minutes_before_its_window(redis, redis_url, tmp_path) -> None:
    """``detectors.evidence_window: 1m``: the monitor of ``5m|tech|*|*`` also gets tech's final 1-minute
    snapshots (no children), each just before the detector window's snapshot that ends with it."""
    settings = Settings(state_dir=tmp_path, detectors={"window": "5m", "evidence_window": "1m"})
    write_stream(redis, [created(i, 10 * i, "tech") for i in range(100)], settings.streams.partitions)
    monitors: list[StandInMonitor] = []

    def factory() -> StandInMonitor:
        monitors.append(StandInMonitor())
        return monitors[-1]

    done = (START + timedelta(minutes=11)).timestamp()
    run_until(settings, redis_url, redis, lambda st: st.get("closed_until", 0) >= done, monitor_factory=factory)
    tech = [m for m in monitors if any(sid == "5m|tech|*|*" for sid, _ in m.seen)]
    assert len(tech) == 1, [m.seen[:2] for m in monitors]
    got = [(sid.split("|", 1)[0], end, kids) for (sid, kids), end in zip(tech[0].seen, tech[0].ends, strict=True)]
    assert {sid.split("|", 1)[1] for sid, _ in tech[0].seen} == {"tech|*|*"}  # only its own dimensions
    minutes = [end for w, end, _ in got if w == "1m"]
    windows = [(end, kids) for w, end, kids in got if w == "5m"]
    at = [(START + timedelta(minutes=m)).timestamp() for m in range(1, 12)]
    assert minutes[: len(at)] == at
    assert [end for end, _ in windows][:2] == [at[4], at[9]]
    assert all(kids > 0 for _, kids in windows)  # tech's channels and regions, for the drill-down
    assert all(kids == 0 for w, _, kids in got if w == "1m")
    for end, kids in windows[:2]:  # the minute ending with the window came just before it
        i = got.index(("5m", end, kids))
        assert got[i - 1][:2] == ("1m", end)
