"""The dead-alerter watchdog, run in the API process: when no alerter beats, it tells the receivers itself.

A dead alerter cannot report its own death, and a second alerter's heartbeat round
(``alerts.heartbeats.monitor``) only helps while one is alive. So the API checks
``sqm:heartbeat:alerters`` every ``every_s``: when every alerter that was beating is older than
``alerter_stale_s``, it routes a synthetic critical alert (``detector=heartbeat``,
``kpi=alerter_heartbeat_age_s``, ``channel=alerters``) through the routing tree and sends it to
those receivers' URLs directly (channels, templates and timeouts of the alerter); when an alerter
beats again it sends the resolution. ``sqm:heartbeat:watchdog`` (SET NX) makes several API
workers announce one outage once. Silences apply; quiet hours do not (it is critical). A send
that fails everywhere is tried again at the next check. An alerter stopped cleanly removes its
heartbeat, so a deliberate stop of every alerter is not an outage.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from alerts.acklink import base_url
from alerts.channels import Delivery, Sender, target
from alerts.heartbeats.checks import Verdict, alerter_anomaly
from alerts.heartbeats.monitor import floats_of
from alerts.messages import Names, alert_view, render
from alerts.notifications import urls_of
from alerts.routing import build_tree, receivers_for
from alerts.silences import silenced_by
from alerts.store import AlertStore
from sqm import keys
from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.models import Alert

log = logging.getLogger("sqm.alerts")


class AlerterWatchdog:
    def __init__(self, settings: Settings, redis: Any, *, clock: Clock | None = None, sender: Sender | None = None,
                 every_s: float = 10.0) -> None:
        self.settings = settings
        self.cfg = settings.alerts.heartbeat
        self.redis = redis
        self.clock = clock or SystemClock()
        self.every_s = every_s
        self.tree = build_tree(settings.alerts)
        self.receivers = {r.name: r for r in settings.alerts.receivers}
        self.names = Names({t.name: (t.display, t.display_zh) for t in settings.teams},
                           {c.name: (c.display, c.display_zh) for c in settings.channels},
                           ZoneInfo(settings.alerts.timezone))
        self._sender = sender
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> str:
        """One look: ``ok``, ``none`` (no alerter beats or ever did), ``down`` (announced now), ``still_down``,
        ``recovered`` (resolution sent now)."""
        now = self.clock.now()
        beats = floats_of(self.redis.hgetall(keys.HEARTBEAT_ALERTERS))
        if not beats:
            return "none"
        newest = max(beats.values())
        age = now.timestamp() - newest
        if age <= self.cfg.alerter_stale_s:
            raw = self.redis.getdel(keys.HEARTBEAT_WATCHDOG)
            if raw is None:
                return "ok"
            since = json.loads(raw)["since"]
            self._tell(self._alert(since, now.timestamp(), resolved=True), "resolved")
            log.warning("watchdog: an alerter beats again; resolution sent")
            return "recovered"
        claim = json.dumps({"since": newest, "at": now.timestamp()})
        if not self.redis.set(keys.HEARTBEAT_WATCHDOG, claim, nx=True):
            return "still_down"
        log.error("watchdog: no alerter has run for %.0f s; telling the receivers directly", age)
        results = self._tell(self._alert(newest, now.timestamp(), resolved=False), "first")
        if results and not any(d.ok for d in results):
            self.redis.delete(keys.HEARTBEAT_WATCHDOG)  # nobody heard it: the next check tries again
        return "down"

    def _alert(self, since: float, now_s: float, *, resolved: bool) -> Alert:
        v = Verdict("alerter:alerters", True, now_s - since, self.cfg.alerter_stale_s)
        an = alerter_anomaly(v, since, now_s)
        an = msgspec.structs.replace(an, channel="alerters", status="resolved" if resolved else "firing",
                                     reason_en=f"No alerter has run for {v.age_s:.0f} s: alerts are not being sent",
                                     reason_zh=f"所有告警进程已 {v.age_s:.0f} 秒未运行：告警无法发出")
        return Alert(fingerprint=an.fingerprint, state="resolved" if resolved else "firing", labels=an.labels,
                     anomaly=an, started_at=an.start, updated_at=an.end)

    def _tell(self, alert: Alert, reason: str) -> list[Delivery]:
        now = self.clock.now()
        if silenced_by(AlertStore(self.redis).silences(), alert.labels, now):
            log.info("watchdog: the dead-alerter alarm is silenced")
            return []
        sender = self._sender or Sender(timeout_s=self.settings.alerts.timeout_s)
        results = []
        try:
            for name in receivers_for(self.tree, alert.labels):
                rec = self.receivers.get(name)
                if rec is None:
                    continue
                view = alert_view(alert, rec.language, self.names, now)
                firing, ended = ([view], []) if reason == "first" else ([], [view])
                for url in urls_of(rec):
                    t = target(url)
                    msg = render(t.render_as, rec.language, reason, firing, ended,
                                 wallboard_url=base_url(self.settings) + self.settings.alerts.wallboard_path)
                    d = sender.send(t, msg.title, msg.body, msg.format, key=f"watchdog-{alert.anomaly.start.timestamp():.0f}")
                    results.append(d)
                    self.redis.xadd(keys.DELIVERIES, {"id": "watchdog", "receiver": name, "channel": t.masked,
                                                      "status": d.status, "code": d.code or "", "detail": d.detail,
                                                      "latency_ms": str(d.latency_ms), "at": now.isoformat(),
                                                      "folded": "0"}, maxlen=10_000, approximate=True)
        finally:
            if self._sender is None:
                sender.close()
        return results

    # --- running in the API process -----------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqm-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception:  # the API keeps serving; the next check tries again
                log.exception("watchdog check failed")
