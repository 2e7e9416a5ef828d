"""The outbox's records: a ``Notification`` and its ``Attempt``s, and reading them back (for the API).

The notification is stored in ``sqm:alert:outbox`` before it is sent (``alerts.outbox``); every
attempt is kept in it and in the ``sqm:alert:deliveries`` stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from sqm import keys
from sqm.config import Receiver


class Attempt(msgspec.Struct, kw_only=True):
    at: datetime
    channel: str
    status: str
    code: str | None = None
    detail: str = ""
    latency_ms: float = 0.0
    by: str = ""


class Notification(msgspec.Struct, kw_only=True):
    """One message for one URL of one receiver; ``ctx`` is what ``messages.render`` needs."""

    id: str
    kind: str
    """``digest``, ``escalation``, ``failover`` or ``test``."""
    receiver: str
    url_index: int
    channel: str
    """The masked URL (or ``console``)."""
    title: str
    severity: str = "warning"
    reason: str = ""
    lang: str = "zh"
    ctx: dict[str, Any] = msgspec.field(default_factory=dict)
    group_key: str = ""
    fingerprints: list[str] = msgspec.field(default_factory=list)
    created_at: datetime
    due_at: datetime
    status: str = "pending"
    """``pending``, ``delivered``, ``failed`` (gave up), ``invalid`` (the URL cannot be used) or ``superseded``
    (dropped at send time: what it would say is no longer true, see ``alerts.restate``)."""
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    delivered_at: datetime | None = None
    folded: list[str] = msgspec.field(default_factory=list)
    """ids of notifications sent inside this one (rate-limit overflow)."""
    folded_into: str | None = None
    failover_of: str | None = None
    failed_over: bool = False


decode_notification = msgspec.json.Decoder(Notification).decode
"""JSON → Notification."""


def backoff_s(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): base, 2·base, 4·base … up to ``cap``.

    >>> [backoff_s(n, 2, 30) for n in range(1, 7)]
    [2, 4, 8, 16, 30, 30]
    """
    return min(cap, base * 2 ** (attempt - 1))


def views_of(ctx: dict[str, Any], key: str, lang: str) -> list[dict[str, Any]]:
    got = ctx.get(key) or []
    return (got.get(lang) or got.get("en") or []) if isinstance(got, dict) else got


def urls_of(receiver: Receiver) -> list[str]:
    return [u.get_secret_value() for u in receiver.urls] or ([""] if receiver.name == "console" else [])


def _str(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


def read_notification(redis: Any, nid: str) -> Notification | None:
    raw = redis.hget(keys.OUTBOX, nid)
    return decode_notification(raw) if raw else None


def latest_notifications(redis: Any, limit: int) -> list[Notification]:
    """Up to ``limit`` pending notifications (soonest due first), then the latest finished ones."""
    pending = [_str(x) for x in redis.zrange(keys.OUTBOX_DUE, 0, limit - 1)]
    done = [_str(x) for x in redis.zrevrange(keys.OUTBOX_DONE, 0, limit - 1)]
    ids = list(dict.fromkeys(pending + done))
    raws = redis.hmget(keys.OUTBOX, ids) if ids else []
    return [decode_notification(r) for r in raws if r]


def latest_attempts(redis: Any, limit: int) -> list[dict[str, str]]:
    """The latest delivery attempts from ``sqm:alert:deliveries``, newest first."""
    out = []
    for entry_id, fields in redis.xrevrange(keys.DELIVERIES, count=limit):
        row = {_str(k): _str(v) for k, v in fields.items()}
        row["entry"] = _str(entry_id)
        out.append(row)
    return out
