"""AlertStore: the one reader and writer of alert state, used by the engine and the API alike."""

from __future__ import annotations

from datetime import timedelta

from alerts import service
from alerts.grouping import GroupState
from alerts.lifecycle import Change, Policy, observe
from alerts.runner import Alerter
from alerts.silences import new_silence
from alerts.store import AlertStore
from sqm import keys
from sqm.clock import ManualClock
from sqm.models import encode
from tests.alerts.factories import T0, anomaly, settings

BILLING = "swing|timeout_rate|60m|billing|chat|*"
TECH = "swing|timeout_rate|60m|tech|chat|*"
_ANOMALY = ('{{"kpi":"timeout_rate","window":"60m","team":"{team}","channel":"chat","region":"*",'
            '"start":"2026-03-02T01:00:00Z","end":"2026-03-02T02:00:00Z","value":0.35,"expected":0.2,"lower":null,'
            '"upper":null,"change_pct":null,"score":0.0,"n":0,"severity":"warning","direction":"up","detector":"swing",'
            '"status":"firing","incident_start":"2026-03-02T01:57:00Z","reason_en":"","reason_zh":"","contributors":[]}}')
_LABELS = ('{{"kpi":"timeout_rate","window":"60m","team":"{team}","channel":"chat","region":"*","severity":"warning",'
           '"detector":"swing","direction":"up"}}')
WRITTEN_BEFORE = {  # byte for byte what the alerter wrote before the store: one acknowledged, one silenced alert
    keys.alert(BILLING): (
        f'{{"fingerprint":"{BILLING}","state":"acknowledged","labels":{_LABELS.format(team="billing")},'
        f'"anomaly":{_ANOMALY.format(team="billing")},"started_at":"2026-03-02T01:57:00Z",'
        '"updated_at":"2026-03-02T02:00:00Z","resolved_at":null,"acked_by":"li","acked_at":"2026-03-02T02:01:00Z",'
        '"timeline":[{"at":"2026-03-02T02:00:00Z","state":"firing","by":"sqm","why":"timeout_rate 0.35 vs 0.2"},'
        '{"at":"2026-03-02T02:01:00Z","state":"acknowledged","by":"li","why":"on it"}],"sightings":1,'
        '"flapping":false,"hold_until":null,"ack_expires_at":"2026-03-02T03:01:00Z","escalation_level":1,'
        '"receivers":["console"],"silenced_by":[],"inhibited_by":null}').encode(),
    keys.alert(TECH): (
        f'{{"fingerprint":"{TECH}","state":"firing","labels":{_LABELS.format(team="tech")},'
        f'"anomaly":{_ANOMALY.format(team="tech")},"started_at":"2026-03-02T01:57:00Z",'
        '"updated_at":"2026-03-02T02:00:00Z","resolved_at":null,"acked_by":null,"acked_at":null,'
        '"timeline":[{"at":"2026-03-02T02:00:00Z","state":"firing","by":"sqm","why":"timeout_rate 0.35 vs 0.2"},'
        '{"at":"2026-03-02T02:00:00Z","state":"firing","by":"sqm","why":"silenced by 383be12d3ec8"}],"sightings":1,'
        '"flapping":false,"hold_until":null,"ack_expires_at":null,"escalation_level":1,"receivers":["console"],'
        '"silenced_by":["383be12d3ec8"],"inhibited_by":null}').encode(),
}
SILENCE_BEFORE = (b'{"id":"383be12d3ec8","matchers":["team=tech"],"starts_at":"2026-03-02T02:00:00Z",'
                  b'"ends_at":"2026-03-02T03:00:00Z","created_by":"wang","comment":"known",'
                  b'"expire_when_resolved":false,"created_at":"2026-03-02T02:00:00Z","expired_at":null}')


def write_before(redis) -> None:
    redis.mset(WRITTEN_BEFORE)
    redis.zadd(keys.ALERT_INDEX, {BILLING: T0.timestamp(), TECH: T0.timestamp()})
    redis.sadd(keys.ALERT_ACTIVE, BILLING, TECH)
    redis.zadd(keys.ALERT_TIMERS, {BILLING: (T0 + timedelta(minutes=61)).timestamp()})
    redis.zadd(keys.ALERT_ESCALATIONS, {TECH: (T0 + timedelta(minutes=15)).timestamp()})
    redis.hset(keys.SILENCES, "383be12d3ec8", SILENCE_BEFORE)


