"""Leases: a claim is exclusive, only its holder renews it, and a heartbeat keeps a slow send's claim."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from alerts.channels import Sender
from alerts.lease import LeaseKeeper, Schedule
from alerts.outbox import Outbox
from sqm.clock import ManualClock, SystemClock
from tests.alerts.factories import T0, settings

KEY = "test:schedule"


def test_a_claim_is_exclusive_until_its_lease_ends(redis):
    sched = Schedule(redis, KEY)
    redis.zadd(KEY, {"a": T0.timestamp(), "b": T0.timestamp(), "later": T0.timestamp() + 60})
    assert sched.claim_due(T0, 10, 100) == {"a": T0.timestamp() + 10, "b": T0.timestamp() + 10}
    assert sched.claim_due(T0 + timedelta(seconds=9), 10, 100) == {}  # held by the first claimer
    assert set(sched.claim_due(T0 + timedelta(seconds=10), 10, 1)) <= {"a", "b"}  # lease over; limit 1
    assert len(sched.claim_due(T0 + timedelta(seconds=10), 10, 100)) == 1


def test_only_the_holder_of_a_claim_renews_it(redis):
    sched = Schedule(redis, KEY)
    redis.zadd(KEY, {"n": T0.timestamp()})
    first = sched.claim_due(T0, 10, 100)
    second = sched.claim_due(T0 + timedelta(seconds=11), 10, 100)  # the first claimer stalled past its lease
    assert sched.renew(first, T0.timestamp() + 30) == set()  # its token is stale: it may not take the claim back
    assert sched.renew(second, T0.timestamp() + 40) == {"n"}
    assert redis.zscore(KEY, "n") == T0.timestamp() + 40
    redis.zrem(KEY, "n")  # done: a renewal after the result is written must not bring it back
    assert sched.renew({"n": T0.timestamp() + 40}, T0.timestamp() + 50) == set() and redis.zcard(KEY) == 0


def test_the_heartbeat_keeps_a_claim_past_its_lease_and_stops_when_released(redis):
    sched = Schedule(redis, KEY)
    clock = SystemClock()
    redis.zadd(KEY, {"n": clock.now().timestamp()})
    keeper = LeaseKeeper(sched, 0.6, clock.now)
    keeper.hold(sched.claim_due(clock.now(), 0.6, 10))
    time.sleep(1.5)  # 2.5 leases
    assert sched.claim_due(clock.now(), 0.6, 10) == {}  # still ours
    assert keeper.renew_now(["n"]) == {"n"}
    keeper.release(["n"])
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "sqm-lease"]  # no heartbeat without claims
    time.sleep(0.7)
    assert list(sched.claim_due(clock.now(), 0.6, 10)) == ["n"]  # released: the lease runs out
    keeper.close()


def test_a_lost_claim_is_not_renewed_and_its_work_is_left_to_the_new_holder(redis):
    sched = Schedule(redis, KEY)
    clock = ManualClock(T0)
    redis.zadd(KEY, {"n": T0.timestamp()})
    keeper = LeaseKeeper(sched, 10, clock.now, every_s=3600)
    keeper.hold(sched.claim_due(T0, 10, 10))
    sched.claim_due(T0 + timedelta(seconds=11), 10, 10)  # another alerter, after our lease ran out
    assert keeper.renew_now(["n"]) == set()
    assert redis.zscore(KEY, "n") == T0.timestamp() + 21  # the other claim stands
    keeper.close()


def test_a_send_slower_than_its_lease_is_sent_once_while_another_alerter_keeps_claiming(redis, slow_receiver):
    slow_receiver.answer_s = 4.0  # four leases
    cfg = settings(receivers=[{"name": "ops", "urls": [f"json://{slow_receiver.url}/hook"], "language": "en"}],
                   route={"receiver": "ops"}, send_lease_s=1.0, timeout_s=0.5).alerts
    clock = SystemClock()
    outboxes = [Outbox(redis, cfg, sender=Sender(timeout_s=cfg.timeout_s), consumer=name, now=clock.now, workers=2)
                for name in ("a", "b")]
    (nid,) = outboxes[0].enqueue("ops", kind="test", id_parts=("slow",), title="t", ctx={}, lang="en", reason="test",
                                 now=clock.now())
    deadline = time.monotonic() + slow_receiver.answer_s + 3 * cfg.send_lease_s
    while time.monotonic() < deadline:  # both alerters claim whatever is due, every 50 ms
        for box in outboxes:
            box.process(wait=False)
        time.sleep(0.05)
    for box in outboxes:
        box.wait_idle()
        box.close()
    assert len(slow_receiver.tries) == 1
    note = outboxes[0].get(nid)
    assert note.status == "delivered" and len(note.attempts) == 1 and note.attempts[0].latency_ms > 3500
