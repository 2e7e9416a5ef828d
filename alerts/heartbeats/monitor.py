"""The heartbeat round an alerter runs once a minute, and what ``/readyz`` reports.

Every alerter writes its heartbeat (``beat``: ``sqm:heartbeat:alerters``) each loop, at most every
few seconds, and removes it when it stops cleanly. Once a minute one alerter (a lock,
``sqm:heartbeat:round``) runs ``round``:

1. *learn*: each closed wall-clock minute since the last round (``sqm:ingest:count:<minute>``, at
   most the last 3 h) teaches every known series' ``SeasonalRate`` its arrivals in that minute —
   except a series whose silence alarm is open: an outage is not learned as normal;
2. *judge*: every series' silence, the flow's lag and the other alerters' heartbeats
   (``alerts.heartbeats.checks``); a series silent, or an alerter stale, longer than
   ``forget_after_s`` is forgotten (its alarm resolves);
3. *raise*: a check that fires adds its anomaly (``detector=heartbeat``) to ``sqm:anomalies`` —
   again each round while it fires, so its age stays current — and one that clears (or is
   forgotten) adds the resolution. Open alarms are kept in ``sqm:heartbeat:state``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from alerts.heartbeats.checks import (
    Verdict,
    alerter_anomaly,
    flow_lag_anomaly,
    judge_flow_lag,
    judge_silence,
    silence_anomaly,
    stale_alerters,
)
from alerts.heartbeats.seasonal import SeasonalRate, expected_arrivals, hour_of_week
from sqm import keys
from sqm.config import Settings
from sqm.models import Anomaly, decode_anomaly, encode

log = logging.getLogger("sqm.alerts")

CURSOR = "_cursor"
BEAT_EVERY_S = 5.0
MAX_BACKLOG_MIN = keys.INGEST_COUNT_TTL_S // 60


def floats_of(raw: Mapping[Any, Any]) -> dict[str, float]:
    out = {}
    for k, v in raw.items():
        name = k.decode() if isinstance(k, bytes) else k
        try:
            out[name] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _str(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


class HeartbeatMonitor:
    def __init__(self, settings: Settings, redis: Any, *, consumer: str, now: Callable[[], datetime],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cfg = settings.alerts.heartbeat
        self.tz = ZoneInfo(settings.alerts.timezone)
        self.redis = redis
        self.consumer = consumer
        self.now = now
        self.monotonic = monotonic
        self._next_beat = 0.0
        self.beat_every_s = min(BEAT_EVERY_S, self.cfg.alerter_stale_s / 4)
        self._next_round = 0.0

    # --- this alerter's own heartbeat ---------------------------------------------------
    def beat(self) -> None:
        if self.monotonic() >= self._next_beat:
            self._next_beat = self.monotonic() + self.beat_every_s
            self.redis.hset(keys.HEARTBEAT_ALERTERS, self.consumer, f"{self.now().timestamp():.3f}")

    def leave(self) -> None:
        """A clean stop: this alerter is no longer expected to beat."""
        self.redis.hdel(keys.HEARTBEAT_ALERTERS, self.consumer)

    def tick(self) -> list[Anomaly]:
        """Beat, and run the round when a minute has passed and no other alerter runs it; returns what it raised."""
        self.beat()
        if self.monotonic() < self._next_round:
            return []
        self._next_round = self.monotonic() + self.cfg.every_s
        lock_ms = max(500, int(self.cfg.every_s * 900))  # a little less than a round: the next one is free
        if not self.redis.set(keys.HEARTBEAT_ROUND, self.consumer, nx=True, px=lock_ms):
            return []
        return self.round()

    # --- the round ----------------------------------------------------------------------
    def round(self) -> list[Anomaly]:
        now_s = self.now().timestamp()
        open_alarms = {_str(k): decode_anomaly(v) for k, v in self.redis.hgetall(keys.HEARTBEAT_STATE).items()}
        seen = floats_of(self.redis.hgetall(keys.INGEST_SEEN))
        forgotten = [s for s, at in seen.items() if now_s - at > self.cfg.forget_after_s]
        if forgotten:
            self.redis.hdel(keys.INGEST_SEEN, *forgotten)
            self.redis.hdel(keys.HEARTBEAT_MODEL, *forgotten)
            seen = {s: at for s, at in seen.items() if s not in forgotten}
        gone = [a for a, at in floats_of(self.redis.hgetall(keys.HEARTBEAT_ALERTERS)).items()
                if now_s - at > self.cfg.forget_after_s]
        if gone:
            self.redis.hdel(keys.HEARTBEAT_ALERTERS, *gone)
        models = self._learn(now_s, seen, protect={n for n in open_alarms if n in seen})
        raised = self._raise(self.verdicts(now_s, seen, models), open_alarms, now_s)
        return raised

    def _learn(self, now_s: float, seen: Mapping[str, float], protect: set[str]) -> dict[str, SeasonalRate]:
        raws = self.redis.hgetall(keys.HEARTBEAT_MODEL)
        stored = {_str(k): v for k, v in raws.items()}
        now_min = int(now_s // 60)
        cursor = int(stored.pop(CURSOR, now_min - 1))
        first = max(cursor + 1, now_min - MAX_BACKLOG_MIN)
        models = {s: self._model(stored.get(s)) for s in seen}
        minutes = list(range(first, now_min))
        if minutes:
            pipe = self.redis.pipeline(transaction=False)
            for m in minutes:
                pipe.hgetall(keys.ingest_count(m))
            for m, counts in zip(minutes, pipe.execute(), strict=True):
                got = floats_of(counts)
                how = hour_of_week(m * 60, self.tz)
                for series, model in models.items():
                    if series not in protect:
                        model.learn_one(how, got.get(series, 0.0))
        mapping = {s: msgspec.json.encode(m.to_dict()) for s, m in models.items() if minutes or s not in stored}
        self.redis.hset(keys.HEARTBEAT_MODEL, mapping={**mapping, CURSOR: str(now_min - 1)})
        return models

    def _model(self, raw: bytes | str | None) -> SeasonalRate:
        if raw:
            try:
                return SeasonalRate.from_dict(msgspec.json.decode(raw), half_life_weeks=self.cfg.half_life_weeks,
                                              min_minutes=self.cfg.min_minutes)
            except (ValueError, KeyError, msgspec.DecodeError) as err:
                log.warning("heartbeat model unreadable, learning again: %s", err)
        return SeasonalRate(half_life_weeks=self.cfg.half_life_weeks, min_minutes=self.cfg.min_minutes)

    def verdicts(self, now_s: float, seen: Mapping[str, float], models: Mapping[str, SeasonalRate]) -> list[Verdict]:
        """Every check now, each with the anomaly it raises while it fires."""
        out = []
        for series, last in sorted(seen.items()):
            model = models.get(series)
            expected = expected_arrivals(model, last, now_s, self.tz) if model is not None else None
            v = judge_silence(expected=expected, silence_s=max(0.0, now_s - last), alpha=self.cfg.alpha,
                              min_silence_s=self.cfg.min_silence_s, name=series)
            out.append(_with(v, silence_anomaly(series, v, last, now_s, self.cfg) if v.firing else None))
        stats = floats_of(self.redis.hgetall(keys.FLOW_STATS))
        closed = stats.get("closed_until") or None
        lag = judge_flow_lag(closed_until=closed, newest_arrival=max(seen.values(), default=None), now_s=now_s,
                             bound_s=self.cfg.flow_lag_s)
        out.append(_with(lag, flow_lag_anomaly(lag, closed or now_s, now_s) if lag.firing else None))
        beats = floats_of(self.redis.hgetall(keys.HEARTBEAT_ALERTERS))
        for v in stale_alerters(beats, self.consumer, now_s, self.cfg.alerter_stale_s):
            beat = beats[v.name.partition(":")[2]]
            out.append(_with(v, alerter_anomaly(v, beat, now_s) if v.firing else None))
        return out

    def _raise(self, verdicts: list[Verdict], open_alarms: dict[str, Anomaly], now_s: float) -> list[Anomaly]:
        raised: list[Anomaly] = []
        pipe = self.redis.pipeline(transaction=True)
        firing = {v.name: v.anomaly for v in verdicts if v.firing and v.anomaly is not None}
        for name, anomaly in firing.items():
            raised.append(anomaly)
            pipe.hset(keys.HEARTBEAT_STATE, name, encode(anomaly))
            if name not in open_alarms:
                log.warning("heartbeat %s: %s", name, anomaly.reason_en)
        for name, was in open_alarms.items():
            if name not in firing:
                end = max(was.end, datetime.fromtimestamp(now_s, was.end.tzinfo))
                raised.append(msgspec.structs.replace(was, status="resolved", end=end))
                pipe.hdel(keys.HEARTBEAT_STATE, name)
                log.info("heartbeat %s: cleared", name)
        for anomaly in raised:
            pipe.xadd(keys.ANOMALIES, {"a": encode(anomaly)})
        if raised:
            pipe.execute()
        return raised


def _with(v: Verdict, anomaly: Anomaly | None) -> Verdict:
    return Verdict(v.name, v.firing, v.age_s, v.expected, v.probability, anomaly)


def heartbeat_status(settings: Settings, redis: Any, now: datetime) -> dict[str, Any]:
    """What ``/readyz`` shows: every check with its age, the figures it is judged on and whether its alarm is
    open; nothing is learned or raised."""
    monitor = HeartbeatMonitor(settings, redis, consumer="", now=lambda: now)
    now_s = now.timestamp()
    seen = floats_of(redis.hgetall(keys.INGEST_SEEN))
    stored = {_str(k): v for k, v in redis.hgetall(keys.HEARTBEAT_MODEL).items()}
    models = {s: monitor._model(stored.get(s)) for s in seen}
    open_alarms = {_str(k) for k in redis.hkeys(keys.HEARTBEAT_STATE)}
    watchdog = redis.get(keys.HEARTBEAT_WATCHDOG)
    checks = {}
    for v in monitor.verdicts(now_s, seen, models):
        row: dict[str, Any] = {"age_s": round(v.age_s, 1), "alarm": v.name in open_alarms}
        if v.expected is not None:
            row["expected"] = round(v.expected, 3)
        if v.probability is not None:
            row["p"] = float(f"{v.probability:.3g}")
        checks[v.name] = row
    if watchdog is not None:
        checks["watchdog"] = {"age_s": 0.0, "alarm": True}
    return checks
