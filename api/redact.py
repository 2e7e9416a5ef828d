"""A last line of defence before anything about notification channels leaves the API.

Channel URLs carry tokens in their user part, path or query (a webhook's key is
often its last path segment), so the API shows a channel only as its scheme and
host; the rest is elided whatever the alerts side already masked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_URL_FIELDS = frozenset({"channel", "channels", "url", "urls", "target"})


def mask_url(url: str) -> str:
    """Scheme and host only.

    >>> mask_url("json://hooks.example.com/0123456789abcdef?x=1"), mask_url("mailto://user:pw@mail.example.com")
    ('json://hooks.example.com/…', 'mailto://mail.example.com/…')
    >>> mask_url("console"), mask_url("wecombot://01...ef")
    ('console', 'wecombot://01...ef')
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url.split("://", 1)[0] + "://…"
    rest = parts.path.strip("/") or parts.query or parts.username or parts.password
    port = f":{parts.port}" if _port(parts) else ""
    return f"{parts.scheme}://{host}{port}{'/…' if rest else ''}"


def _port(parts: Any) -> int | None:
    try:
        return parts.port  # type: ignore[no-any-return]
    except ValueError:
        return None


def redact(value: Any, key: str = "") -> Any:
    """``value`` with every string under a channel/url key masked (dicts and lists walked)."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str) and key in _URL_FIELDS:
        return mask_url(value)
    return value
