"""Plain JSON webhooks (``json://`` / ``jsons://``), posted by sqm itself on the sender's pooled HTTP client.

The body is the one Apprise's ``json://`` plugin posts (``version``, ``title``, ``message``,
``attachments``, ``type``), so a receiver written for Apprise reads it unchanged; sqm posts it
through one keep-alive ``httpx`` client with the ``alerts.timeout_s`` timeout instead of a new
``requests`` connection per message. Every request carries ``Idempotency-Key``: the notification's
id, the same on every retry, so a receiver that saw a request whose answer was lost (a timeout)
can drop the repeat. A URL with query parameters (Apprise's ``+header``, ``-param``, ``:field``,
``method=`` …) is left to Apprise (``accepts``).

>>> t = WEBHOOK.target("jsons://user:s3cret@hooks.example.com:8443/a/b")
>>> t.endpoint, t.masked
('https://hooks.example.com:8443/a/b', 'jsons://hooks.example.com:8443/…')
>>> WEBHOOK.accepts("json://example.com/x"), WEBHOOK.accepts("json://example.com/x?+X-Token=1")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from alerts.bots import encode_json
from alerts.notifier import Delivery, Outgoing, Target, Wire
from sqm.keys import short_hash
from sqm.redact import mask_url


@dataclass(frozen=True, slots=True)
class JsonPost:
    url: str
    content: bytes
    headers: dict[str, str]
    auth: tuple[str, str] | None = None


class JsonWebhook:
    kind = "generic"

    def accepts(self, url: str) -> bool:
        """Whether sqm posts this URL itself (no query parameters); else Apprise does."""
        return not urlsplit(url).query

    def target(self, url: str) -> Target:
        parts = urlsplit(url)
        secure = parts.scheme.lower() == "jsons"
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        endpoint = f"{'https' if secure else 'http'}://{netloc}{parts.path or '/'}"
        return Target(self.kind, url, mask_url(url), short_hash(url), "generic", endpoint=endpoint,
                      key=unquote(parts.username or ""), secret=unquote(parts.password or ""))

    def render(self, target: Target, message: Outgoing, now_s: float) -> JsonPost:
        body = {"version": "1.0", "title": message.title, "message": message.body, "attachments": [],
                "type": "info"}
        headers = {"Content-Type": "application/json", "User-Agent": "sqm"}
        if message.key:
            headers["Idempotency-Key"] = message.key
        auth = (target.key, target.secret) if target.key else None
        return JsonPost(target.endpoint, encode_json(body), headers, auth)

    def send(self, target: Target, payload: JsonPost, wire: Wire) -> Delivery:
        auth = httpx.BasicAuth(*payload.auth) if payload.auth else httpx.USE_CLIENT_DEFAULT
        try:
            reply = wire.http.post(payload.url, content=payload.content, headers=payload.headers, auth=auth)
        except httpx.TimeoutException as err:
            return Delivery("failed", None, f"no answer within {wire.timeout_s:g} s ({type(err).__name__})")
        except httpx.HTTPError as err:
            return Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
        if 200 <= reply.status_code < 300:
            return Delivery("ok", str(reply.status_code))
        return Delivery("failed", str(reply.status_code), f"HTTP {reply.status_code}")


WEBHOOK = JsonWebhook()
