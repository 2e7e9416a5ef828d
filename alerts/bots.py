"""The checked bots: WeCom, DingTalk and Feishu/Lark group bots, posted by sqm itself.

Their APIs answer HTTP 200 even when they reject a message, so sqm posts the vendor's JSON
payload (UTF-8, compact, no ASCII escaping) and reads the vendor's code in the reply body
(``errcode`` / ``code`` / ``StatusCode``). ``?api=http://host:port/path`` points a bot at
another endpoint (a proxy, or a test server imitating the vendor).

- ``wecombot://KEY`` — markdown with ``<@id>`` mentions in the text; ``?format=text`` sends
  text with ``mentioned_list`` / ``mentioned_mobile_list``.
- ``dingtalk://[SECRET@]TOKEN`` — markdown or text with ``at``; with a secret, the request
  carries ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, "ts\\nsecret")).
- ``feishu://[SECRET@]TOKEN`` and ``lark://…`` — text; with a secret, the body carries
  ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256("ts\\nsecret", "")).

>>> read_reply(200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}', WeComBot.rate_codes)
('rate_limited', '45009', 'api freq out of limit')
>>> WECOM.target("wecombot://0123456789abcdef").masked
'wecombot://01...ef'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from alerts.notifier import Delivery, Outgoing, Target, Wire, mask
from sqm.keys import short_hash

_JSON = {"Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class HttpPost:
    """A bot's payload: where to post it and the exact bytes."""

    url: str
    params: dict[str, str]
    content: bytes


def encode_json(payload: dict[str, Any]) -> bytes:
    """The exact bytes sqm posts: UTF-8 JSON, no ASCII escaping, compact."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def read_reply(http_status: int, body: bytes, rate_codes: Collection[str]) -> tuple[str, str | None, str]:
    """A bot's reply → (status, vendor code, message); ``rate_codes`` are the vendor's "try later" codes."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    raw = data.get("errcode", data.get("code", data.get("StatusCode")))
    code = None if raw is None else str(raw)
    detail = str(data.get("errmsg", data.get("msg", data.get("StatusMessage", ""))))[:200]
    if http_status == 429 or code in rate_codes:
        return "rate_limited", code, detail or f"HTTP {http_status}"
    if http_status >= 400:
        return "failed", code or str(http_status), detail or f"HTTP {http_status}"
    if code is None:
        return "rejected", None, "reply carries no errcode/code"
    if code != "0":
        return "rejected", code, detail
    return "ok", code, detail


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _bot_format(message: Outgoing) -> str:
    return "markdown" if message.format == "markdown" else "text"


class _Bot:
    """What the three bots share: reading ``scheme://[SECRET@]TOKEN`` and posting with the vendor's codes."""

    kind: ClassVar[str]
    rate_codes: ClassVar[frozenset[str]]

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def target(self, url: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        key, secret = self._credentials(url)
        endpoint = _query(url).get("api") or self.endpoint
        return Target(self.kind, url, f"{scheme}://{mask(key)}", short_hash(scheme, key), self._layout(url),
                      rate_limited=True, endpoint=endpoint, key=key, secret=secret)

    def _credentials(self, url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return unquote(parts.hostname or ""), unquote(parts.username or "")

    def _layout(self, url: str) -> str:
        return self.kind

    def send(self, target: Target, payload: HttpPost, wire: Wire) -> Delivery:
        try:
            reply = wire.http.post(payload.url, params=payload.params, content=payload.content, headers=_JSON)
        except httpx.HTTPError as err:
            return Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
        return Delivery(*read_reply(reply.status_code, reply.content, self.rate_codes))


def wecom_payload(body: str, fmt: str, mentions: Sequence[str]) -> dict[str, Any]:
    """The WeCom group-bot message: markdown (mentions as ``<@id>`` in the text) or text with mentioned lists."""
    if fmt == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": body}}
    users = [m for m in mentions if not m.isdigit()]
    mobiles = [m for m in mentions if m.isdigit()]
    text: dict[str, Any] = {"content": body}
    if users:
        text["mentioned_list"] = users
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return {"msgtype": "text", "text": text}


class WeComBot(_Bot):
    kind = "wecom"
    rate_codes = frozenset({"45009"})

    def _credentials(self, url: str) -> tuple[str, str]:  # the key as written (hostname would lower-case it)
        return unquote(urlsplit(url).netloc.split("@")[-1]).split(":")[0], ""

    def _layout(self, url: str) -> str:
        return "wecom_text" if _query(url).get("format", "").lower() == "text" else "wecom"

    def render(self, target: Target, message: Outgoing, now_s: float) -> HttpPost:
        payload = wecom_payload(message.body, _bot_format(message), message.mentions)
        return HttpPost(target.endpoint, {"key": target.key}, encode_json(payload))


def dingtalk_payload(title: str, body: str, fmt: str, mentions: Sequence[str]) -> dict[str, Any]:
    at = {"atMobiles": [m for m in mentions if m.isdigit()], "atUserIds": [m for m in mentions if not m.isdigit()],
          "isAtAll": False}
    if fmt == "markdown":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": body}, "at": at}
    return {"msgtype": "text", "text": {"content": body}, "at": at}


def dingtalk_signature(secret: str, now_s: float) -> dict[str, str]:
    """The query parameters of a signed DingTalk request at ``now_s``."""
    ts = str(int(now_s * 1000))
    sig = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": ts, "sign": base64.b64encode(sig).decode()}


class DingTalkBot(_Bot):
    kind = "dingtalk"
    rate_codes = frozenset({"130101", "410100"})

    def render(self, target: Target, message: Outgoing, now_s: float) -> HttpPost:
        payload = dingtalk_payload(message.title, message.body, _bot_format(message), message.mentions)
        params = {"access_token": target.key}
        if target.secret:
            params |= dingtalk_signature(target.secret, now_s)
        return HttpPost(target.endpoint, params, encode_json(payload))


def feishu_payload(body: str, secret: str, now_s: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"msg_type": "text", "content": {"text": body}}
    if secret:
        string = f"{now_s}\n{secret}".encode()
        payload = {"timestamp": str(now_s), "sign": base64.b64encode(hmac.new(string, b"", hashlib.sha256).digest())
                   .decode(), **payload}
    return payload


class FeishuBot(_Bot):
    kind = "feishu"
    rate_codes = frozenset({"11232", "9499"})

    def render(self, target: Target, message: Outgoing, now_s: float) -> HttpPost:
        url = target.endpoint + target.key if target.endpoint.endswith("/") else target.endpoint
        return HttpPost(url, {}, encode_json(feishu_payload(message.body, target.secret, int(now_s))))


WECOM = WeComBot("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")
DINGTALK = DingTalkBot("https://oapi.dingtalk.com/robot/send")
FEISHU = FeishuBot("https://open.feishu.cn/open-apis/bot/v2/hook/")
LARK = FeishuBot("https://open.larksuite.com/open-apis/bot/v2/hook/")
