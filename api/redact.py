"""A last line of defence before anything about notification channels leaves the API.

Channel URLs carry tokens in their user part, path or query (a webhook's key is
often its last path segment), so the API shows a channel only as its scheme and
host (``sqm.redact.mask_url``); the rest is elided whatever the alerts side already masked.
"""

from __future__ import annotations

from typing import Any

from sqm.redact import mask_url

_URL_FIELDS = frozenset({"channel", "channels", "url", "urls", "target"})


def redact(value: Any, key: str = "") -> Any:
    """``value`` with every string under a channel/url key masked (dicts and lists walked)."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str) and key in _URL_FIELDS:
        return mask_url(value)
    return value
