"""The alert engine: anomalies in, notifications out (Alertmanager's pipeline, plus ack and escalation).

    anomaly ──observe──► Alert (Redis, optimistic transaction per fingerprint)
                           │ notify?
                           ▼
                 routing tree ──► groups (members set + due time)
                                        │ tick: flush due groups
                                        ▼
             inhibit → silence → quiet hours → decide (first / resolved / repeat_due / skip)
                                        │
                                        ▼
                       outbox (Redis) ──► channels (Apprise, checked bots, console)

Timers (pending, held resolutions, lapsed acks) and escalation levels are sorted
sets scanned on every tick. Every step is safe to run in two alerters at once:
alert writes are WATCH/MULTI transactions, groups and notifications are claimed
atomically with a lease, and notification ids are derived from (group, step) so a
replayed step is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import msgspec
import redis as redis_lib

from alerts import keys
from alerts.acklink import ack_url, base_url
from alerts.channels import Sender
from alerts.escalation import immediate_levels, mention_of, next_delay, on_duty
from alerts.grouping import GroupState, after_send, decide
from alerts.lifecycle import Change, Policy, acknowledge, due, next_timer, observe
from alerts.messages import Names, alert_view
from alerts.outbox import _CLAIM, Outbox
from alerts.routing import build_tree
from alerts.silences import Silence, inhibited_by, quiet_until, silenced_by
from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.models import Alert, Anomaly, decode_alert, encode

log = logging.getLogger("sqm.alerts")
ACTIVE = f"{keys.P}:active"
"""Set of the fingerprints of alerts not resolved."""

_decode_group = msgspec.json.Decoder(GroupState).decode
_decode_silence = msgspec.json.Decoder(Silence).decode
_RANK = {"info": 0, "warning": 1, "critical": 2}


def _str(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


class Engine:
    def __init__(self, settings: Settings, redis: redis_lib.Redis, *, clock: Clock | None = None,
                 sender: Sender | None = None, console: TextIO | None = None, consumer: str = "sqm-alerter",
                 workers: int = 8) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.redis = redis
        self.clock = clock or SystemClock()
        self.consumer = consumer
        self.tree = build_tree(self.cfg)
        self.policy = Policy.of(self.cfg)
        self.tz = ZoneInfo(self.cfg.timezone)
        self.names = Names({t.name: (t.display, t.display_zh) for t in settings.teams},
                           {c.name: (c.display, c.display_zh) for c in settings.channels}, self.tz)
        self.receivers = {r.name: r for r in self.cfg.receivers}
        self.sender = sender or Sender(timeout_s=self.cfg.timeout_s, console=console)
        self.outbox = Outbox(redis, self.cfg, sender=self.sender, consumer=consumer, now=self.now, workers=workers)
        self._claim = redis.register_script(_CLAIM)
        self._tick_cache: dict[str, Any] = {}

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        self.outbox.close()

    # --- alert state ---------------------------------------------------------------
    def get(self, fp: str) -> Alert | None:
        raw = self.redis.get(keys.alert(fp))
        return decode_alert(raw) if raw else None

    def apply(self, fp: str, fn: Callable[[Alert | None], Change]) -> Change:
        """Run ``fn`` on the stored alert inside an optimistic transaction and store what it returns."""
        key = keys.alert(fp)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    change = fn(decode_alert(raw) if raw else None)
                    alert = change.alert
                    if not change.changed or alert is None:
                        pipe.unwatch()
                        return change
                    pipe.multi()
                    pipe.set(key, encode(alert))
                    pipe.zadd(keys.INDEX, {fp: alert.updated_at.timestamp()})
                    timer = next_timer(alert)
                    if timer is not None:
                        pipe.zadd(keys.TIMERS, {fp: timer.timestamp()})
                    else:
                        pipe.zrem(keys.TIMERS, fp)
                    if alert.state == "resolved":
                        pipe.srem(ACTIVE, fp)
                    else:
                        pipe.sadd(ACTIVE, fp)
                    pipe.execute()
                    return change
                except redis_lib.WatchError:
                    continue

    def handle(self, anomalies: Iterable[Anomaly]) -> list[Change]:
        """Fold anomalies into alerts and let the groups know what changed."""
        out = []
        for anomaly in anomalies:
            now = self.now()
            change = self.apply(anomaly.fingerprint, lambda old, a=anomaly, t=now: self._observe(old, a, t))
            if change.changed:
                log.debug("alert %s: %s", anomaly.fingerprint, change.kind)
                self._after(change, now)
            out.append(change)
        return out

    def _observe(self, old: Alert | None, anomaly: Anomaly, now: datetime) -> Change:
        change = observe(old, anomaly, now, self.policy)
        if change.alert is not None and change.kind in ("firing", "flapping", "pending"):
            seen: dict[str, None] = {}
            for m in self.tree.match(change.alert.labels):
                seen.setdefault(m.receiver, None)
            change.alert.receivers = list(seen)
            if change.kind != "pending" and (policy := self._policy_of(change.alert)) is not None:
                change.alert.escalation_level = immediate_levels(policy)
        return change

    def _after(self, change: Change, now: datetime) -> None:
        alert = change.alert
        assert alert is not None
        if change.notify:
            self._route(alert, now)
        fp = alert.fingerprint
        if change.kind in ("firing", "flapping", "ack_lapsed"):
            self._schedule_escalation(alert, now, lapsed=change.kind == "ack_lapsed")
        elif change.kind in ("resolved", "dropped", "acknowledged"):
            self.redis.zrem(keys.ESCALATIONS, fp)
        if change.kind == "resolved":
            self._expire_silences_of(alert, now)

    def _route(self, alert: Alert, now: datetime) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for m in self.tree.match(alert.labels):
            gk = m.group_key(alert.labels)
            state = GroupState(key=gk, receiver=m.receiver, route=m.path, labels=m.group_labels(alert.labels),
                               group_wait_s=m.timing.group_wait_s, group_interval_s=m.timing.group_interval_s,
                               repeat_interval_s=m.timing.repeat_interval_s, escalation=m.escalation, created_at=now)
            pipe.sadd(keys.group_members(gk), alert.fingerprint)
            pipe.set(keys.group(gk), encode(state), nx=True)
            pipe.zadd(keys.GROUPS, {gk: now.timestamp() + m.timing.group_wait_s}, nx=True)
        pipe.execute()

    # --- the periodic work ---------------------------------------------------------
    def tick(self, *, wait: bool = True) -> dict[str, int]:
        """Everything that is due: timers, escalations, group flushes, then the outbox."""
        self._tick_cache = {}
        done = {"timers": self._run_timers(), "escalations": self._run_escalations(), "groups": self._flush_groups()}
        done["sent"] = self.outbox.process(wait=wait)
        return done

    def next_due(self) -> float | None:
        """Epoch seconds of the earliest scheduled work (None: nothing scheduled)."""
        times = []
        for key in (keys.TIMERS, keys.ESCALATIONS, keys.GROUPS, keys.OUTBOX_DUE):
            got = self.redis.zrange(key, 0, 0, withscores=True)
            if got:
                times.append(got[0][1])
        return min(times) if times else None

    def _due_ids(self, key: str, now: datetime, limit: int = 200, *, claim: bool = True) -> list[str]:
        if not claim:
            return [_str(x) for x in self.redis.zrangebyscore(key, "-inf", now.timestamp(), start=0, num=limit)]
        lease = now.timestamp() + self.cfg.send_lease_s
        return [_str(x) for x in self._claim(keys=[key], args=[now.timestamp(), lease, limit])]

    def _run_timers(self) -> int:
        now = self.now()
        fps = self._due_ids(keys.TIMERS, now, claim=False)
        for fp in fps:
            change = self.apply(fp, lambda a, t=now: due(a, t, self.policy) if a else Change(None, "ignored"))
            if change.changed:
                log.info("alert %s: %s (timer)", fp, change.kind)
                self._after(change, now)
            else:
                timer = next_timer(change.alert) if change.alert else None
                if timer is None or timer <= now:
                    self.redis.zrem(keys.TIMERS, fp)
                else:
                    self.redis.zadd(keys.TIMERS, {fp: timer.timestamp()})
        return len(fps)

    # --- escalation ----------------------------------------------------------------
    def _policy_of(self, alert: Alert) -> Any:
        for m in self.tree.match(alert.labels):
            if m.escalation is not None:
                return self.cfg.escalation_policies[m.escalation]
        return None

    def _schedule_escalation(self, alert: Alert, now: datetime, *, lapsed: bool = False) -> None:
        policy = self._policy_of(alert)
        if policy is None:
            return
        delay = 0.0 if lapsed else next_delay(policy.levels, alert.escalation_level)
        if delay is None or alert.escalation_level >= len(policy.levels):
            return
        self.redis.zadd(keys.ESCALATIONS, {alert.fingerprint: now.timestamp() + delay})

    def _run_escalations(self) -> int:
        now = self.now()
        fps = self._due_ids(keys.ESCALATIONS, now)
        for fp in fps:
            alert = self.get(fp)
            policy = self._policy_of(alert) if alert else None
            if alert is None or policy is None or alert.state != "firing" or alert.escalation_level >= len(policy.levels):
                self.redis.zrem(keys.ESCALATIONS, fp)
                continue
            if self._silences_for(alert.labels, now):
                self.redis.zadd(keys.ESCALATIONS, {fp: now.timestamp() + 60})
                continue
            level_no = alert.escalation_level
            level = policy.levels[level_no]
            person = on_duty(self.cfg.roster, level.role, alert.anomaly.team, now, self.tz)
            route_receiver = next((m.receiver for m in self.tree.match(alert.labels)), self.cfg.route.receiver or "")
            receiver = level.receiver or route_receiver
            who = person.name if person else ""
            ctx = self._ctx("escalation", [alert], [], receiver, now, mentions=mention_of(person),
                            escalation={"role": level.role, "person": who, "level": str(level_no)})
            step = ("escalation", fp, alert.started_at.isoformat(), str(level_no))
            targets = [receiver] + ([person.receiver] if person and person.receiver else [])
            for r in dict.fromkeys(targets):
                self.outbox.enqueue(r, kind="escalation", id_parts=step, title=f"escalation {level.role}: {fp}",
                                    ctx=ctx, lang=self.receivers[r].language, severity=alert.anomaly.severity,
                                    reason="escalation", fingerprints=[fp], now=now)

            def bump(a: Alert | None, lvl: int = level_no, role: str = level.role, name: str = who) -> Change:
                if a is None or a.escalation_level != lvl:
                    return Change(a, "none")
                new = msgspec.structs.replace(a, escalation_level=lvl + 1, timeline=list(a.timeline))
                from sqm.models import TimelineEntry

                new.timeline.append(TimelineEntry(at=now, state=a.state, why=f"escalated to {role} {name}".strip()))
                return Change(new, "escalated")

            change = self.apply(fp, bump)
            delay = next_delay(policy.levels, level_no + 1)
            if change.kind == "escalated" and delay is not None:
                self.redis.zadd(keys.ESCALATIONS, {fp: now.timestamp() + delay})
            else:
                self.redis.zrem(keys.ESCALATIONS, fp)
            log.info("alert %s escalated to level %d (%s %s)", fp, level_no, level.role, who)
        return len(fps)

    # --- groups --------------------------------------------------------------------
    def _flush_groups(self) -> int:
        now = self.now()
        gks = self._due_ids(keys.GROUPS, now, limit=100)
        for gk in gks:
            self._flush(gk, now)
        return len(gks)

    def _flush(self, gk: str, now: datetime) -> None:
        raw = self.redis.get(keys.group(gk))
        if raw is None:
            self.redis.zrem(keys.GROUPS, gk)
            return
        group = _decode_group(raw)
        fps = sorted(_str(x) for x in self.redis.smembers(keys.group_members(gk)))
        raws = self.redis.mget([keys.alert(fp) for fp in fps]) if fps else []
        alerts = [decode_alert(r) for r in raws if r]
        muted, quiet_end = self._mute(alerts, group.receiver, now)
        decision = decide(group, alerts, muted, now, send_resolved=self.cfg.send_resolved)
        log.info("group %s: %s (%d firing, %d resolved, %d muted)", gk, decision.reason, len(decision.firing),
                 len(decision.resolved), len(muted))
        if decision.send:
            mentions = list(self.receivers[group.receiver].mention)
            if group.escalation and decision.firing:
                policy = self.cfg.escalation_policies[group.escalation]
                team = decision.firing[0].anomaly.team
                for level in policy.levels[: immediate_levels(policy)]:
                    mentions += mention_of(on_duty(self.cfg.roster, level.role, team, now, self.tz))
            ctx = self._ctx(decision.reason, decision.firing, decision.resolved, group.receiver, now,
                            mentions=list(dict.fromkeys(mentions)))
            severity = max((a.anomaly.severity for a in decision.firing), key=_RANK.__getitem__, default="info")
            head = (decision.firing or decision.resolved)[0]
            self.outbox.enqueue(group.receiver, kind="digest", id_parts=("digest", gk, str(group.seq)),
                                title=f"{decision.reason}: {head.anomaly.kpi} {head.anomaly.team}/{head.anomaly.channel}",
                                ctx=ctx, lang=self.receivers[group.receiver].language, severity=severity,
                                reason=decision.reason, group_key=gk,
                                fingerprints=[a.fingerprint for a in (*decision.firing, *decision.resolved)], now=now)
        gone = after_send(group, decision, alerts, now)
        gone += [fp for fp, r in zip(fps, raws, strict=True) if r is None]
        self._store_group(group, gone, now, quiet_end)

    def _store_group(self, group: GroupState, gone: Sequence[str], now: datetime, quiet_end: datetime | None) -> None:
        gk = group.key
        members = keys.group_members(gk)
        interval = max(group.group_interval_s, 0.5)
        due = now.timestamp() + interval
        if quiet_end is not None:
            due = min(due, quiet_end.timestamp() + 0.001)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(members)
                    left = pipe.scard(members) - len(set(gone) & {_str(x) for x in pipe.smembers(members)})
                    pipe.multi()
                    if gone:
                        pipe.srem(members, *gone)
                    if left <= 0:
                        pipe.delete(keys.group(gk), members)
                        pipe.zrem(keys.GROUPS, gk)
                    else:
                        pipe.set(keys.group(gk), encode(group))
                        pipe.zadd(keys.GROUPS, {gk: due})
                    pipe.execute()
                    return
                except redis_lib.WatchError:
                    continue

    def _mute(self, alerts: Sequence[Alert], receiver: str, now: datetime) -> tuple[set[str], datetime | None]:
        """Fingerprints held back by silences, inhibition or quiet hours (criticals pass quiet hours)."""
        muted: set[str] = set()
        quiet_end = quiet_until(self.receivers[receiver].quiet_hours, now, self.tz)
        for a in alerts:
            if a.state == "resolved":
                continue
            sil = self._silences_for(a.labels, now)
            inh = inhibited_by(self.cfg.inhibit_rules, a, self._active_alerts()) if self.cfg.inhibit_rules else None
            if sil or inh or (quiet_end is not None and a.anomaly.severity != "critical"):
                muted.add(a.fingerprint)
            if sil != a.silenced_by or inh != a.inhibited_by:
                self.apply(a.fingerprint, lambda old, s=sil, i=inh: self._mark(old, s, i))
        return muted, quiet_end

    @staticmethod
    def _mark(old: Alert | None, sil: list[str], inh: str | None) -> Change:
        if old is None:
            return Change(None, "ignored")
        return Change(msgspec.structs.replace(old, silenced_by=sil, inhibited_by=inh), "muted")

    def _active_alerts(self) -> list[Alert]:
        if "active" not in self._tick_cache:
            fps = sorted(_str(x) for x in self.redis.smembers(ACTIVE))
            raws = self.redis.mget([keys.alert(fp) for fp in fps]) if fps else []
            self._tick_cache["active"] = [decode_alert(r) for r in raws if r]
        return self._tick_cache["active"]

    def _silences(self) -> list[Silence]:
        if "silences" not in self._tick_cache:
            self._tick_cache["silences"] = [_decode_silence(v) for v in self.redis.hvals(keys.SILENCES)]
        return self._tick_cache["silences"]

    def _silences_for(self, labels: dict[str, str], now: datetime) -> list[str]:
        return silenced_by(self._silences(), labels, now)

    def _expire_silences_of(self, alert: Alert, now: datetime) -> None:
        for s in [_decode_silence(v) for v in self.redis.hvals(keys.SILENCES)]:
            if s.expire_when_resolved and s.active(now) and s.matches(alert.labels):
                s.expired_at = now
                self.redis.hset(keys.SILENCES, s.id, encode(s))
                log.info("silence %s expired: %s resolved", s.id, alert.fingerprint)

    def _ctx(self, reason: str, firing: Sequence[Alert], resolved: Sequence[Alert], receiver: str, now: datetime,
             *, mentions: Sequence[str] = (), escalation: dict[str, str] | None = None) -> dict[str, Any]:
        links = {a.fingerprint: ack_url(self.settings, a.fingerprint, now) for a in firing}
        return {  # views in both languages: a fail-over receiver may read the other one
            "reason": reason,
            "firing": {lang: [alert_view(a, lang, self.names, now, links[a.fingerprint]) for a in firing]
                       for lang in ("zh", "en")},
            "resolved": {lang: [alert_view(a, lang, self.names, now) for a in resolved] for lang in ("zh", "en")},
            "mentions": list(mentions),
            "wallboard_url": base_url(self.settings) + self.cfg.wallboard_path,
            "escalation": escalation,
        }

    # --- people --------------------------------------------------------------------
    def acknowledge(self, fp: str, by: str, *, comment: str = "", timeout_s: float | None = None) -> Change:
        now = self.now()
        change = self.apply(fp, lambda a: acknowledge(a, by, now, self.policy, comment=comment, timeout_s=timeout_s)
                            if a else Change(None, "ignored"))
        if change.changed:
            self._after(change, now)
        return change

    def next_wake(self, default: float) -> float:
        """Seconds until the next scheduled work, at most ``default``."""
        nxt = self.next_due()
        if nxt is None:
            return default
        return max(0.0, min(default, nxt - self.now().timestamp()))


def as_timedelta(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