def test_state_written_before_the_store_reads_back_and_runs_on(redis, http_receiver):
    write_before(redis)
    store = AlertStore(redis)
    acked, silenced = store.get(BILLING), store.get(TECH)
    assert (acked.state, acked.acked_by, acked.ack_expires_at) == ("acknowledged", "li", T0 + timedelta(minutes=61))
    assert silenced.silenced_by == ["383be12d3ec8"] and [a.fingerprint for a in store.active()] == [BILLING, TECH]
    assert [s.id for s in store.silences()] == ["383be12d3ec8"]
    clock = ManualClock(T0 + timedelta(minutes=50))  # tech's escalation is due, its silence still holds
    s = settings(receivers=[{"name": "console"}, {"name": "ops", "urls": [f"json://{http_receiver.url}/x"]}],
                 route={"receiver": "ops", "escalation": "standard"})
    al = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    al.step()
    assert redis.zscore(keys.ALERT_ESCALATIONS, TECH) == (clock.now() + timedelta(minutes=1)).timestamp()
    assert encode(store.get(TECH)) == WRITTEN_BEFORE[keys.alert(TECH)]  # held back: nobody paged, nothing changed
    assert http_receiver.bodies == []
    clock.advance(minutes=12)  # billing's acknowledgement lapsed: its escalation resumes in the same round
    al.step()
    billing = store.get(BILLING)
    assert billing.state == "firing" and billing.escalation_level == 2
    assert [e.why for e in billing.timeline[-2:]] == ["acknowledgement by li lapsed", "escalated to team_lead"]


def test_an_acknowledgement_is_one_transaction_of_the_store(redis):
    write_before(redis)
    redis.zadd(keys.ALERT_ESCALATIONS, {BILLING: T0.timestamp()})  # as if it were due to escalate
    exec_before = redis.info("commandstats").get("cmdstat_exec", {}).get("calls", 0)
    clock = ManualClock(T0 + timedelta(minutes=2))
    alert = service.acknowledge(redis, settings(), TECH, "zhao", comment="calling the vendor", clock=clock)
    assert redis.info("commandstats")["cmdstat_exec"]["calls"] == exec_before + 1
    assert (alert.state, alert.acked_by, alert.timeline[-1].why) == ("acknowledged", "zhao", "calling the vendor")
    assert redis.zscore(keys.ALERT_ESCALATIONS, TECH) is None  # taken off the schedule in the same transaction
    assert redis.zscore(keys.ALERT_TIMERS, TECH) == (clock.now() + timedelta(hours=1)).timestamp()  # the lapse
    assert service.get_alert(redis, TECH) == alert


def test_apply_many_retries_when_another_writer_got_there_first(redis):
    store = AlertStore(redis)
    first = observe(None, anomaly(), T0, Policy()).alert
    store.apply(first.fingerprint, lambda _: Change(first, "firing"))
    calls = []

    def bump(old):
        calls.append(old.sightings)
        if len(calls) == 1:  # another alerter stores its sighting between our read and our write
            redis.set(keys.alert(old.fingerprint), encode(observe(old, anomaly(), T0, Policy()).alert))
        return [observe(old, anomaly(), T0, Policy())]

    store.apply_many({first.fingerprint: bump})
    assert calls == [1, 2] and store.get(first.fingerprint).sightings == 3


def test_groups_are_stored_until_their_last_member_leaves(redis):
    store = AlertStore(redis)
    group = GroupState(key="0|ops|team=billing", receiver="ops", route="0", labels={"team": "billing"},
                       group_wait_s=30, group_interval_s=60, repeat_interval_s=3600, created_at=T0)
    pipe = store.pipeline()
    store.join_group(pipe, group, "a", T0.timestamp() + 30)
    store.join_group(pipe, group, "b", T0.timestamp() + 99)  # joining does not move the first flush
    pipe.execute()
    assert list(store.groups.claim_due(T0 + timedelta(seconds=30), 60, 10)) == [group.key]
    ((gk, loaded, members),) = store.load_groups([group.key])
    assert (gk, loaded, members) == (group.key, group, ["a", "b"])
    for gone, left in ((["a"], ["b"]), (["b"], [])):
        pipe = store.pipeline()
        store.store_group(pipe, group, T0.timestamp() + 60, gone)
        pipe.execute()
        assert store.load_groups([group.key])[0][2] == left
    assert store.load_groups([group.key])[0][1] is None and redis.zcard(keys.ALERT_GROUPS) == 0


def test_expire_when_resolved_silences_end_with_their_alert(redis):
    store = AlertStore(redis)
    keep = new_silence(["team=tech"], T0, T0 + timedelta(hours=1), "wang", expire_when_resolved=True, now=T0)
    end = new_silence(["team=billing"], T0, T0 + timedelta(hours=1), "wang", expire_when_resolved=True, now=T0)
    plain = new_silence(["team=billing"], T0, T0 + timedelta(hours=1), "wang", now=T0)
    for s in (keep, end, plain):
        store.put_silence(s)
    resolved = observe(observe(None, anomaly(), T0, Policy()).alert, anomaly(status="resolved"), T0, Policy()).alert
    assert store.expire_silences_of([resolved], T0 + timedelta(minutes=5)) == [end.id]
    assert store.silence(end.id).expired_at == T0 + timedelta(minutes=5)
    assert store.silence(keep.id).expired_at is None and store.silence(plain.id).expired_at is None
