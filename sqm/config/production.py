"""What ``environment: production`` refuses, every rule in one table.

``Settings`` runs these rules as part of its validation, so whatever refuses to
start (``sqm api``, ``sqm flow``, ``sqm alerter``) is refused by
``sqm check-config`` too. Each rule yields problems as ``"key: reason"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqm.config.settings import Settings

MIN_KEY_CHARS = 16


def _api_keys_configured(s: Settings) -> Iterator[str]:
    if not s.api.keys:
        yield "api.keys: production needs at least one API key (set SQM_API__KEYS or api.keys in sqm.yaml)"


def _api_keys_long(s: Settings) -> Iterator[str]:
    for k in s.api.keys:
        if len(k.key.get_secret_value()) < MIN_KEY_CHARS:
            yield f"api.keys[{k.name or k.role}].key: use at least {MIN_KEY_CHARS} characters in production"


def _webhooks_signed(s: Settings) -> Iterator[str]:
    for w in s.api.webhooks:
        if not w.secret.get_secret_value():
            yield f"api.webhooks[{w.name}].secret: production needs a signing secret for every webhook source"


PRODUCTION_RULES: tuple[Callable[[Settings], Iterator[str]], ...] = (
    _api_keys_configured,
    _api_keys_long,
    _webhooks_signed,
)


def production_problems(settings: Settings) -> list[str]:
    """Every production rule the settings break (empty in development)."""
    if settings.environment != "production":
        return []
    return [problem for rule in PRODUCTION_RULES for problem in rule(settings)]
