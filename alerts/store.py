"""Alert state in Redis: the one place that knows its keys and its encoding.

The engine and the API's service functions both read and write through an ``AlertStore``:

- alerts (``Alert`` JSON per fingerprint) with their index (by last update), the active set
  (not resolved) and the timer schedule (``lifecycle.next_timer``), all written together
  inside an optimistic WATCH/MULTI transaction per batch (``apply_many``);
- the escalation schedule (fingerprint → when its next level is due); only a firing alert is
  on it, so acknowledging or resolving an alert takes it off in the same transaction;
- notification groups (``GroupState``, its members and when it is next flushed);
- silences.

Records are encoded as sqm writes them everywhere (``sqm.models.encode``), so state an
older alerter wrote reads back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import redis as redis_lib

from alerts.grouping import GroupState
from alerts.lease import Schedule
from alerts.lifecycle import Change, next_timer
from alerts.silences import Silence
from sqm import keys
from sqm.models import Alert, decode_alert, encode

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

Transition = Callable[[Alert | None], list[Change]]
"""What to do with one stored alert (None: there is none): the changes, the last changed one is stored."""


def _str(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


class AlertStore:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.escalations = Schedule(redis, keys.ALERT_ESCALATIONS)
        self.groups = Schedule(redis, keys.ALERT_GROUPS)
        self._store_group = redis.register_script(_STORE_GROUP)

    def pipeline(self, *, transaction: bool = False) -> Any:
        return self.redis.pipeline(transaction=transaction)

    # --- alerts --------------------------------------------------------------------
    def get(self, fp: str) -> Alert | None:
        raw = self.redis.get(keys.alert(fp))
        return decode_alert(raw) if raw else None

    def get_many(self, fps: Iterable[str]) -> dict[str, Alert]:
        """The stored alerts of these fingerprints (missing ones left out), in the order asked."""
        wanted = list(fps)
        raws = self.redis.mget([keys.alert(fp) for fp in wanted]) if wanted else []
        return {fp: decode_alert(raw) for fp, raw in zip(wanted, raws, strict=True) if raw}

    def recent(self, limit: int) -> list[Alert]:
        """Up to ``limit`` alerts, the most recently updated first."""
        fps = [_str(x) for x in self.redis.zrevrange(keys.ALERT_INDEX, 0, max(0, limit) - 1)]
        return list(self.get_many(fps).values())

    def active(self) -> list[Alert]:
        """Every alert not resolved (pending, firing, acknowledged), by fingerprint."""
        return list(self.get_many(sorted(_str(x) for x in self.redis.smembers(keys.ALERT_ACTIVE))).values())

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
        if alert.state != "firing":  # nobody is paged about an alert someone took, or that is over
            pipe.zrem(keys.ALERT_ESCALATIONS, fp)

    def apply_many(self, fns: Mapping[str, Transition]) -> dict[str, list[Change]]:
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

    def purge(self, cutoff: float, limit: int = 1000) -> int:
        """Forget resolved alerts (and lost entries of the index) not updated since ``cutoff`` (epoch s)."""
        fps = [_str(x) for x in self.redis.zrangebyscore(keys.ALERT_INDEX, "-inf", cutoff, start=0, num=limit)]
        if not fps:
            return 0
        found = self.get_many(fps)
        old = [fp for fp in fps if fp not in found or found[fp].state == "resolved"]
        if old:
            pipe = self.pipeline()
            pipe.delete(*[keys.alert(fp) for fp in old])
            pipe.zrem(keys.ALERT_INDEX, *old)
            pipe.execute()
        return len(old)

    # --- schedules -----------------------------------------------------------------
    def due_timers(self, now: datetime, limit: int = 200) -> list[str]:
        return [_str(x) for x in self.redis.zrangebyscore(keys.ALERT_TIMERS, "-inf", now.timestamp(), start=0,
                                                          num=limit)]

    def keep_timers(self, alerts: Mapping[str, Alert | None], now: datetime) -> None:
        """Re-file the timers of alerts a due timer did not change: the next one, or none."""
        pipe = self.pipeline()
        for fp, alert in alerts.items():
            timer = next_timer(alert) if alert else None
            if timer is None or timer <= now:
                pipe.zrem(keys.ALERT_TIMERS, fp)
            else:
                pipe.zadd(keys.ALERT_TIMERS, {fp: timer.timestamp()})
        pipe.execute()

    def schedule_escalation(self, fp: str, at: float, *, pipe: Any = None, only_new: bool = False) -> None:
        """The alert's next escalation level is due at ``at`` (epoch s); ``only_new`` keeps a time already set."""
        (pipe or self.redis).zadd(keys.ALERT_ESCALATIONS, {fp: at}, nx=only_new)

    def unschedule_escalation(self, fp: str) -> None:
        self.redis.zrem(keys.ALERT_ESCALATIONS, fp)

    def next_due(self) -> float | None:
        """Epoch seconds of the earliest timer, escalation or group flush (None: nothing scheduled)."""
        pipe = self.pipeline()
        for key in (keys.ALERT_TIMERS, keys.ALERT_ESCALATIONS, keys.ALERT_GROUPS):
            pipe.zrange(key, 0, 0, withscores=True)
        times = [got[0][1] for got in pipe.execute() if got]
        return min(times) if times else None

    # --- notification groups -------------------------------------------------------
    def join_group(self, pipe: Any, group: GroupState, fp: str, first_flush: float) -> None:
        """Add an alert to its group; a new group is stored and first flushed at ``first_flush`` (epoch s)."""
        pipe.sadd(keys.alert_group_members(group.key), fp)
        pipe.set(keys.alert_group(group.key), encode(group), nx=True)
        pipe.zadd(keys.ALERT_GROUPS, {group.key: first_flush}, nx=True)

    def load_groups(self, gks: Sequence[str]) -> list[tuple[str, GroupState | None, list[str]]]:
        """Each group's state (None: gone) and its members' fingerprints, in a single round trip."""
        pipe = self.pipeline()
        for gk in gks:
            pipe.get(keys.alert_group(gk))
            pipe.smembers(keys.alert_group_members(gk))
        got = pipe.execute()
        return [(gk, _decode_group(raw) if raw else None, sorted(_str(x) for x in members))
                for gk, raw, members in zip(gks, got[0::2], got[1::2], strict=True)]

    def store_group(self, pipe: Any, group: GroupState, next_flush: float, gone: Sequence[str]) -> None:
        """Store the group after a flush: members in ``gone`` leave it; a group left empty is dropped."""
        gk = group.key
        self._store_group(keys=[keys.alert_group_members(gk), keys.alert_group(gk), keys.ALERT_GROUPS],
                          args=[gk, encode(group), next_flush, *gone], client=pipe)

    def forget_group(self, pipe: Any, gk: str) -> None:
        pipe.zrem(keys.ALERT_GROUPS, gk)

    # --- silences ------------------------------------------------------------------
    def silences(self) -> list[Silence]:
        return [_decode_silence(v) for v in self.redis.hvals(keys.SILENCES)]

    def silence(self, silence_id: str) -> Silence | None:
        raw = self.redis.hget(keys.SILENCES, silence_id)
        return _decode_silence(raw) if raw else None

    def put_silence(self, silence: Silence) -> None:
        self.redis.hset(keys.SILENCES, silence.id, encode(silence))

    def expire_silences_of(self, resolved: Sequence[Alert], now: datetime) -> list[str]:
        """End the ``expire_when_resolved`` silences that match one of these resolved alerts; their ids."""
        ended = []
        for s in self.silences():
            if s.expire_when_resolved and s.active(now) and any(s.matches(a.labels) for a in resolved):
                s.expired_at = now
                self.put_silence(s)
                ended.append(s.id)
        return ended
