"""Sending one message to one channel, and saying honestly how it went.

A receiver's URL picks its notifier (``alerts.notifier``) by its scheme, in ``NOTIFIERS``:

- a *checked bot* — ``wecombot://``, ``dingtalk://``, ``feishu://``, ``lark://`` (``alerts.bots``):
  sqm posts the vendor's payload and reads the vendor's code in the reply;
- ``json://`` / ``jsons://`` without query parameters: posted by sqm (``alerts.webhook``), on the
  sender's pooled HTTP client, with an ``Idempotency-Key``;
- ``mailto://`` / ``mailtos://``, and any other scheme: through Apprise, its socket timeouts
  (``cto``, ``rto``) set to ``alerts.timeout_s`` (a URL may set them lower, not higher). ``notify()`` returning
  False is a failed delivery (retried); a URL Apprise cannot load is ``invalid`` (a configuration
  bug, not retried forever);
- the built-in ``console`` receiver (no URL): one line on stderr.

Results are ``Delivery`` records; a send never raises into the engine. Only ``masked``
(Apprise's ``url(privacy=True)`` or the bot key cut to its ends) is ever logged or stored.

>>> target("wecombot://0123456789abcdef").masked
'wecombot://01...ef'
>>> target("mailto://user:pw@example.com?to=a@example.com&from=b@example.com").kind
'email'
>>> target("").render_as, target("json://example.com/hook").render_as
('console', 'generic')
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

import httpx

from alerts.bots import DINGTALK, FEISHU, LARK, WECOM
from alerts.notifier import Delivery, Notifier, Outgoing, Target, Wire
from alerts.webhook import WEBHOOK
from sqm.keys import short_hash
from sqm.redact import mask_url

__all__ = ["NOTIFIERS", "Delivery", "Sender", "Target", "notifier_for", "target"]


@dataclass(frozen=True, slots=True)
class AppriseCall:
    """An Apprise payload: the arguments of ``notify()``."""

    title: str
    body: str
    body_format: str
    """``text``, ``markdown`` or ``html`` (``apprise.NotifyFormat`` values)."""


class AppriseUrl:
    """Any URL Apprise can load (``mailto://``, ``json://``, ``wechat://``, …); ``kind`` picks the layout."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def target(self, url: str) -> Target:
        import apprise  # imported on first use: it loads every plugin

        plugin = apprise.Apprise.instantiate(url)
        masked = mask_url(url) if plugin is not None else f"{urlsplit(url).scheme.lower()}://(invalid)"  # privacy=True keeps path tokens
        return Target(self.kind, url, masked, short_hash(url), self.kind)

    def render(self, target: Target, message: Outgoing, now_s: float) -> AppriseCall:
        body_format = message.format if message.format in ("html", "markdown") else "text"
        return AppriseCall(message.title, message.body, body_format)

    def send(self, target: Target, payload: AppriseCall, wire: Wire) -> Delivery:
        import apprise

        with wire.lock:
            plugin = wire.plugins.get(target.url)
            if plugin is None:
                plugin = apprise.Apprise.instantiate(target.url)
                if plugin is None:
                    return Delivery("invalid", None, "Apprise cannot load this URL")
                bound_timeouts(plugin, target.url, wire.timeout_s)
                wire.plugins[target.url] = plugin
        ok = plugin.notify(body=payload.body, title=payload.title, body_format=apprise.NotifyFormat(payload.body_format))
        return Delivery("ok") if ok else Delivery("failed", None, "Apprise notify() returned False")


def bound_timeouts(plugin: Any, url: str, timeout_s: float) -> None:
    """Apprise's connect and read timeouts (``cto``, ``rto``; 4 s by default, 15 s for e-mail) set to
    ``timeout_s``, or to the URL's own value where it is lower."""
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    for param, attr in (("cto", "socket_connect_timeout"), ("rto", "socket_read_timeout")):
        try:
            own = float(query[param])
        except (KeyError, ValueError):
            own = timeout_s
        setattr(plugin, attr, min(own, timeout_s))


class Console:
    """The built-in ``console`` receiver: one line per message on the sender's console (stderr)."""

    kind = "console"

    def target(self, url: str) -> Target:
        return Target(self.kind, "", "console", "console", self.kind)

    def render(self, target: Target, message: Outgoing, now_s: float) -> str:
        return f"sqm alert: {' '.join(message.body.split()) or message.title}\n"

    def send(self, target: Target, payload: str, wire: Wire) -> Delivery:
        stream = wire.console or sys.stderr
        with wire.lock:
            stream.write(payload)
            with contextlib.suppress(Exception):
                stream.flush()
        return Delivery("ok")


CONSOLE = Console()
APPRISE = AppriseUrl("generic")
EMAIL = AppriseUrl("email")

NOTIFIERS: dict[str, Notifier[Any]] = {
    "wecombot": WECOM,
    "dingtalk": DINGTALK,
    "feishu": FEISHU,
    "lark": LARK,
    "mailto": EMAIL,
    "mailtos": EMAIL,
    "json": WEBHOOK,
    "jsons": WEBHOOK,
}
"""URL scheme → notifier; a scheme not listed goes through Apprise, a receiver without a URL to the console."""


def notifier_for(url: str, notifiers: Mapping[str, Notifier[Any]] = NOTIFIERS) -> Notifier[Any]:
    if not url:
        return CONSOLE
    found = notifiers.get(urlsplit(url).scheme.lower(), APPRISE)
    accepts = getattr(found, "accepts", None)
    return found if accepts is None or accepts(url) else APPRISE


def target(url: str, notifiers: Mapping[str, Notifier[Any]] = NOTIFIERS) -> Target:
    """Read a receiver URL (no network)."""
    return notifier_for(url, notifiers).target(url)


class Sender:
    """Sends to targets; one per alerter process (it keeps an HTTP client and loaded Apprise plugins).

    ``clock`` (epoch seconds) is what bot signatures are made at; ``transport`` an httpx transport for tests;
    ``notifiers`` the scheme → notifier table (targets must come from ``target(url, notifiers)`` with the same).
    """

    def __init__(self, *, timeout_s: float = 10.0, console: TextIO | None = None,
                 transport: httpx.BaseTransport | None = None, clock: Callable[[], float] = time.time,
                 notifiers: Mapping[str, Notifier[Any]] = NOTIFIERS) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self.notifiers = notifiers
        for name in ("httpx", "httpcore"):  # their INFO lines carry the full URL, i.e. the bot key
            quiet = logging.getLogger(name)
            if quiet.getEffectiveLevel() < logging.WARNING:
                quiet.setLevel(logging.WARNING)
        self._wire = Wire(httpx.Client(timeout=timeout_s, transport=transport), console, timeout_s)

    def close(self) -> None:
        self._wire.http.close()

    def send(self, t: Target, title: str, body: str, fmt: str, mentions: Sequence[str] = (), *,
             key: str = "") -> Delivery:
        """Render and send one message; ``key`` is the notification's id (kept across retries)."""
        started = time.perf_counter()
        notifier = notifier_for(t.url, self.notifiers)
        try:
            payload = notifier.render(t, Outgoing(title, body, fmt, tuple(mentions), key), self.clock())
            result = notifier.send(t, payload, self._wire)
        except Exception as err:  # a failed send never raises into the engine
            result = Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
        return Delivery(result.status, result.code, result.detail, round((time.perf_counter() - started) * 1000, 2))
