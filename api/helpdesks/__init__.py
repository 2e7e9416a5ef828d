"""Helpdesk webhooks → ServiceEvents: one module per helpdesk, registered here.

A helpdesk sends facts in its own shape, signed its own way. Each module defines
``verify`` (its signature check) and ``to_events`` (its payload → ``Mapped``
events) and bundles them as ``HELPDESK``; ``HELPDESKS`` maps the ``kind`` of an
``api.webhooks`` source to it. What cannot be mapped raises ``Unmappable`` naming
the field; the route dead-letters it (``sqm:dlq``) rather than refusing the
delivery, so the helpdesk does not retry or disable the webhook.

Adding a helpdesk: a module here with ``HELPDESK``, a line below, and its name in
``WebhookSource.kind`` (sqm/config), which refuses unknown kinds at start-up.
"""

from __future__ import annotations

from api.helpdesks import chatwoot, zendesk
from api.helpdesks.common import BadSignature, Helpdesk, Mapped, Unmappable

HELPDESKS: dict[str, Helpdesk] = {
    "chatwoot": chatwoot.HELPDESK,
    "zendesk": zendesk.HELPDESK,
}

__all__ = ["HELPDESKS", "BadSignature", "Helpdesk", "Mapped", "Unmappable"]
