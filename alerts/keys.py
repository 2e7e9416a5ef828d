"""The alert engine's Redis keys (all under ``sqm:alert:``).

==============================  ===========  ==================================================
key                             type         holds
==============================  ===========  ==================================================
``sqm:anomalies``               stream       input; consumer group ``GROUP``
``sqm:alert:a:<fp>``            string       one ``Alert`` (JSON) per fingerprint
``sqm:alert:index``             sorted set   fingerprints by last update (epoch s)
``sqm:alert:timers``            sorted set   fingerprint → when its pending/held/ack state is due
``sqm:alert:escalations``       sorted set   fingerprint → when its next escalation level is due
``sqm:alert:g:<gk>``            string       a notification group's state (JSON)
``sqm:alert:g:<gk>:m``          set          the fingerprints in that group
``sqm:alert:groups``            sorted set   group key → when the group is next flushed
``sqm:alert:outbox``            hash         notification id → ``Notification`` (JSON)
``sqm:alert:outbox:due``        sorted set   notification id → when it is (re)tried; a claim pushes it by the lease
``sqm:alert:outbox:done``       sorted set   notification id → when it finished (trimmed)
``sqm:alert:deliveries``        stream       one entry per delivery attempt (capped)
``sqm:alert:silences``          hash         silence id → ``Silence`` (JSON)
``sqm:alert:bucket:<channel>``  hash         token bucket of one bot key (shared by every alerter)
==============================  ===========  ==================================================
"""

from __future__ import annotations

import hashlib

from sqm.keys import ANOMALIES, PREFIX

__all__ = ["ANOMALIES", "GROUP"]

P = f"{PREFIX}:alert"
GROUP = "sqm-alerter"
"""Consumer group of the alerters on ``sqm:anomalies``: a restart resumes, two alerters share the work."""

INDEX = f"{P}:index"
TIMERS = f"{P}:timers"
ESCALATIONS = f"{P}:escalations"
GROUPS = f"{P}:groups"
OUTBOX = f"{P}:outbox"
OUTBOX_DUE = f"{P}:outbox:due"
OUTBOX_DONE = f"{P}:outbox:done"
DELIVERIES = f"{P}:deliveries"
SILENCES = f"{P}:silences"


def alert(fingerprint: str) -> str:
    return f"{P}:a:{fingerprint}"


def group(group_key: str) -> str:
    return f"{P}:g:{group_key}"


def group_members(group_key: str) -> str:
    return f"{P}:g:{group_key}:m"


def bucket(channel_id: str) -> str:
    return f"{P}:bucket:{channel_id}"


def short_hash(*parts: str, size: int = 16) -> str:
    """A stable short id of some strings.

    >>> short_hash("a", "b") == short_hash("a", "b") != short_hash("ab")
    True
    """
    return hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:size]
