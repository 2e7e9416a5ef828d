"""The notifier interface: one class per channel kind, found by its URL's scheme (``alerts.channels``).

A notifier does three things, of which only the last touches the network:

- ``target(url)`` reads a receiver URL into a ``Target``: the kind, the masked URL that alone
  is logged or stored, the id its rate limit is kept under, the message layout it takes
  (a key of ``alerts.messages.LIMITS``) and what it needs to send (endpoint, key, secret);
- ``render(target, message, now_s)`` turns a rendered message into the kind's payload — the
  exact bytes for a bot, the arguments of an Apprise ``notify()``, a console line. It is a
  pure function of its arguments; the time is passed in so that signatures can be checked;
- ``send(target, payload, wire)`` delivers the payload and says how it went as a ``Delivery``.
  It may raise; ``alerts.channels.Sender`` turns that into a ``failed`` delivery, so a send
  never raises into the engine.

Adding a kind is one class with these three methods and one line in ``alerts.channels.NOTIFIERS``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO, TypeVar

import httpx

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Delivery:
    status: str
    """``ok``, ``failed`` (transport or HTTP error, retried), ``rejected`` (vendor code ≠ 0), ``rate_limited``,
    ``invalid`` (the URL cannot be used)."""
    code: str | None = None
    detail: str = ""
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver URL, read by its notifier (no network)."""

    kind: str
    """``wecom``, ``dingtalk``, ``feishu``, ``email``, ``generic`` or ``console``."""
    url: str
    masked: str
    channel_id: str
    """Stable id of the channel (the bot key's hash): the token bucket's key."""
    render_as: str
    """The message layout (``alerts.messages.LIMITS`` / ``FORMATS`` key) for this target."""
    rate_limited: bool = False
    """Whether sends share a token bucket per ``channel_id`` (the vendors' bots limit messages per minute)."""
    endpoint: str = ""
    key: str = ""
    secret: str = ""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered message (``alerts.messages.render``) on its way to one target."""

    title: str
    body: str
    format: str
    """``markdown``, ``text``, ``html`` or ``line``."""
    mentions: tuple[str, ...] = ()
    """People to @mention: user ids, or digits for mobile numbers."""
    key: str = ""
    """The notification's id: the same on every retry (a webhook's ``Idempotency-Key``)."""


@dataclass(slots=True)
class Wire:
    """What one ``Sender``'s notifiers send through: its HTTP client, console stream and loaded plugins."""

    http: httpx.Client
    console: TextIO | None = None
    timeout_s: float = 10.0
    """``alerts.timeout_s``: the bound of one send on every kind (the HTTP client's, Apprise's sockets)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while writing the console or touching ``plugins`` (sends run in a thread pool)."""
    plugins: dict[str, Any] = field(default_factory=dict)
    """Objects a notifier keeps per URL between sends (Apprise plugins), under ``lock``."""


class Notifier(Protocol[P]):
    """One channel kind; ``P`` is its payload type."""

    @property
    def kind(self) -> str: ...

    def target(self, url: str) -> Target: ...

    def render(self, target: Target, message: Outgoing, now_s: float) -> P: ...

    def send(self, target: Target, payload: P, wire: Wire) -> Delivery: ...


def mask(secret: str) -> str:
    """A key cut to its ends, for logs: ``01...ef`` (``****`` when it is short)."""
    return f"{secret[:2]}...{secret[-2:]}" if len(secret) > 6 else "****"
