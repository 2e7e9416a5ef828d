"""The alert engine: anomalies → alerts → routing, grouping, muting, escalation → Apprise.

Entry points: ``alerts.runner.run_alerter`` (the ``sqm alerter`` process),
``alerts.service`` (functions the API calls), ``alerts.notify_test`` (``sqm notify-test``).
Alert state is read and written through ``alerts.store.AlertStore`` by both.
See docs/alerts.md.
"""

from __future__ import annotations

from typing import Any, TextIO

from sqm.config import Settings
from sqm.errors import ConfigError


def notify_test(settings: Settings, receiver_name: str, *, console: TextIO | None = None) -> list[dict[str, Any]]:
    """Send a test message to every URL of one receiver, now, and say how each went.

    Returns one dict per URL: ``receiver``, ``channel`` (masked), ``status`` (``ok``, ``failed``,
    ``rejected``, ``rate_limited``, ``invalid``), ``code`` (vendor code), ``detail``, ``latency_ms``.
    Raises ConfigError for an unknown receiver.
    """
    from alerts.acklink import base_url
    from alerts.channels import Sender, target
    from alerts.messages import render
    from alerts.outbox import urls_of

    found = {r.name: r for r in settings.alerts.receivers}
    rec = found.get(receiver_name)
    if rec is None:
        msg = f"alerts.receivers: no receiver named {receiver_name!r} (known: {sorted(found)})"
        raise ConfigError(msg)
    sender = Sender(timeout_s=settings.alerts.timeout_s, console=console)
    results = []
    try:
        for url in urls_of(rec):
            t = target(url)
            message = render(t.render_as, rec.language, "test", [], [], mentions=rec.mention,
                             wallboard_url=base_url(settings) + settings.alerts.wallboard_path)
            d = sender.send(t, message.title, message.body, message.format, rec.mention)
            results.append({"receiver": rec.name, "channel": t.masked, "status": d.status, "code": d.code,
                            "detail": d.detail, "latency_ms": d.latency_ms})
    finally:
        sender.close()
    return results
