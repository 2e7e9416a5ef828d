"""The per-partition step as a plain function: bad input, lateness, dedupe, durations, eviction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from sqm.config import Settings
from streams.partition import Chunk, Params, PartitionState, process

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
P = Params.of(Settings())


def ev(eid: str, kind: str, sec: float, cid: str = "c1", **extra) -> dict:
    return {"event_id": eid, "type": kind, "ts": (T0 + timedelta(seconds=sec)).isoformat(), "contact_id": cid,
            "team": "billing", "channel": "chat", "region": "east", **extra}


def chunk(*events: dict | bytes) -> Chunk:
    return Chunk("0", [(f"1-{i}".encode(), e if isinstance(e, bytes) else orjson.dumps(e)) for i, e in enumerate(events)])


def total(deltas, name: str) -> float:
    return sum(getattr(acc, name) for acc in deltas.values())


def test_bad_records_go_to_the_dead_letter_stream_with_field_and_reason() -> None:
    st = PartitionState("")
    out = process(st, chunk(b"{not json", orjson.dumps(ev("e1", "contact.created", 0) | {"ts": "2026-03-02T09:00:00"}),
                            orjson.dumps(ev("e2", "contact.exploded", 0)), ev("e3", "survey.csat", 1, score=9),
                            ev("e4", "contact.created", 2)), P, wall=1000.0)
    assert [d["field"] for d in out.dlq] == ["", "ts", "type", "score"]
    assert "not valid JSON" in out.dlq[0]["reason"] and "timezone" in out.dlq[1]["reason"]
    assert out.dlq[0]["raw"] == b"{not json" and out.dlq[0]["source"] == "0/1-0"
    assert out.stats["invalid"] == 4 and out.stats["events"] == 1
    assert total(out.deltas, "created") == 1


def test_late_events_are_counted_and_dead_lettered_never_bucketed() -> None:
    st = PartitionState("")
    process(st, chunk(ev("a", "contact.created", 600, "c1")), P, wall=1000.0)
    out = process(st, chunk(ev("b", "contact.created", 600 - 121, "c2"),  # beyond 120 s: late
                            ev("c", "contact.created", 600 - 119, "c3")), P, wall=1001.0)  # within: counted
    assert out.stats["late"] == 1
    assert [d["field"] for d in out.dlq] == ["ts"] and out.dlq[0]["reason"].startswith("late:")
    assert total(out.deltas, "created") == 1
    assert out.wm == (T0 + timedelta(seconds=600 - 120)).timestamp()


def test_the_same_event_id_twice_counts_once() -> None:
    st = PartitionState("")
    out = process(st, chunk(ev("a", "contact.created", 0), ev("a", "contact.created", 0)), P, wall=1.0)
    out2 = process(st, chunk(ev("a", "contact.created", 0)), P, wall=2.0)
    assert total(out.deltas, "created") == 1 and not out2.deltas
    assert out2.stats["duplicate"] == 2


def test_first_response_time_is_derived_in_either_order() -> None:
    in_order, reversed_ = PartitionState(""), PartitionState("")
    a = process(in_order, chunk(ev("a", "contact.created", 10), ev("b", "contact.first_response", 55)), P, wall=1.0)
    b = process(reversed_, chunk(ev("b", "contact.first_response", 55), ev("a", "contact.created", 10)), P, wall=1.0)
    for out in (a, b):
        assert total(out.deltas, "frt_n") == 1 and total(out.deltas, "frt_sum") == 45.0
        assert total(out.deltas, "closed_late") == 1  # chat target 30 s
        # waiting from minute 0, ended in minute 0: nets to zero; past target from 0:40 to 0:55 — same minute
        assert total(out.deltas, "d_waiting") == 0 and total(out.deltas, "d_over") == 0
    assert not in_order.contacts or min(in_order.done) == int((T0 + timedelta(seconds=55)).timestamp() // 60)


def test_a_contact_still_waiting_counts_as_timed_out_from_the_minute_its_target_passes() -> None:
    st = PartitionState("")
    out = process(st, chunk(ev("a", "contact.created", 50)), P, wall=1.0)  # target 30 s → past it at 1:20
    m0 = int((T0.timestamp() + 50) // 60)
    assert out.deltas[(m0, ("billing", "chat", "east"))].d_waiting == 1
    assert out.deltas[(m0 + 1, ("billing", "chat", "east"))].d_over == 1
    out = process(st, chunk(ev("b", "contact.first_response", 200)), P, wall=2.0)  # answered in minute 3
    assert out.deltas[(m0 + 3, ("billing", "chat", "east"))].d_over == -1


def test_idle_partition_advances_its_watermark_on_system_time() -> None:
    st = PartitionState("")
    out = process(st, chunk(ev("a", "contact.created", 0)), P, wall=1000.0)
    wm0 = out.wm
    assert process(st, Chunk("0", []), P, wall=1000.0 + P.idle_close).wm == wm0
    assert process(st, Chunk("0", []), P, wall=1000.0 + P.idle_close + 30).wm == wm0 + 30
    # a new event does not move it back
    assert process(st, chunk(ev("b", "contact.created", 1)), P, wall=1040.0).wm >= wm0 + 30


def test_finished_contacts_and_old_dedupe_ids_are_forgotten() -> None:
    st = PartitionState("")
    process(st, chunk(ev("a", "contact.created", 0), ev("b", "contact.first_response", 5)), P, wall=1.0)
    assert "c1" in st.contacts
    process(st, chunk(ev("m", "contact.created", 5 * 3600, "c5")), P, wall=2.0)
    process(st, chunk(ev("z", "contact.created", 7 * 3600, "c9")), P, wall=3.0)
    assert "c1" not in st.contacts and "c9" in st.contacts
    out = process(st, chunk(ev("a", "contact.created", 7 * 3600 + 1, "c1")), P, wall=4.0)
    assert out.stats["duplicate"] == 1  # 7 h later, within twice the 6 h dedupe horizon: still known
    process(st, chunk(ev("y", "contact.created", 13 * 3600, "c8")), P, wall=5.0)
    out = process(st, chunk(ev("a", "contact.created", 13 * 3600 + 1, "c1")), P, wall=6.0)
    assert out.stats["duplicate"] == 1 and out.stats["events"] == 6  # forgotten: counted again


def test_a_contact_waiting_past_the_max_age_stops_counting_as_waiting() -> None:
    p = Params.of(Settings(streams={"contact_max_age_s": 3600.0}))
    st = PartitionState("")
    out = process(st, chunk(ev("a", "contact.created", 0)), p, wall=1.0)
    assert total(out.deltas, "d_waiting") == 1 and total(out.deltas, "d_over") == 1
    out = process(st, chunk(ev("z", "contact.created", 3 * 3600, "c9")), p, wall=2.0)
    assert "c1" not in st.contacts
    assert total(out.deltas, "d_waiting") == 0 and total(out.deltas, "d_over") == 0  # c9 +1, c1 -1


def test_a_contact_counts_once_toward_timeouts_in_the_minute_its_wait_passes_the_target() -> None:
    """A chat contact (target 30 s) still waiting for minutes is late once, not in every minute it waits; the
    answer that finally comes does not count it again. Another, answered in 10 s, is in time in its minute."""
    from streams.rollup import RollupState, close_minutes

    st = PartitionState("")
    out = process(st, chunk(ev("a", "contact.created", 0, "slow"), ev("b", "contact.created", 60, "fast"),
                            ev("c", "contact.first_response", 70, "fast"),
                            ev("d", "contact.first_response", 300, "slow")), P, wall=1.0)
    roll = RollupState(partitions=["0"])
    roll.add("0", (T0 + timedelta(minutes=10)).timestamp(), out.deltas, {})
    minutes = close_minutes(roll)
    one = [next(s for s in m.snapshots if s.window == "1m" and s.dims == ("*", "*", "*")) for m in minutes]
    assert [(s.kpis["timeout_rate"], s.n["timeout_rate"]) for s in one[:6]] == [
        (1.0, 1), (0.0, 1), (None, 0), (None, 0), (None, 0), (None, 0)]  # passed at 0:30; answered at 5:00
    hour = next(s for s in minutes[-1].snapshots if s.window == "60m" and s.dims == ("*", "*", "*"))
    assert (hour.kpis["timeout_rate"], hour.n["timeout_rate"]) == (0.5, 2)
