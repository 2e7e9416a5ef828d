"""The improvement loop's work at its edges: reports made from the store, and the alerter's periodic round
(overdue reminders, before/after checks of landed actions, scheduled reports)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from improve import actions as A
from improve.experiments import evaluate
from improve.periods import bounds, due, kind_of
from improve.render import Rendered, pdf, render
from improve.report import build
from improve.store import Store, hourly_reader
from sqm import keys
from sqm.config import Settings
from sqm.models import ALL, Alert

log = logging.getLogger("sqm.improve")

Deliver = Callable[[list[str], Rendered, bytes, str], Any]
"""(receiver names, rendered report, its PDF, the PDF's file name) -> delivery outcome."""


def targets_of(settings: Settings) -> dict[str, float]:
    return {**settings.api.wallboard_targets, **settings.targets.model_dump()}


def report_link(settings: Settings, period: str, team: str, language: str) -> str:
    base = (settings.api.base_url or f"http://{settings.api.host}:{settings.api.port}").rstrip("/")
    return f"{base}/v1/reports/{period}?team={team}&lang={language}&format=pdf"


def make_report(settings: Settings, redis: Any, period: str, team: str, language: str, *, now: datetime,
                alerts: Iterable[Alert] = ()) -> Rendered:
    """Render the report of ``period`` for ``team`` from what the store holds (raises ValueError on a bad period)."""
    tz = ZoneInfo(settings.alerts.timezone)
    start, end = bounds(period, tz)
    store = Store(redis)
    read = hourly_reader(redis, settings)
    # months and quarters from the daily aggregates (hours are kept improve.hour_days); days and weeks by hour
    buckets = hourly_reader(redis, settings, "1d" if kind_of(period) in ("month", "quarter") else "1h")
    exps = [evaluate(e, read, now=min(now, end), tz=tz, alpha=settings.improve.alpha) for e in store.experiments()
            if e.start < end and (e.end is None or e.end > start)
            and (team == ALL or team in (e.a.team, e.b.team))]
    data = build(period, team, read=buckets, tz=tz, targets=targets_of(settings), teams=[t.name for t in settings.teams],
                 channels=[c.name for c in settings.channels], regions=list(settings.regions), alerts=alerts,
                 experiments=exps, actions=store.actions(), now=now, language=language)
    return render(data, targets_of(settings), report_link(settings, period, team, language))


class Rounds:
    """The alerter's periodic improvement work; ``tick(now)`` does one round (tests call it directly)."""

    def __init__(self, settings: Settings, redis: Any, *, deliver: Deliver,
                 list_alerts: Callable[[], Iterable[Alert]] = list) -> None:
        self.settings = settings
        self.redis = redis
        self.store = Store(redis)
        self.deliver = deliver
        self.list_alerts = list_alerts
        self.tz = ZoneInfo(settings.alerts.timezone)

    def tick(self, now: datetime) -> dict[str, list[str]]:
        return {"reminded": self.remind(now), "checked": self.check_landed(now), "reports": self.send_reports(now)}

    def remind(self, now: datetime) -> list[str]:
        cfg = self.settings.improve
        slot = int(now.timestamp() // (cfg.reminder_every_h * 3600))
        done = []
        for action in self.store.actions():
            if action in A.overdue([action], now):
                if self.store.remind(A.reminder(action, now), action.id, slot, int(cfg.reminder_every_h * 3600)):
                    done.append(action.id)
                if not action.reminding:
                    self.store.put_action(msgspec.structs.replace(action, reminding=True))
            elif action.reminding and action.state not in A.OPEN_STATES:
                self.store.remind(A.reminder(action, now, resolved=True), action.id, -slot, 86400)
                self.store.put_action(msgspec.structs.replace(action, reminding=False))
        return done

    def check_landed(self, now: datetime) -> list[str]:
        days = timedelta(days=self.settings.improve.verify_days)
        read = hourly_reader(self.redis, self.settings)
        done = []
        for action in A.due_for_check(self.store.actions(), now, self.settings.improve.verify_days):
            assert action.landed_at is not None
            landed = action.landed_at
            before = read(action.team, ALL, ALL, landed - days, landed)
            after = read(action.team, ALL, ALL, landed, landed + days)
            target = action.target if action.target is not None else targets_of(self.settings).get(action.kpi)
            move, found = A.verification(action, before, after, self.tz, target)
            checked = A.move(action, move, now, by="sqm", note="before/after check (same weekdays and hours)")
            self.store.put_action(msgspec.structs.replace(checked, verification=found))
            done.append(f"{action.id}:{checked.state}")
        return done

    def send_reports(self, now: datetime) -> list[str]:
        sent = []
        for sched in self.settings.improve.reports:
            key = f"{sched.period}|{sched.team}|{sched.at}"
            last = self.redis.hget(keys.REPORTS_SENT, key)
            period = due(sched.period, sched.at, last.decode() if isinstance(last, bytes) else last, now, self.tz)
            if period is None:
                continue
            rendered = make_report(self.settings, self.redis, period, sched.team, sched.language, now=now,
                                   alerts=self.list_alerts())
            name = f"sqm-{period}-{'centre' if sched.team == ALL else sched.team}.pdf"
            self.deliver(sched.receivers, rendered, pdf(rendered), name)
            self.redis.hset(keys.REPORTS_SENT, key, period)
            sent.append(f"{key}:{period}")
        return sent
