"""Helpdesk webhooks → ServiceEvents: one module per helpdesk, registered here.

A helpdesk sends facts in its own shape, signed its own way. Each module defines
``verify`` (its signature check) and ``to_events`` (a delivery's bytes → its typed
payload → ``Mapped`` events) and bundles them as ``HELPDESK``; ``HELPDESKS`` maps the
``kind`` of an ``api.webhooks`` source to it. ``to_events`` is total: bytes that are
not the helpdesk's payload raise ``Malformed`` (the route answers 422), a payload that
cannot be mapped raises ``Unmappable`` (the route answers 202 ``dead_lettered``); both
name the field and are written to the dead-letter stream (``sqm:dlq``). Neither is a
5xx, which helpdesks retry for ever.

Adding a helpdesk: a module here with ``HELPDESK``, a line below, and its name in
``WebhookSource.kind`` (sqm/config), which refuses unknown kinds at start-up.
"""

from __future__ import annotations

from api.helpdesks import chatwoot, zendesk
from api.helpdesks.common import BadSignature, Helpdesk, Malformed, Mapped, Unmappable

HELPDESKS: dict[str, Helpdesk] = {
    "chatwoot": chatwoot.HELPDESK,
    "zendesk": zendesk.HELPDESK,
}

__all__ = ["HELPDESKS", "BadSignature", "Helpdesk", "Malformed", "Mapped", "Unmappable"]
