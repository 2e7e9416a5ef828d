"""Signed, expiring acknowledge links: a supervisor acknowledges from a phone without logging in.

A token is ``<fingerprint, base64url>.<expiry, epoch s>.<HMAC-SHA256, base64url>``.

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 3, 2, tzinfo=UTC)
>>> t = make_token(b"k", "swing|csat|5m|billing|*|*", now, ttl_s=3600)
>>> verify_token(b"k", t, now)
'swing|csat|5m|billing|*|*'
>>> try:
...     verify_token(b"other", t, now)
... except InvalidToken as err:
...     print(err)
ack link: bad signature
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqm.config import Settings
from sqm.errors import SqmError

DEV_SECRET = b"sqm-development-ack-links"


class InvalidToken(SqmError):
    """An acknowledge link that is malformed, forged or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, fp: str, exp: int) -> str:
    return _b64(hmac.new(secret, f"{fp}|{exp}".encode(), hashlib.sha256).digest()[:18])


def make_token(secret: bytes, fingerprint: str, now: datetime, ttl_s: float) -> str:
    exp = int(now.timestamp() + ttl_s)
    return f"{_b64(fingerprint.encode())}.{exp}.{_sign(secret, fingerprint, exp)}"


def verify_token(secret: bytes, token: str, now: datetime) -> str:
    """The fingerprint the token acknowledges; raises InvalidToken."""
    try:
        fp_part, exp_part, sig = token.split(".")
        fp, exp = _unb64(fp_part).decode(), int(exp_part)
    except (ValueError, UnicodeDecodeError) as err:
        msg = "ack link: malformed token"
        raise InvalidToken(msg) from err
    if not hmac.compare_digest(sig, _sign(secret, fp, exp)):
        msg = "ack link: bad signature"
        raise InvalidToken(msg)
    if now.timestamp() > exp:
        msg = f"ack link: expired at {datetime.fromtimestamp(exp, tz=now.tzinfo).isoformat()}"
        raise InvalidToken(msg)
    return fp


def secret_of(settings: Settings) -> bytes | None:
    """The signing key; None (no links) in production without a configured secret."""
    raw = settings.alerts.signing_secret.get_secret_value()
    if raw:
        return raw.encode()
    return DEV_SECRET if settings.environment == "development" else None


def base_url(settings: Settings) -> str:
    return (settings.api.base_url or f"http://{settings.api.host}:{settings.api.port}").rstrip("/")


def ack_url(settings: Settings, fingerprint: str, now: datetime) -> str:
    secret = secret_of(settings)
    if secret is None:
        return ""
    token = make_token(secret, fingerprint, now, settings.alerts.ack_link_ttl_s)
    return base_url(settings) + settings.alerts.ack_path.format(token=token)
