"""API keys and roles.

A request carries its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
The key is compared with every configured key using ``hmac.compare_digest`` (no
early exit), so the time taken does not depend on which key matched or how much
of a key was right. Roles are ordered ``viewer < supervisor < admin``; ``ingest``
is a separate role that may only send events (``admin`` may too).

Keys are never logged or returned: a principal is known by its ``name`` (or its
role and position when it has none).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqm.config import ApiKey

Role = Literal["ingest", "viewer", "supervisor", "admin"]

RANK: dict[str, int] = {"viewer": 1, "supervisor": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a configured key's name and role, or an anonymous reader."""

    name: str
    role: Role
    authenticated: bool = True

    def may(self, need: Role) -> bool:
        """Whether this principal may do what ``need`` allows.

        >>> Principal("wallboard", "viewer").may("supervisor"), Principal("ops", "admin").may("viewer")
        (False, True)
        >>> Principal("feeder", "ingest").may("viewer"), Principal("ops", "admin").may("ingest")
        (False, True)
        """
        if need == "ingest":
            return self.role in ("ingest", "admin")
        if self.role == "ingest":
            return False
        return RANK[self.role] >= RANK[need]


def _digest(secret: str) -> bytes:
    # Comparing fixed-length digests keeps compare_digest's time independent of key lengths.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The configured keys, matched in constant time.

    >>> from pydantic import SecretStr
    >>> ring = KeyRing([ApiKey(key=SecretStr("s3cret-viewer-key"), role="viewer", name="wall")])
    >>> ring.match("s3cret-viewer-key"), ring.match("s3cret-viewer-kez")
    (Principal(name='wall', role='viewer', authenticated=True), None)
    """

    def __init__(self, keys: list[ApiKey], *, compare: Callable[[bytes, bytes], bool] = hmac.compare_digest) -> None:
        self._compare = compare
        self._entries = [
            (_digest(k.key.get_secret_value()), Principal(k.name or f"{k.role}-key-{i}", k.role))
            for i, k in enumerate(keys)
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, presented: str) -> Principal | None:
        probe = _digest(presented)
        found: Principal | None = None
        for digest, principal in self._entries:  # every key is compared, whatever matches
            if self._compare(digest, probe) and found is None:
                found = principal
        return found


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request presents, from ``Authorization: Bearer`` or ``X-API-Key``.

    >>> presented_key("Bearer abc", None), presented_key(None, "xyz"), presented_key("Basic abc", None)
    ('abc', 'xyz', None)
    """
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if x_api_key:
        return x_api_key.strip() or None
    return None
