"""Sending one message to one channel, and saying honestly how it went.

A receiver's URL is one of:

- a *checked bot* — ``wecombot://KEY``, ``dingtalk://[SECRET@]TOKEN``, ``feishu://[SECRET@]TOKEN`` or
  ``lark://…``: sqm posts the vendor's payload itself and reads the vendor's code in the
  reply body (``errcode`` / ``code``), because those APIs answer HTTP 200 even when they
  reject a message. ``?api=http://host:port/path`` points a bot at another endpoint (a
  proxy, or a test server imitating the vendor).
- any other Apprise URL (``mailto://``, ``json://``, ``wechat://``, …): sent through Apprise;
  ``notify()`` returning False is a failed delivery (retried), a URL Apprise cannot load is
  ``invalid`` (a configuration bug, not retried forever).
- the built-in ``console`` receiver (no URL): one line on stderr.

Results are ``Delivery`` records; a send never raises into the engine. Only
``masked`` (Apprise's ``url(privacy=True)`` or the bot key cut to its ends) is ever
logged or stored.

>>> target("wecombot://0123456789abcdef").masked
'wecombot://01...ef'
>>> target("mailto://user:pw@example.com?to=a@example.com&from=b@example.com").kind
'email'
>>> classify_vendor("wecom", 200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')
('rate_limited', '45009', 'api freq out of limit')
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from sqm.keys import short_hash

BOT_KINDS = ("wecom", "dingtalk", "feishu")
_ENDPOINTS = {
    "wecombot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    "dingtalk": "https://oapi.dingtalk.com/robot/send",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/",
    "lark": "https://open.larksuite.com/open-apis/bot/v2/hook/",
}
# vendor codes that mean "too many messages, try later" (the rest of non-zero codes are rejections)
_RATE_CODES = {"wecom": {"45009"}, "dingtalk": {"130101", "410100"}, "feishu": {"11232", "9499"}}


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
    kind: str
    """``wecom``, ``dingtalk``, ``feishu``, ``email``, ``generic`` or ``console``."""
    url: str
    masked: str
    channel_id: str
    """Stable id of the channel (the bot key's hash): the token bucket's key."""
    endpoint: str = ""
    key: str = ""
    secret: str = ""
    text_format: bool = False

    @property
    def render_as(self) -> str:
        """The message layout (messages.FORMATS key) for this target."""
        if self.kind == "wecom" and self.text_format:
            return "wecom_text"
        return self.kind

    @property
    def rate_limited(self) -> bool:
        return self.kind in BOT_KINDS


def _mask(s: str) -> str:
    return f"{s[:2]}...{s[-2:]}" if len(s) > 6 else "****"


def target(url: str) -> Target:
    """Classify a receiver URL (no network)."""
    if not url:
        return Target("console", "", "console", "console")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme in ("wecombot", "dingtalk", "feishu", "lark"):
        kind = "wecom" if scheme == "wecombot" else "feishu" if scheme == "lark" else scheme
        key = unquote(parts.hostname or "") if scheme != "wecombot" else unquote(parts.netloc.split("@")[-1])
        if scheme == "wecombot":
            key = key.split(":")[0]
        secret = unquote(parts.username or "") if scheme != "wecombot" else ""
        endpoint = query.get("api") or _ENDPOINTS[scheme]
        return Target(kind, url, f"{scheme}://{_mask(key)}", short_hash(scheme, key), endpoint, key, secret,
                      text_format=query.get("format", "").lower() == "text")
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    masked = plugin.url(privacy=True) if plugin is not None else f"{scheme}://(invalid)"
    kind = "email" if scheme in ("mailto", "mailtos") else "generic"
    return Target(kind, url, masked, short_hash(url))


def classify_vendor(kind: str, http_status: int, body: bytes) -> tuple[str, str | None, str]:
    """A bot reply → (status, vendor code, message)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    raw = data.get("errcode", data.get("code", data.get("StatusCode")))
    code = None if raw is None else str(raw)
    detail = str(data.get("errmsg", data.get("msg", data.get("StatusMessage", ""))))[:200]
    if http_status == 429 or code in _RATE_CODES.get(kind, ()):
        return "rate_limited", code, detail or f"HTTP {http_status}"
    if http_status >= 400:
        return "failed", code or str(http_status), detail or f"HTTP {http_status}"
    if code is None:
        return "rejected", None, "reply carries no errcode/code"
    if code != "0":
        return "rejected", code, detail
    return "ok", code, detail


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


def dingtalk_payload(title: str, body: str, fmt: str, mentions: Sequence[str]) -> dict[str, Any]:
    at = {"atMobiles": [m for m in mentions if m.isdigit()], "atUserIds": [m for m in mentions if not m.isdigit()],
          "isAtAll": False}
    if fmt == "markdown":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": body}, "at": at}
    return {"msgtype": "text", "text": {"content": body}, "at": at}


def feishu_payload(body: str, secret: str, now_s: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"msg_type": "text", "content": {"text": body}}
    if secret:
        string = f"{now_s}\n{secret}".encode()
        payload = {"timestamp": str(now_s), "sign": base64.b64encode(hmac.new(string, b"", hashlib.sha256).digest())
                   .decode(), **payload}
    return payload


def encode_json(payload: dict[str, Any]) -> bytes:
    """The exact bytes sqm posts: UTF-8 JSON, no ASCII escaping, compact."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Sender:
    """Sends to targets; one per alerter process (it keeps an HTTP client and loaded Apprise plugins)."""

    def __init__(self, *, timeout_s: float = 10.0, console: TextIO | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self.console = console
        for name in ("httpx", "httpcore"):  # their INFO lines carry the full URL, i.e. the bot key
            quiet = logging.getLogger(name)
            if quiet.getEffectiveLevel() < logging.WARNING:
                quiet.setLevel(logging.WARNING)
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._plugins: dict[str, Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def send(self, t: Target, title: str, body: str, fmt: str, mentions: Sequence[str] = ()) -> Delivery:
        started = time.perf_counter()
        try:
            if t.kind == "console":
                result = self._console(title, body)
            elif t.kind in BOT_KINDS:
                result = self._bot(t, title, body, fmt, mentions)
            else:
                result = self._apprise(t, title, body, fmt)
        except Exception as err:  # a failed send never raises into the engine
            result = Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
        return Delivery(result.status, result.code, result.detail, round((time.perf_counter() - started) * 1000, 2))

    def _console(self, title: str, body: str) -> Delivery:
        import sys

        stream = self.console or sys.stderr
        line = " ".join(body.split()) or title
        with self._lock:
            stream.write(f"sqm alert: {line}\n")
            with contextlib.suppress(Exception):
                stream.flush()
        return Delivery("ok")

    def _bot(self, t: Target, title: str, body: str, fmt: str, mentions: Sequence[str]) -> Delivery:
        fmt = "markdown" if fmt == "markdown" else "text"
        params: dict[str, str] = {}
        url = t.endpoint
        if t.kind == "wecom":
            payload, params = wecom_payload(body, fmt, mentions), {"key": t.key}
        elif t.kind == "dingtalk":
            payload, params = dingtalk_payload(title, body, fmt, mentions), {"access_token": t.key}
            if t.secret:
                ts = str(int(time.time() * 1000))
                sig = hmac.new(t.secret.encode(), f"{ts}\n{t.secret}".encode(), hashlib.sha256).digest()
                params |= {"timestamp": ts, "sign": base64.b64encode(sig).decode()}
        else:
            url = t.endpoint + t.key if t.endpoint.endswith("/") else t.endpoint
            payload = feishu_payload(body, t.secret, int(time.time()))
        try:
            reply = self._http.post(url, params=params, content=encode_json(payload),
                                    headers={"Content-Type": "application/json; charset=utf-8"})
        except httpx.HTTPError as err:
            return Delivery("failed", None, f"{type(err).__name__}: {err}"[:300])
        status, code, detail = classify_vendor(t.kind, reply.status_code, reply.content)
        return Delivery(status, code, detail)

    def _apprise(self, t: Target, title: str, body: str, fmt: str) -> Delivery:
        import apprise

        with self._lock:
            plugin = self._plugins.get(t.url)
            if plugin is None:
                plugin = apprise.Apprise.instantiate(t.url)
                if plugin is None:
                    return Delivery("invalid", None, "Apprise cannot load this URL")
                self._plugins[t.url] = plugin
        body_format = {"html": apprise.NotifyFormat.HTML, "markdown": apprise.NotifyFormat.MARKDOWN}.get(
            fmt, apprise.NotifyFormat.TEXT)
        ok = plugin.notify(body=body, title=title, body_format=body_format)
        return Delivery("ok") if ok else Delivery("failed", None, "Apprise notify() returned False")
