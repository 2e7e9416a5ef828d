"""The persisted outbox: every notification is stored in Redis before it is sent.

A notification waits in ``sqm:alert:outbox:due`` (score = when to try). An alerter
*claims* due notifications atomically (``alerts.lease``: their score becomes the end of
a send lease), so two alerters never send the same one. While the notification waits
for a sender and while it is sent, a heartbeat renews the lease; a send starts only
after a renewal succeeded, so a send slower than the lease is not claimed, and sent,
again. A process killed mid-send stops renewing: its notifications are tried again
once their lease ends. Each attempt is stored in the
notification (and in the ``sqm:alert:deliveries`` stream) with the masked channel,
status, vendor code and latency. Failures are retried with exponential back-off
until ``give_up_after_s``; a critical notification that keeps failing (or is
rejected) is copied once to the receiver's ``failover`` receiver.

Bot channels (WeCom, DingTalk, Feishu) share a token bucket per bot key across
processes; notifications that find it empty wait for the next token and are then
folded into one digest with whatever else waits for that bot.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from alerts.channels import Delivery, Sender, Target, target
from alerts.lease import LeaseKeeper, Schedule
from alerts.messages import render
from alerts.notifications import (
    Attempt,
    Notification,
    backoff_s,
    decode_notification,
    latest_attempts,
    latest_notifications,
    read_notification,
    urls_of,
    views_of,
)
from sqm import keys
from sqm.config import AlertSettings, Receiver
from sqm.models import encode

__all__ = ["Attempt", "Notification", "Outbox", "backoff_s", "latest_attempts", "latest_notifications",
           "read_notification", "urls_of"]

log = logging.getLogger("sqm.alerts")

Restate = Callable[[dict[str, Any], list[str], datetime], tuple[dict[str, Any] | None, str]]
"""(context, fingerprints, now) → (the context as of now, or None: superseded; why)."""

_BUCKET = """
local cap = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * per_ms)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / per_ms) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return wait
"""


class Outbox:
    def __init__(self, redis: Any, settings: AlertSettings, *, sender: Sender, consumer: str,
                 now: Callable[[], datetime], workers: int = 8, receivers: Sequence[Receiver] | None = None,
                 restate: Restate | None = None) -> None:
        self.redis = redis
        self.restate = restate
        """Rewrites a notification's context just before it is sent (``alerts.restate``); None: as queued."""
        self.settings = settings
        self.sender = sender
        self.consumer = consumer
        self.now = now
        self.receivers = {r.name: r for r in (settings.receivers if receivers is None else receivers)}
        self.due = Schedule(redis, keys.OUTBOX_DUE)
        self.leases = LeaseKeeper(self.due, settings.send_lease_s, now)
        self._bucket = redis.register_script(_BUCKET)
        self._targets: dict[tuple[str, int], Target] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqm-send") if workers else None
        self._workers = workers
        self._inflight: set[Future[None]] = set()
        self._records = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.leases.close()

    def target(self, receiver: str, index: int) -> Target:
        got = self._targets.get((receiver, index))
        if got is None:
            got = self._targets[(receiver, index)] = target(urls_of(self.receivers[receiver])[index])
        return got

    # --- writing -------------------------------------------------------------------
    def enqueue(self, receiver: str, *, kind: str, id_parts: Sequence[str], title: str, ctx: dict[str, Any],
                lang: str, severity: str = "warning", reason: str = "", group_key: str = "",
                fingerprints: Sequence[str] = (), now: datetime, failover_of: str | None = None,
                pipe: Any = None) -> list[str]:
        """Store one notification per URL of the receiver; ids derive from ``id_parts`` so a repeat is a no-op.

        A replayed step finds its notification already stored (HSETNX keeps the first); if that one was
        delivered already, ``process`` drops the id again instead of sending. With ``pipe`` the commands
        join the caller's pipeline.
        """
        rec = self.receivers.get(receiver)
        if rec is None:
            log.error("notification to unknown receiver %r dropped", receiver)
            return []
        ids = []
        own = pipe is None
        pipe = self.redis.pipeline(transaction=False) if own else pipe
        for i, _ in enumerate(urls_of(rec)):
            t = self.target(receiver, i)
            nid = keys.short_hash(*id_parts, receiver, str(i), size=20)
            n = Notification(id=nid, kind=kind, receiver=receiver, url_index=i, channel=t.masked, title=title,
                             severity=severity, reason=reason, lang=lang, ctx=ctx, group_key=group_key,
                             fingerprints=list(fingerprints), created_at=now, due_at=now, failover_of=failover_of)
            pipe.hsetnx(keys.OUTBOX, nid, encode(n))
            pipe.zadd(keys.OUTBOX_DUE, {nid: now.timestamp()}, nx=True)
            ids.append(nid)
        if own:
            pipe.execute()
        return ids

    def get(self, nid: str) -> Notification | None:
        return read_notification(self.redis, nid)

    # --- sending -------------------------------------------------------------------
    def pending_count(self) -> int:
        return int(self.redis.zcard(keys.OUTBOX_DUE))

    def next_due(self) -> float | None:
        got = self.redis.zrange(keys.OUTBOX_DUE, 0, 0, withscores=True)
        return got[0][1] if got else None

    def process(self, *, wait: bool = True, limit: int = 200) -> int:
        """Claim what is due and send it (in the pool); returns how many notifications were claimed."""
        self._inflight = {f for f in self._inflight if not f.done()}
        if self._pool is not None and not wait:  # claim no more than the pool can start soon (leases stay honest)
            limit = min(limit, max(0, self._workers * 4 - len(self._inflight)))
            if limit == 0:
                return 0
        now = self.now()
        claims = self.due.claim_due(now, self.settings.send_lease_s, limit)
        ids = list(claims)
        if not ids:
            return 0
        raws = self.redis.hmget(keys.OUTBOX, ids)
        by_channel: dict[tuple[str, int], list[Notification]] = defaultdict(list)
        for nid, raw in zip(ids, raws, strict=True):
            if raw is None:
                self.redis.zrem(keys.OUTBOX_DUE, nid)
                continue
            n = decode_notification(raw)
            if n.status != "pending":
                self.redis.zrem(keys.OUTBOX_DUE, nid)
                continue
            rec = self.receivers.get(n.receiver)
            if rec is None or n.url_index >= len(urls_of(rec)):  # the configuration changed since it was queued
                log.error("notification %s: receiver %r (URL #%d) is no longer configured", nid, n.receiver,
                          n.url_index)
                n.status = "invalid"
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(keys.OUTBOX, nid, encode(n))
                pipe.zrem(keys.OUTBOX_DUE, nid)
                pipe.zadd(keys.OUTBOX_DONE, {nid: now.timestamp()})
                pipe.execute()
                continue
            by_channel[(n.receiver, n.url_index)].append(n)
        self.leases.hold({n.id: claims[n.id] for batch in by_channel.values() for n in batch})
        futures = []
        for batch in by_channel.values():
            t = self.target(batch[0].receiver, batch[0].url_index)
            batches = [batch] if t.rate_limited else [[n] for n in batch]
            for b in batches:
                if self._pool is None:
                    self._deliver(t, b)
                else:
                    futures.append(self._pool.submit(self._deliver, t, b))
        self._inflight.update(futures)
        if wait:
            for f in futures:
                f.result()
        return len(ids)

    def wait_idle(self) -> None:
        for f in list(self._inflight):
            f.result()

    def _deliver(self, t: Target, batch: list[Notification]) -> None:
        ids = [n.id for n in batch]
        try:
            kept = self.leases.renew_now(ids)  # a full lease ahead of the send, or the claim is someone else's
            batch = [n for n in batch if n.id in kept]
            if len(batch) < len(ids):
                log.warning("%s: %d notification(s) lost their claim while waiting for a sender; left to its holder",
                            t.masked, len(ids) - len(batch))
            if batch:
                self._deliver_batch(t, batch)
        except Exception:  # never kill the pool thread; the lease expires and another try happens
            log.exception("delivery to %s failed unexpectedly", t.masked)
        finally:
            self.leases.release(ids)

    def _deliver_batch(self, t: Target, batch: list[Notification]) -> None:
        now = self.now()
        if t.rate_limited:
            wait_ms = int(self._bucket(keys=[keys.bot_bucket(t.channel_id)],
                                       args=[self.settings.bot_rate_per_min, self.settings.bot_rate_per_min / 60000,
                                             int(now.timestamp() * 1000)]))
            if wait_ms > 0:  # no token: everything waiting for this bot goes out together at the next token
                due = now.timestamp() + wait_ms / 1000
                self.leases.release(n.id for n in batch)
                self.redis.zadd(keys.OUTBOX_DUE, {n.id: due for n in batch})
                log.info("%s: rate limit, %d notification(s) wait %.1f s", t.masked, len(batch), wait_ms / 1000)
                return
        batch = self._restated(batch, now)
        if not batch:
            return
        head = batch[0]
        rec = self.receivers[head.receiver]
        lang = rec.language
        firing = [v for n in batch for v in views_of(n.ctx, "firing", lang)]
        resolved = [v for n in batch for v in views_of(n.ctx, "resolved", lang)]
        mentions = list(dict.fromkeys(m for n in batch for m in n.ctx.get("mentions", [])))
        reason = head.ctx.get("reason", head.reason)
        if len(batch) > 1:
            reason = "first" if firing else "resolved"
        msg = render(t.render_as, lang, reason, firing, resolved, mentions=mentions,
                     wallboard_url=head.ctx.get("wallboard_url", ""), escalation=head.ctx.get("escalation"))
        result = self.sender.send(t, msg.title, msg.body, msg.format, mentions, key=head.id)
        self._record(t, head, batch[1:], result, now)

    def _restated(self, batch: list[Notification], now: datetime) -> list[Notification]:
        """The batch as of now: each context restated, superseded ones finished without a send."""
        if self.restate is None:
            return batch
        kept = []
        for n in batch:
            ctx, why = self.restate(n.ctx, n.fingerprints, now)
            if ctx is not None:
                n.ctx = ctx
                kept.append(n)
                continue
            log.info("notification %s %s dropped at send time (%s)", n.kind, n.id, why)
            n.status = "superseded"
            n.attempts.append(Attempt(at=now, channel=n.channel, status="superseded", detail=why, by=self.consumer))
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(keys.OUTBOX, n.id, encode(n))
            pipe.zrem(keys.OUTBOX_DUE, n.id)
            pipe.zadd(keys.OUTBOX_DONE, {n.id: now.timestamp()})
            pipe.execute()
            self.leases.release([n.id])
        return kept

    def _record(self, t: Target, head: Notification, folded: list[Notification], result: Delivery,
                started: datetime) -> None:
        now = self.now()
        attempt = Attempt(at=started, channel=t.masked, status=result.status, code=result.code, detail=result.detail,
                          latency_ms=result.latency_ms, by=self.consumer)
        level = logging.INFO if result.ok else logging.WARNING
        log.log(level, "notify %s %s via %s: %s%s", head.kind, head.id, t.masked, result.status,
                f" ({result.code} {result.detail})" if not result.ok else "")
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(keys.DELIVERIES, {"id": head.id, "receiver": head.receiver, "channel": t.masked,
                                    "status": result.status, "code": result.code or "", "detail": result.detail,
                                    "latency_ms": str(result.latency_ms), "at": now.isoformat(),
                                    "folded": str(len(folded))},
                  maxlen=10_000, approximate=True)
        if result.status == "rate_limited" and t.rate_limited:  # the vendor says so: every alerter waits
            pipe.hset(keys.bot_bucket(t.channel_id), mapping={"t": "0", "ts": str(int(now.timestamp() * 1000))})
        to_failover: Notification | None = None
        for n in [head, *folded]:
            n.attempts.append(attempt)
            if len(n.attempts) > 50:
                del n.attempts[1:-49]
            if result.ok:
                n.status, n.delivered_at = "delivered", now
                if n is head:
                    n.folded = [f.id for f in folded]
                else:
                    n.folded_into = head.id
                pipe.zrem(keys.OUTBOX_DUE, n.id)
                pipe.zadd(keys.OUTBOX_DONE, {n.id: now.timestamp()})
            elif result.status == "invalid" or (now - n.created_at).total_seconds() > self.settings.give_up_after_s:
                n.status = "invalid" if result.status == "invalid" else "failed"
                pipe.zrem(keys.OUTBOX_DUE, n.id)
                pipe.zadd(keys.OUTBOX_DONE, {n.id: now.timestamp()})
            else:
                fails = sum(1 for a in n.attempts if a.status != "ok")
                delay = backoff_s(fails, self.settings.retry_base_s, self.settings.retry_max_s)
                n.due_at = now + timedelta(seconds=delay)
                pipe.zadd(keys.OUTBOX_DUE, {n.id: n.due_at.timestamp()})
            if not result.ok and self._should_fail_over(n, result):
                n.failed_over = True
                to_failover = to_failover or n
            pipe.hset(keys.OUTBOX, n.id, encode(n))
        self.leases.release(n.id for n in [head, *folded])  # the result decides what is due next, not the lease
        pipe.execute()
        if to_failover is not None:
            self._fail_over(to_failover, now)
        self._records += 1
        if self._records % 200 == 0:
            self._trim(now)

    def _should_fail_over(self, n: Notification, result: Delivery) -> bool:
        rec = self.receivers.get(n.receiver)
        if rec is None or rec.failover is None or n.failed_over or n.severity != "critical" or n.failover_of:
            return False
        fails = sum(1 for a in n.attempts if a.status != "ok")
        return result.status in ("rejected", "invalid") or fails >= self.settings.failover_after

    def _fail_over(self, n: Notification, now: datetime) -> None:
        rec = self.receivers[n.receiver]
        assert rec.failover is not None
        log.warning("critical notification %s failed on %s: failing over to %s", n.id, n.channel, rec.failover)
        self.enqueue(rec.failover, kind="failover", id_parts=("failover", n.id), title=n.title, ctx=n.ctx,
                     lang=self.receivers[rec.failover].language, severity=n.severity, reason=n.reason,
                     group_key=n.group_key, fingerprints=n.fingerprints, now=now, failover_of=n.id)

    def _trim(self, now: datetime, keep: int = 5000) -> None:
        extra = int(self.redis.zcard(keys.OUTBOX_DONE)) - keep
        if extra > 100:
            old = self.redis.zrange(keys.OUTBOX_DONE, 0, extra - 1)
            pipe = self.redis.pipeline(transaction=False)
            pipe.hdel(keys.OUTBOX, *old)
            pipe.zrem(keys.OUTBOX_DONE, *old)
            pipe.execute()
