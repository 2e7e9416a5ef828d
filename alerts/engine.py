"""The alert engine: anomalies in, notifications out (Alertmanager's pipeline, plus ack and escalation).

    anomaly ──observe──► Alert (AlertStore: optimistic transaction per batch)
                           │ notify?
                           ▼
                 routing tree ──► groups (members set + due time)
                                        │ tick: flush due groups
                                        ▼
             mute stage (inhibit → silence → quiet hours) → decide (first / resolved / repeat_due / skip)
                                        │
                                        ▼
                       outbox (Redis) ──► channels (Apprise, checked bots, console)

Timers (pending, held resolutions, lapsed acks) and escalation levels are sorted sets
scanned on every tick. An alert's escalation is armed when a digest first tells a receiver
about it, so anything that holds the digest back (group wait, silence, inhibition, quiet
hours) holds its escalation back the same way; a level due while the alert is muted waits
for the end of the hold. Every step is safe to run in two alerters at once: alert writes are
WATCH/MULTI transactions, groups, escalations and notifications are claimed atomically with a
lease, and notification ids are derived from (group, step) so a replayed step is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from alerts.acklink import ack_url, base_url
from alerts.channels import Sender
from alerts.escalation import (
    escalation_targets,
    immediate_levels,
    mention_of,
    next_delay,
    on_duty,
    person_receivers,
)
from alerts.grouping import Decision, GroupState, after_send, decide, newly_told
from alerts.lifecycle import Change, Policy, due, escalate, mark_held, observe
from alerts.messages import Names, alert_view
from alerts.mute import MuteDecision, MuteStage
from alerts.outbox import Outbox
from alerts.restate import restate
from alerts.routing import RouteMatch, build_tree, receivers_for
from alerts.store import AlertStore, Transition
from sqm.clock import Clock, SystemClock
from sqm.config import EscalationPolicy, Settings
from sqm.models import Alert, Anomaly, most_severe

log = logging.getLogger("sqm.alerts")

Marks = dict[str, tuple[list[str], str | None]]
"""fingerprint → (silences, inhibiting alert) to record on the alert after a flush."""


class Engine:
    def __init__(self, settings: Settings, redis: Any, *, clock: Clock | None = None,
                 sender: Sender | None = None, console: TextIO | None = None, consumer: str = "sqm-alerter",
                 workers: int = 8) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.redis = redis
        self.store = AlertStore(redis)
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
                             receivers=list(self.receivers.values()), restate=self.restate)
        self._stage: MuteStage | None = None
        self._next_purge = 0.0

    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        self.outbox.close()

    # --- anomalies -----------------------------------------------------------------
    def handle(self, anomalies: Iterable[Anomaly]) -> list[Change]:
        """Fold a batch of anomalies into their alerts (one transaction) and tell the groups what changed."""
        now = self.now()
        by_fp: dict[str, list[Anomaly]] = {}
        for a in anomalies:
            by_fp.setdefault(a.fingerprint, []).append(a)

        def fold(items: list[Anomaly]) -> Transition:
            def fn(old: Alert | None) -> list[Change]:
                out, cur = [], old
                for a in items:
                    change = self._observe(cur, a, now)
                    out.append(change)
                    if change.changed:
                        cur = change.alert
                return out
            return fn

        results = self.store.apply_many({fp: fold(items) for fp, items in by_fp.items()})
        changes = [c for chs in results.values() for c in chs]
        self._after_all(changes, now)
        return changes

    def _observe(self, old: Alert | None, anomaly: Anomaly, now: datetime) -> Change:
        change = observe(old, anomaly, now, self.policy)
        if change.alert is not None and change.kind in ("firing", "flapping", "pending"):
            change.alert.receivers = list(receivers_for(self.tree, change.alert.labels))
            if change.kind != "pending" and (found := self._escalation_of(change.alert)) is not None:
                change.alert.escalation_level = immediate_levels(found[0])
        return change

    def _after_all(self, changes: Sequence[Change], now: datetime) -> None:
        """Route what must be notified and re-arm lapsed acknowledgements: one pipeline."""
        pipe = self.store.pipeline(transaction=True)
        resolved = []
        for change in changes:
            alert = change.alert
            if not change.changed or alert is None:
                continue
            log.debug("alert %s: %s", alert.fingerprint, change.kind)
            if change.notify:
                self._route(pipe, alert, now)
            if change.kind == "ack_lapsed":  # nobody holds it any more: the next level is due at once
                self._arm_escalation(pipe, alert, now, at_once=True)
            if change.kind == "resolved":
                resolved.append(alert)
        if len(pipe):
            pipe.execute()
        if resolved:
            for sid in self.store.expire_silences_of(resolved, now):
                log.info("silence %s expired: its alert resolved", sid)

    def _route(self, pipe: Any, alert: Alert, now: datetime) -> None:
        for m in self.tree.match(alert.labels):
            group = GroupState(key=m.group_key(alert.labels), receiver=m.receiver, route=m.path,
                               labels=m.group_labels(alert.labels), group_wait_s=m.timing.group_wait_s,
                               group_interval_s=m.timing.group_interval_s,
                               repeat_interval_s=m.timing.repeat_interval_s, escalation=m.escalation, created_at=now)
            self.store.join_group(pipe, group, alert.fingerprint, now.timestamp() + m.timing.group_wait_s)

    # --- the periodic work ---------------------------------------------------------
    def tick(self, *, wait: bool = True) -> dict[str, int]:
        """Everything that is due: timers, escalations, group flushes, then the outbox."""
        self._stage = None  # silences and active alerts are read again, once, when first needed
        done = {"timers": self._run_timers(), "escalations": self._run_escalations(), "groups": self._flush_groups()}
        done["sent"] = self.outbox.process(wait=wait)
        if self.clock.monotonic() >= self._next_purge:
            self._next_purge = self.clock.monotonic() + 60
            done["purged"] = self.purge()
        return done

    def purge(self) -> int:
        """Forget resolved alerts not updated for ``retention_s`` (state in Redis stays bounded)."""
        return self.store.purge(self.now().timestamp() - self.cfg.retention_s)

    def next_due(self) -> float | None:
        """Epoch seconds of the earliest scheduled work (None: nothing scheduled)."""
        times = [t for t in (self.store.next_due(), self.outbox.next_due()) if t is not None]
        return min(times) if times else None

    def next_wake(self, default: float) -> float:
        """Seconds until the next scheduled work, at most ``default``."""
        nxt = self.next_due()
        if nxt is None:
            return default
        return max(0.0, min(default, nxt - self.now().timestamp()))

    def _run_timers(self) -> int:
        now = self.now()
        fps = self.store.due_timers(now)
        if not fps:
            return 0
        results = self.store.apply_many({fp: lambda a: [due(a, now, self.policy) if a else Change(None, "ignored")]
                                         for fp in fps})
        changes = [chs[0] for chs in results.values()]
        for fp, change in zip(results, changes, strict=True):
            if change.changed:
                log.info("alert %s: %s (timer)", fp, change.kind)
        self.store.keep_timers({fp: c.alert for fp, c in zip(results, changes, strict=True) if not c.changed}, now)
        self._after_all(changes, now)
        return len(fps)

    def _muting(self) -> MuteStage:
        """This round's mute stage (built on first use from the silences and active alerts in Redis)."""
        if self._stage is None:
            self._stage = MuteStage(silences=self.store.silences(), active=self.store.active(),
                                    inhibit_rules=self.cfg.inhibit_rules, tz=self.tz,
                                    quiet_hours={name: r.quiet_hours for name, r in self.receivers.items()})
        return self._stage

    # --- escalation ----------------------------------------------------------------
    def _escalation_of(self, alert: Alert) -> tuple[EscalationPolicy, RouteMatch] | None:
        """The policy of the first route this alert reaches that has one, and that route."""
        for m in self.tree.match(alert.labels):
            if m.escalation is not None:
                return self.cfg.escalation_policies[m.escalation], m
        return None

    def _arm_escalation(self, pipe: Any, alert: Alert, now: datetime, *, at_once: bool = False) -> None:
        """Schedule the alert's next level: its delay after the first notice (``at_once``: now, a lapsed ack)."""
        found = self._escalation_of(alert)
        if found is None or alert.escalation_level >= len(found[0].levels):
            return
        delay = 0.0 if at_once else next_delay(found[0].levels, alert.escalation_level)
        if delay is not None:
            self.store.schedule_escalation(alert.fingerprint, now.timestamp() + delay, pipe=pipe, only_new=not at_once)

    def _run_escalations(self) -> int:
        now = self.now()
        fps = list(self.store.escalations.claim_due(now, self.cfg.send_lease_s, 200))
        alerts = self.store.get_many(fps)
        for fp in fps:
            self._escalate(fp, alerts.get(fp), now)
        return len(fps)

    def _escalate(self, fp: str, alert: Alert | None, now: datetime) -> None:
        found = self._escalation_of(alert) if alert else None
        if alert is None or found is None or alert.state != "firing" or alert.escalation_level >= len(found[0].levels):
            self.store.unschedule_escalation(fp)
            return
        policy, route = found
        level_no = alert.escalation_level
        level = policy.levels[level_no]
        receiver = level.receiver or route.receiver
        held = self._muting().decide(alert, receiver, now)
        if held.muted:  # paged nobody: the level waits for the end of the hold
            log.debug("alert %s: escalation level %d held (%s)", fp, level_no, held.reason)
            self.store.schedule_escalation(fp, held.recheck_at(now).timestamp())
            return
        person = on_duty(self.cfg.roster, level.role, alert.anomaly.team, now, self.tz)
        who = person.name if person else ""
        ctx = self._ctx("escalation", [alert], [], now, mentions=mention_of(person),
                        escalation={"role": level.role, "person": who, "level": str(level_no)})
        step = ("escalation", fp, alert.started_at.isoformat(), str(level_no))
        for r in escalation_targets(receiver, person, self.receivers):
            self.outbox.enqueue(r, kind="escalation", id_parts=step, title=f"escalation {level.role}: {fp}",
                                ctx=ctx, lang=self.receivers[r].language, severity=alert.anomaly.severity,
                                reason="escalation", fingerprints=[fp], now=now)
        change = self.store.apply(fp, lambda a: escalate(a, level_no, now, self.policy, role=level.role, person=who))
        delay = next_delay(policy.levels, level_no + 1)
        if change.kind == "escalated" and delay is not None:
            self.store.schedule_escalation(fp, now.timestamp() + delay)
        else:
            self.store.unschedule_escalation(fp)
        log.info("alert %s escalated to level %d (%s %s)", fp, level_no, level.role, who)

    # --- groups --------------------------------------------------------------------
    def _flush_groups(self) -> int:
        """Flush every due group: a handful of round trips for all of them together."""
        now = self.now()
        gks = list(self.store.groups.claim_due(now, self.cfg.send_lease_s, 500))
        if not gks:
            return 0
        loaded = self.store.load_groups(gks)
        by_fp = self.store.get_many(sorted({fp for _, _, members in loaded for fp in members}))
        marks: Marks = {}
        pipe = self.store.pipeline()
        for gk, group, fps in loaded:
            if group is None:
                self.store.forget_group(pipe, gk)
            else:
                self._flush(pipe, group, fps, by_fp, now, marks)
        pipe.execute()
        if marks:
            self.store.apply_many({fp: self._marker(*m, now) for fp, m in marks.items()})
        return len(gks)

    def _flush(self, pipe: Any, group: GroupState, fps: list[str], by_fp: dict[str, Alert], now: datetime,
               marks: Marks) -> None:
        if group.receiver not in self.receivers:  # the configuration changed: this route is gone
            log.warning("group %s: receiver %r is no longer configured; group dropped", group.key, group.receiver)
            self.store.store_group(pipe, group, 0, fps)
            return
        alerts = [by_fp[fp] for fp in fps if fp in by_fp]
        held = self._hold(alerts, group.receiver, now, marks)
        decision = decide(group, alerts, held, now, send_resolved=self.cfg.send_resolved)
        log.log(logging.INFO if decision.send else logging.DEBUG,
                "group %s: %s (%d firing, %d resolved, %d muted)", group.key, decision.reason, len(decision.firing),
                len(decision.resolved), len(held))
        if decision.send:
            for alert in newly_told(group, decision):
                self._arm_escalation(pipe, alert, now)
            self._announce(pipe, group, decision, now)
        gone = after_send(group, decision, alerts, now, send_resolved=self.cfg.send_resolved)
        gone += [fp for fp in fps if fp not in by_fp]
        next_flush = now.timestamp() + max(group.group_interval_s, 0.5)
        quiet_ends = [d.until.timestamp() for d in held.values() if d.until is not None]
        if quiet_ends:  # held by quiet hours: flushed again the moment they end
            next_flush = min(next_flush, min(quiet_ends) + 0.001)
        self.store.store_group(pipe, group, next_flush, gone)

    def _hold(self, alerts: Sequence[Alert], receiver: str, now: datetime, marks: Marks) -> dict[str, MuteDecision]:
        """The mute stage's decision for each alert it holds back from ``receiver``; what holds each one is
        recorded on the alert when it changed."""
        stage = self._muting()
        held = {}
        for a in alerts:
            d = stage.decide(a, receiver, now)
            if d.muted:
                held[a.fingerprint] = d
            if d.reason != "resolved" and (list(d.silenced_by), d.inhibited_by) != (a.silenced_by, a.inhibited_by):
                marks[a.fingerprint] = (list(d.silenced_by), d.inhibited_by)
        return held

    def _announce(self, pipe: Any, group: GroupState, decision: Decision, now: datetime) -> None:
        """Put the group's digest in the outbox (in ``pipe``)."""
        mentions = list(self.receivers[group.receiver].mention)
        policy = self.cfg.escalation_policies.get(group.escalation or "")
        if policy is not None and decision.firing:
            team = decision.firing[0].anomaly.team
            for level in policy.levels[: immediate_levels(policy)]:
                mentions += mention_of(on_duty(self.cfg.roster, level.role, team, now, self.tz))
        ctx = self._ctx(decision.reason, decision.firing, decision.resolved, now, mentions=list(dict.fromkeys(mentions)))
        head = (decision.firing or decision.resolved)[0]
        self.outbox.enqueue(group.receiver, kind="digest", id_parts=("digest", group.key, group.created_at.isoformat(),
                                                                     str(group.seq)),
                            title=f"{decision.reason}: {head.anomaly.kpi} {head.anomaly.team}/{head.anomaly.channel}",
                            ctx=ctx, lang=self.receivers[group.receiver].language,
                            severity=most_severe(a.anomaly.severity for a in decision.firing),
                            reason=decision.reason, group_key=group.key,
                            fingerprints=[a.fingerprint for a in (*decision.firing, *decision.resolved)], now=now,
                            pipe=pipe)

    def restate(self, ctx: dict[str, Any], fingerprints: list[str], now: datetime) -> tuple[dict[str, Any] | None, str]:
        """A queued notification's context with its alerts as they are now (``alerts.restate``)."""
        current = self.store.get_many(fingerprints)

        def view(a: Alert, lang: str) -> dict[str, Any]:
            link = ack_url(self.settings, a.fingerprint, now) if a.state == "firing" else ""
            return alert_view(a, lang, self.names, now, link)
        return restate(ctx, current, view)

    def _marker(self, sil: list[str], inh: str | None, now: datetime) -> Transition:
        return lambda old: [mark_held(old, sil, inh, now, self.policy)]

    def _ctx(self, reason: str, firing: Sequence[Alert], resolved: Sequence[Alert], now: datetime, *,
             mentions: Sequence[str] = (), escalation: dict[str, str] | None = None) -> dict[str, Any]:
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

