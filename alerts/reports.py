"""Delivering a quality report through the alert receivers.

- an e-mail receiver (``mailto://`` / ``mailtos://``): one MIME message — the HTML
  body with its chart images inline (``multipart/related``, ``cid:`` references, so
  mail clients show them without loading anything) and the PDF attached — sent with
  smtplib to the server, account and recipients the Apprise URL names;
- a WeCom, DingTalk or Feishu bot: the short markdown summary (with the report's
  link) through the same ``Sender`` as alerts;
- any other Apprise URL: the summary as text.

``deliver_report`` never raises: each channel's outcome is a ``Delivery``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerts.channels import Delivery, Sender, target
from alerts.messages import FORMATS
from sqm.config import Settings
from sqm.errors import ConfigError

log = logging.getLogger("sqm.alerts")


@dataclass(frozen=True)
class ReportMessage:
    """A rendered report, in plain data (alerts/ knows nothing of how it was made)."""

    subject: str
    html: str
    """HTML referring to its images as ``cid:<name>``."""
    markdown: str
    images: Mapping[str, bytes] = field(default_factory=dict)
    pdf: bytes | None = None
    pdf_name: str = "report.pdf"


def mime_message(report: ReportMessage, sender: str, recipients: list[str]) -> EmailMessage:
    """The e-mail: text fallback, HTML with inline images, the PDF attached."""
    msg = EmailMessage()
    msg["Subject"] = report.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1] or "sqm")
    msg.set_content(report.markdown)
    msg.add_alternative(report.html, subtype="html")
    html_part: Any = msg.get_payload()[1]  # type: ignore[index]
    for name, png in report.images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{name}>", filename=f"{name}.png",
                              disposition="inline")
    if report.pdf is not None:
        msg.add_attachment(report.pdf, maintype="application", subtype="pdf", filename=report.pdf_name)
    return msg


def _send_mail(url: str, report: ReportMessage, timeout_s: float) -> Delivery:
    import apprise

    plugin: Any = apprise.Apprise.instantiate(url)
    if plugin is None or not hasattr(plugin, "smtp_host"):
        return Delivery("invalid", None, "Apprise cannot load this e-mail URL")
    recipients = [addr for _, addr in plugin.targets] or [plugin.from_addr[1]]
    sender = plugin.from_addr[1]
    msg = mime_message(report, sender, recipients)
    secure = getattr(plugin, "secure_mode", "insecure")
    try:
        if plugin.secure and secure == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(plugin.smtp_host, plugin.port, timeout=timeout_s,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(plugin.smtp_host, plugin.port, timeout=timeout_s)
            if plugin.secure:
                smtp.starttls(context=ssl.create_default_context())
        with smtp:
            if plugin.user and plugin.password:
                smtp.login(plugin.user, plugin.password)
            smtp.send_message(msg, from_addr=sender, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as err:
        return Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
    return Delivery("ok")


def deliver_report(settings: Settings, receiver_names: list[str], report: ReportMessage, *,
                   sender: Sender | None = None) -> list[dict[str, str]]:
    """Send ``report`` to each named receiver's channels; returns ``{receiver, channel, status, detail}`` rows."""
    by_name = {r.name: r for r in settings.alerts.receivers}
    unknown = [n for n in receiver_names if n not in by_name]
    if unknown:
        msg = f"improve.reports.receivers: unknown receiver {unknown[0]!r} (known: {sorted(by_name)})"
        raise ConfigError(msg)
    own = sender is None
    sender = sender or Sender(timeout_s=settings.alerts.timeout_s)
    rows = []
    try:
        for name in receiver_names:
            urls = [u.get_secret_value() for u in by_name[name].urls] or [""]
            for url in urls:
                t = target(url)
                started = time.perf_counter()
                if t.kind == "email":
                    result = _send_mail(url, report, settings.alerts.timeout_s)
                else:  # each channel in the layout its alerts use (bots: markdown where they render it)
                    result = sender.send(t, report.subject, report.markdown, FORMATS.get(t.render_as, "text"))
                log.info("report %r to %s (%s): %s %s", report.subject, name, t.masked, result.status, result.detail)
                rows.append({"receiver": name, "channel": t.masked, "status": result.status, "detail": result.detail,
                             "latency_ms": f"{(time.perf_counter() - started) * 1000:.0f}"})
    finally:
        if own:
            sender.close()
    return rows
