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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import msgspec
import redis as redis_lib

from alerts.acklink import ack_url, base_url
from alerts.channels import Sender
from alerts.escalation import (
    immediate_levels,
    mention_of,
    next_delay,
    on_duty,
    person_receiver_name,
    person_receivers,
)
from alerts.grouping import GroupState, after_send, decide
from alerts.lifecycle import Change, Policy, acknowledge, due, next_timer, note, observe
from alerts.matchers import matches_all, parse_all
from alerts.messages import Names, alert_view
from alerts.outbox import _CLAIM, Outbox
from alerts.routing import build_tree
from alerts.silences import Silence, inhibited_by, quiet_until, silenced_by
from sqm import keys
from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.models import Alert, Anomaly, decode_alert, encode

log = logging.getLogger("sqm.alerts")

_STORE_GROUP = """
for i = 4, #ARGV do redis.call('SREM', KEYS[1], ARGV[i]) end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
"""
"""Remove the members that left; drop the group when none is left, else store it and schedule its next flush."""
_decode_group = msgspec.json.Decoder(GroupState).decode
_decode_silence = msgspec.json.Decoder(Silence).decode
_RANK = {"info": 0, "warning": 1, "critical": 2}


def _str(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


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
        self.receivers = {r.name: r for r in [*self.cfg.receivers, *person_receivers(self.cfg)]}
        self.sender = sender or Sender(timeout_s=self.cfg.timeout_s, console=console)
        self.outbox = Outbox(redis, self.cfg, sender=self.sender, consumer=consumer, now=self.now, workers=workers,
                             receivers=list(self.receivers.values()))
        self._claim = redis.register_script(_CLAIM)
        self._store_group = redis.register_script(_STORE_GROUP)
        self._tick_cache: dict[str, Any] = {}
        self._next_purge = 0.0

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        self.outbox.close()

    # --- alert state ---------------------------------------------------------------
    def get(self, fp: str) -> Alert | None:
        raw = self.redis.get(keys.alert(fp))
        return decode_alert(raw) if raw else None

    @staticmethod
    def _write(pipe: Any, alert: Alert) -> None:
        fp = alert.fingerprint
        pipe.set(keys.alert(fp), encode(alert))
        pipe.zadd(keys.ALERT_INDEX, {fp: alert.updated_at.timestamp()})
        timer = next_timer(alert)
        if timer is not None:
            pipe.zadd(keys.ALERT_TIMERS, {fp: timer.timestamp()})
        else:
            pipe.zrem(keys.ALERT_TIMERS, fp)
        if alert.state == "resolved":
            pipe.srem(keys.ALERT_ACTIVE, fp)
        else:
            pipe.sadd(keys.ALERT_ACTIVE, fp)

    def apply_many(self, fns: Mapping[str, Callable[[Alert | None], list[Change]]]) -> dict[str, list[Change]]:
        """Run each ``fn`` on its stored alert, all in one optimistic transaction; store each last change."""
        if not fns:
            return {}
        names = [keys.alert(fp) for fp in fns]
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*names)
                    raws = pipe.mget(names)
                    out = {fp: fn(decode_alert(raw) if raw else None)
                           for (fp, fn), raw in zip(fns.items(), raws, strict=True)}
                    final = [next((c.alert for c in reversed(chs) if c.changed and c.alert), None)
                             for chs in out.values()]
                    if not any(final):
                        pipe.unwatch()
                        return out
                    pipe.multi()
                    for alert in final:
                        if alert is not None:
                            self._write(pipe, alert)
                    pipe.execute()
                    return out
                except redis_lib.WatchError:
                    continue

    def apply(self, fp: str, fn: Callable[[Alert | None], Change]) -> Change:
        """Run ``fn`` on the stored alert inside an optimistic transaction and store what it returns."""
        return self.apply_many({fp: lambda a: [fn(a)]})[fp][0]

    def handle(self, anomalies: Iterable[Anomaly]) -> list[Change]:
        """Fold a batch of anomalies into their alerts (one transaction) and tell the groups what changed."""
        now = self.now()
        by_fp: dict[str, list[Anomaly]] = {}
        for a in anomalies:
            by_fp.setdefault(a.fingerprint, []).append(a)

        def fold(items: list[Anomaly]) -> Callable[[Alert | None], list[Change]]:
            def fn(old: Alert | None) -> list[Change]:
                out, cur = [], old
                for a in items:
                    change = self._observe(cur, a, now)
                    out.append(change)
                    if change.changed:
                        cur = change.alert
                return out
            return fn

        results = self.apply_many({fp: fold(items) for fp, items in by_fp.items()})
        changes = [c for chs in results.values() for c in chs]
        self._after_all(changes, now)
        return changes

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

    def _after_all(self, changes: Sequence[Change], now: datetime) -> None:
        """Route what must be notified, (re)schedule or stop escalation: one pipeline."""
        pipe = self.redis.pipeline(transaction=True)
        resolved = []
        for change in changes:
            alert = change.alert
            if not change.changed or alert is None:
                continue
            log.debug("alert %s: %s", alert.fingerprint, change.kind)
            if change.notify:
                self._route(pipe, alert, now)
            if change.kind in ("firing", "flapping", "ack_lapsed"):
                self._schedule_escalation(pipe, alert, now, lapsed=change.kind == "ack_lapsed")
            elif change.kind in ("resolved", "dropped", "acknowledged"):
                pipe.zrem(keys.ALERT_ESCALATIONS, alert.fingerprint)
            if change.kind == "resolved":
                resolved.append(alert)
        if len(pipe):
            pipe.execute()
        if resolved:
            self._expire_silences_of(resolved, now)

    def _route(self, pipe: Any, alert: Alert, now: datetime) -> None:
        for m in self.tree.match(alert.labels):
            gk = m.group_key(alert.labels)
            state = GroupState(key=gk, receiver=m.receiver, route=m.path, labels=m.group_labels(alert.labels),
                               group_wait_s=m.timing.group_wait_s, group_interval_s=m.timing.group_interval_s,
                               repeat_interval_s=m.timing.repeat_interval_s, escalation=m.escalation, created_at=now)
            pipe.sadd(keys.alert_group_members(gk), alert.fingerprint)
            pipe.set(keys.alert_group(gk), encode(state), nx=True)
            pipe.zadd(keys.ALERT_GROUPS, {gk: now.timestamp() + m.timing.group_wait_s}, nx=True)

    # --- the periodic work ---------------------------------------------------------
    def tick(self, *, wait: bool = True) -> dict[str, int]:
        """Everything that is due: timers, escalations, group flushes, then the outbox."""
        self._tick_cache = {}
        done = {"timers": self._run_timers(), "escalations": self._run_escalations(), "groups": self._flush_groups()}
        done["sent"] = self.outbox.process(wait=wait)
        if self.clock.monotonic() >= self._next_purge:
            self._next_purge = self.clock.monotonic() + 60
            done["purged"] = self.purge()
        return done

    def purge(self) -> int:
        """Forget resolved alerts not updated for ``retention_s`` (state in Redis stays bounded)."""
        cutoff = self.now().timestamp() - self.cfg.retention_s
        fps = [_str(x) for x in self.redis.zrangebyscore(keys.ALERT_INDEX, "-inf", cutoff, start=0, num=1000)]
        if not fps:
            return 0
        raws = self.redis.mget([keys.alert(fp) for fp in fps])
        old = [fp for fp, raw in zip(fps, raws, strict=True) if raw is None or decode_alert(raw).state == "resolved"]
        if old:
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(*[keys.alert(fp) for fp in old])
            pipe.zrem(keys.ALERT_INDEX, *old)
            pipe.execute()
        return len(old)

    def next_due(self) -> float | None:
        """Epoch seconds of the earliest scheduled work (None: nothing scheduled)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.ALERT_TIMERS, keys.ALERT_ESCALATIONS, keys.ALERT_GROUPS, keys.OUTBOX_DUE):
            pipe.zrange(key, 0, 0, withscores=True)
        times = [got[0][1] for got in pipe.execute() if got]
        return min(times) if times else None

    def _due_ids(self, key: str, now: datetime, limit: int = 200, *, claim: bool = True) -> list[str]:
        if not claim:
            return [_str(x) for x in self.redis.zrangebyscore(key, "-inf", now.timestamp(), start=0, num=limit)]
        lease = now.timestamp() + self.cfg.send_lease_s
        return [_str(x) for x in self._claim(keys=[key], args=[now.timestamp(), lease, limit])]

    def _run_timers(self) -> int:
        now = self.now()
        fps = self._due_ids(keys.ALERT_TIMERS, now, claim=False)
        if not fps:
            return 0
        results = self.apply_many({fp: lambda a: [due(a, now, self.policy) if a else Change(None, "ignored")]
                                   for fp in fps})
        changes = [chs[0] for chs in results.values()]
        pipe = self.redis.pipeline(transaction=False)
        for fp, change in zip(results, changes, strict=True):
            if change.changed:
                log.info("alert %s: %s (timer)", fp, change.kind)
                continue
            timer = next_timer(change.alert) if change.alert else None
            if timer is None or timer <= now:
                pipe.zrem(keys.ALERT_TIMERS, fp)
            else:
                pipe.zadd(keys.ALERT_TIMERS, {fp: timer.timestamp()})
        pipe.execute()
        self._after_all(changes, now)
        return len(fps)

    # --- escalation ----------------------------------------------------------------
    def _policy_of(self, alert: Alert) -> Any:
        for m in self.tree.match(alert.labels):
            if m.escalation is not None:
                return self.cfg.escalation_policies[m.escalation]
        return None

    def _schedule_escalation(self, pipe: Any, alert: Alert, now: datetime, *, lapsed: bool = False) -> None:
        policy = self._policy_of(alert)
        if policy is None:
            return
        delay = 0.0 if lapsed else next_delay(policy.levels, alert.escalation_level)
        if delay is None or alert.escalation_level >= len(policy.levels):
            return
        pipe.zadd(keys.ALERT_ESCALATIONS, {alert.fingerprint: now.timestamp() + delay})

    def _run_escalations(self) -> int:
        now = self.now()
        fps = self._due_ids(keys.ALERT_ESCALATIONS, now)
        for fp in fps:
            alert = self.get(fp)
            policy = self._policy_of(alert) if alert else None
            if alert is None or policy is None or alert.state != "firing" or alert.escalation_level >= len(policy.levels):
                self.redis.zrem(keys.ALERT_ESCALATIONS, fp)
                continue
            if self._silences_for(alert.labels, now) or self._inhibitor(alert):  # held back: pages nobody
                self.redis.zadd(keys.ALERT_ESCALATIONS, {fp: now.timestamp() + 60})
                continue
            level_no = alert.escalation_level
            level = policy.levels[level_no]
            person = on_duty(self.cfg.roster, level.role, alert.anomaly.team, now, self.tz)
            route_receiver = next((m.receiver for m in self.tree.match(alert.labels)), self.cfg.route.receiver or "")
            receiver = level.receiver or route_receiver
            quiet_end = quiet_until(self.receivers[receiver].quiet_hours, now, self.tz) \
                if receiver in self.receivers else None
            if quiet_end is not None and alert.anomaly.severity != "critical":  # nobody is woken for a trifle
                self.redis.zadd(keys.ALERT_ESCALATIONS, {fp: quiet_end.timestamp()})
                continue
            who = person.name if person else ""
            ctx = self._ctx("escalation", [alert], [], receiver, now, mentions=mention_of(person),
                            escalation={"role": level.role, "person": who, "level": str(level_no)})
            step = ("escalation", fp, alert.started_at.isoformat(), str(level_no))
            targets = [receiver] + ([person.receiver] if person and person.receiver else []) \
                + ([person_receiver_name(person.name)] if person and person_receiver_name(person.name) in self.receivers
                   else [])
            for r in dict.fromkeys(targets):
                self.outbox.enqueue(r, kind="escalation", id_parts=step, title=f"escalation {level.role}: {fp}",
                                    ctx=ctx, lang=self.receivers[r].language, severity=alert.anomaly.severity,
                                    reason="escalation", fingerprints=[fp], now=now)

            def bump(a: Alert | None, lvl: int = level_no, role: str = level.role, name: str = who) -> Change:
                if a is None or a.escalation_level != lvl:
                    return Change(a, "none")
                new = msgspec.structs.replace(a, escalation_level=lvl + 1, timeline=list(a.timeline))
                note(new, now, f"escalated to {role} {name}".strip(), self.policy)
                return Change(new, "escalated")

            change = self.apply(fp, bump)
            delay = next_delay(policy.levels, level_no + 1)
            if change.kind == "escalated" and delay is not None:
                self.redis.zadd(keys.ALERT_ESCALATIONS, {fp: now.timestamp() + delay})
            else:
                self.redis.zrem(keys.ALERT_ESCALATIONS, fp)
            log.info("alert %s escalated to level %d (%s %s)", fp, level_no, level.role, who)
        return len(fps)

    # --- groups --------------------------------------------------------------------
    def _flush_groups(self) -> int:
        """Flush every due group: a handful of round trips for all of them together."""
        now = self.now()
        gks = self._due_ids(keys.ALERT_GROUPS, now, limit=500)
        if not gks:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for gk in gks:
            pipe.get(keys.alert_group(gk))
            pipe.smembers(keys.alert_group_members(gk))
        got = pipe.execute()
        metas = got[0::2]
        members = [sorted(_str(x) for x in m) for m in got[1::2]]
        fps = sorted({fp for m in members for fp in m})
        raws = self.redis.mget([keys.alert(fp) for fp in fps]) if fps else []
        by_fp = {fp: decode_alert(r) for fp, r in zip(fps, raws, strict=True) if r}
        marks: dict[str, tuple[list[str], str | None]] = {}
        out = self.redis.pipeline(transaction=False)
        for gk, raw, group_fps in zip(gks, metas, members, strict=True):
            if raw is None:
                out.zrem(keys.ALERT_GROUPS, gk)
                continue
            self._flush(out, _decode_group(raw), group_fps, by_fp, now, marks)
        out.execute()
        if marks:
            self.apply_many({fp: self._marker(*m, now) for fp, m in marks.items()})
        return len(gks)

    def _flush(self, pipe: Any, group: GroupState, fps: list[str], by_fp: dict[str, Alert], now: datetime,
               marks: dict[str, tuple[list[str], str | None]]) -> None:
        gk = group.key
        if group.receiver not in self.receivers:  # the configuration changed: this route is gone
            log.warning("group %s: receiver %r is no longer configured; group dropped", gk, group.receiver)
            self._store_group(keys=[keys.alert_group_members(gk), keys.alert_group(gk), keys.ALERT_GROUPS],
                              args=[gk, encode(group), 0, *fps], client=pipe)
            return
        alerts = [by_fp[fp] for fp in fps if fp in by_fp]
        muted, quiet_end = self._mute(alerts, group.receiver, now, marks)
        decision = decide(group, alerts, muted, now, send_resolved=self.cfg.send_resolved)
        log.log(logging.INFO if decision.send else logging.DEBUG,
                "group %s: %s (%d firing, %d resolved, %d muted)", gk, decision.reason, len(decision.firing),
                len(decision.resolved), len(muted))
        if decision.send:
            mentions = list(self.receivers[group.receiver].mention)
            policy = self.cfg.escalation_policies.get(group.escalation or "")
            if policy is not None and decision.firing:
                team = decision.firing[0].anomaly.team
                for level in policy.levels[: immediate_levels(policy)]:
                    mentions += mention_of(on_duty(self.cfg.roster, level.role, team, now, self.tz))
            ctx = self._ctx(decision.reason, decision.firing, decision.resolved, group.receiver, now,
                            mentions=list(dict.fromkeys(mentions)))
            severity = max((a.anomaly.severity for a in decision.firing), key=_RANK.__getitem__, default="info")
            head = (decision.firing or decision.resolved)[0]
            self.outbox.enqueue(group.receiver, kind="digest", id_parts=("digest", gk, group.created_at.isoformat(), str(group.seq)),
                                title=f"{decision.reason}: {head.anomaly.kpi} {head.anomaly.team}/{head.anomaly.channel}",
                                ctx=ctx, lang=self.receivers[group.receiver].language, severity=severity,
                                reason=decision.reason, group_key=gk,
                                fingerprints=[a.fingerprint for a in (*decision.firing, *decision.resolved)], now=now,
                                pipe=pipe)
        gone = after_send(group, decision, alerts, now)
        gone += [fp for fp in fps if fp not in by_fp]
        due = now.timestamp() + max(group.group_interval_s, 0.5)
        if quiet_end is not None:
            due = min(due, quiet_end.timestamp() + 0.001)
        self._store_group(keys=[keys.alert_group_members(gk), keys.alert_group(gk), keys.ALERT_GROUPS],
                          args=[gk, encode(group), due, *gone], client=pipe)

    def _mute(self, alerts: Sequence[Alert], receiver: str, now: datetime,
              marks: dict[str, tuple[list[str], str | None]]) -> tuple[set[str], datetime | None]:
        """Fingerprints held back by silences, inhibition or quiet hours (criticals pass quiet hours)."""
        muted: set[str] = set()
        quiet_end = quiet_until(self.receivers[receiver].quiet_hours, now, self.tz)
        for a in alerts:
            if a.state == "resolved":
                continue
            sil = self._silences_for(a.labels, now)
            inh = self._inhibitor(a)
            if sil or inh or (quiet_end is not None and a.anomaly.severity != "critical"):
                muted.add(a.fingerprint)
            if sil != a.silenced_by or inh != a.inhibited_by:
                marks[a.fingerprint] = (sil, inh)
        return muted, quiet_end

    def _inhibitor(self, alert: Alert) -> str | None:
        rules = [r for r in self.cfg.inhibit_rules if matches_all(parse_all(r.target), alert.labels)]
        return inhibited_by(rules, alert, self._active_alerts()) if rules else None

    def _marker(self, sil: list[str], inh: str | None, now: datetime) -> Callable[[Alert | None], list[Change]]:
        """Record on the alert which silences / which alert hold it back (shown by the API and the timeline)."""
        def mark(old: Alert | None) -> list[Change]:
            if old is None:
                return [Change(None, "ignored")]
            new = msgspec.structs.replace(old, silenced_by=sil, inhibited_by=inh, timeline=list(old.timeline))
            if sil != old.silenced_by:
                note(new, now, f"silenced by {', '.join(sil)}" if sil else "no longer silenced", self.policy)
            if inh != old.inhibited_by:
                note(new, now, f"held back while {inh} fires" if inh else "no longer held back", self.policy)
            return [Change(new, "muted")]
        return mark

    def _active_alerts(self) -> list[Alert]:
        if "active" not in self._tick_cache:
            fps = sorted(_str(x) for x in self.redis.smembers(keys.ALERT_ACTIVE))
            raws = self.redis.mget([keys.alert(fp) for fp in fps]) if fps else []
            self._tick_cache["active"] = [decode_alert(r) for r in raws if r]
        return self._tick_cache["active"]

    def _silences(self) -> list[Silence]:
        if "silences" not in self._tick_cache:
            self._tick_cache["silences"] = [_decode_silence(v) for v in self.redis.hvals(keys.SILENCES)]
        return self._tick_cache["silences"]

    def _silences_for(self, labels: dict[str, str], now: datetime) -> list[str]:
        return silenced_by(self._silences(), labels, now)

    def _expire_silences_of(self, alerts: Sequence[Alert], now: datetime) -> None:
        for s in [_decode_silence(v) for v in self.redis.hvals(keys.SILENCES)]:
            for alert in alerts:
                if s.expire_when_resolved and s.active(now) and s.matches(alert.labels):
                    s.expired_at = now
                    self.redis.hset(keys.SILENCES, s.id, encode(s))
                    log.info("silence %s expired: %s resolved", s.id, alert.fingerprint)
                    break

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
        self._after_all([change], now)
        return change

    def next_wake(self, default: float) -> float:
        """Seconds until the next scheduled work, at most ``default``."""
        nxt = self.next_due()
        if nxt is None:
            return default
        return max(0.0, min(default, nxt - self.now().timestamp()))


