"""Masking what must not leave a process: URLs that carry tokens, and text that would drive a terminal.

Notification URLs (Apprise's, a bot's webhook) carry their secret in the user part, the
password, a path segment or the query string, and Apprise's own ``url(privacy=True)``
masks only passwords. So a URL is shown only as its scheme and host (``mask_url``),
free text (an exception message, a configuration error) has every URL in it masked so
(``redact_text``), and names shown to people have their non-printable characters
escaped (``printable``). Every package calls these; this module imports nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,30}://[^\s'\"<>]+")


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


def redact_text(text: str) -> str:
    """``text`` with every URL in it masked to its scheme and host (for log lines and error messages).

    >>> redact_text("sending to json://u:hunter2@hooks.example.com/t0k3n?key=s3 failed: timeout")
    'sending to json://hooks.example.com/… failed: timeout'
    """
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


def printable(text: str) -> str:
    """``text`` with its non-printable characters escaped (``\\x1b``, ``\\u202e``): safe on a terminal or a page.

    >>> printable("billing"), printable("bill\\x1b[31ming"), printable("\\u202egnillib")
    ('billing', 'bill\\\\x1b[31ming', '\\\\u202egnillib')
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
