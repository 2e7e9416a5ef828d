"""Leases on scheduled work: claim what is due in a sorted set, and keep a claim while its work runs.

A schedule is a sorted set whose score is when an id is due (notifications, groups, escalations).
``claim_due`` pushes the score of every due id to the end of a lease in one Lua script, so two
alerters never claim the same id, and an alerter that dies loses its claims when their leases end.

The end of the lease is also the claim's token: only the holder knows the exact score it set, and
``renew`` extends a claim only while the score is still that one. A ``LeaseKeeper`` renews the
claims this process holds every third of a lease (a heartbeat thread that runs only while it holds
something), so work that takes longer than the lease (a slow receiver, a queue in the send pool)
keeps its claim instead of being claimed, and done, a second time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger("sqm.alerts")

_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""
"""Claim up to ARGV[3] ids due at ARGV[1]: their score becomes the lease's end ARGV[2]."""

_RENEW = """
local kept = {}
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
    table.insert(kept, ARGV[i])
  end
end
return kept
"""
"""Move each (id, lease end) pair still holding that score to the new lease end ARGV[1]; return the ids kept."""


def _str(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


def _score(x: float) -> str:
    return repr(float(x))  # the shortest text that reads back as the same double (Redis and Lua agree on it)


class Schedule:
    """One sorted set of due ids and the two scripts that claim and renew them."""

    def __init__(self, redis: Any, key: str) -> None:
        self.redis = redis
        self.key = key
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)

    def claim_due(self, now: datetime, lease_s: float, limit: int) -> dict[str, float]:
        """Claim the ids due at ``now``: id → the end of its lease (the token ``renew`` needs)."""
        until = now.timestamp() + lease_s
        got = self._claim(keys=[self.key], args=[_score(now.timestamp()), _score(until), limit])
        return {_str(x): until for x in got}

    def renew(self, claims: Mapping[str, float], until: float) -> set[str]:
        """Extend the claims still held (their score is the given lease end) to ``until``; the ids kept."""
        if not claims:
            return set()
        args = [_score(until)]
        for nid, held in claims.items():
            args += [nid, _score(held)]
        return {_str(x) for x in self._renew(keys=[self.key], args=args)}


class LeaseKeeper:
    """The claims this process holds on one schedule, renewed every ``every_s`` while it holds any.

    ``hold`` after claiming, ``renew_now`` right before the work starts (an id it does not return
    is another alerter's now: leave its work to it), ``release`` before the work's result is written.
    """

    def __init__(self, schedule: Schedule, lease_s: float, now: Callable[[], datetime], *,
                 every_s: float | None = None) -> None:
        self.schedule = schedule
        self.lease_s = lease_s
        self.now = now
        self.every_s = lease_s / 3 if every_s is None else every_s
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()  # set when the last claim is released: the heartbeat ends at once
        self._thread: threading.Thread | None = None

    def hold(self, claims: Mapping[str, float]) -> None:
        with self._lock:
            self._held.update(claims)
            self._idle.clear()
            if self._held and self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._beat, name="sqm-lease", daemon=True)
                self._thread.start()

    def release(self, ids: Iterable[str]) -> None:
        with self._lock:
            for nid in ids:
                self._held.pop(nid, None)
            if not self._held:
                self._idle.set()

    def renew_now(self, ids: Iterable[str]) -> set[str]:
        """Renew these claims at once; the ids still ours (the others are forgotten)."""
        with self._lock:
            claims = {nid: self._held[nid] for nid in ids if nid in self._held}
        return self._renew(claims)

    def close(self) -> None:
        self._stop.set()
        self._idle.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.every_s + 5)

    def _renew(self, claims: Mapping[str, float]) -> set[str]:
        if not claims:
            return set()
        until = self.now().timestamp() + self.lease_s
        kept = self.schedule.renew(claims, until)
        with self._lock:
            for nid, held in claims.items():
                if self._held.get(nid) != held:
                    continue  # released, or renewed by another thread meanwhile
                if nid in kept:
                    self._held[nid] = until
                else:
                    del self._held[nid]
                    log.warning("claim on %s lost before its work ended (lease %.1f s)", nid, self.lease_s)
            return {nid for nid in claims if nid in self._held}

    def _beat(self) -> None:
        while True:
            self._idle.wait(self.every_s)
            with self._lock:
                if not self._held or self._stop.is_set():
                    self._thread = None
                    return
                claims = dict(self._held)
            try:
                self._renew(claims)
            except Exception:  # Redis unreachable: try again at the next beat; the lease may run out meanwhile
                log.exception("renewing %d claim(s) on %s failed", len(claims), self.schedule.key)
