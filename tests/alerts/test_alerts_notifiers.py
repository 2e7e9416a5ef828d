"""One notifier per channel kind: tables of URLs, payloads and vendor replies, per kind.

The payload rows are the exact bytes, query parameters and signatures sqm posts; they were
taken from the channel code before the notifiers were split into classes, so a change to what a
vendor receives shows up here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.bots import HttpPost
from alerts.channels import NOTIFIERS, AppriseCall, Sender, notifier_for, target
from alerts.notifier import Delivery, Outgoing, Target, Wire
from alerts.webhook import JsonPost

NOW_S = 1767225600.123  # 2026-01-01 00:00:00.123 UTC
SECRET = "SECdemo0123456789"


@pytest.mark.parametrize(("url", "kind", "masked", "render_as", "rate_limited", "endpoint", "key", "secret"), [
    ("wecombot://0123456789abcdef", "wecom", "wecombot://01...ef", "wecom", True,
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "0123456789abcdef", ""),
    ("wecombot://0123456789ABCDEF?format=text", "wecom", "wecombot://01...EF", "wecom_text", True,
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "0123456789ABCDEF", ""),
    ("WeComBot://k3y?api=http://127.0.0.1:9/send", "wecom", "wecombot://****", "wecom", True,
     "http://127.0.0.1:9/send", "k3y", ""),
    (f"dingtalk://{SECRET}@tok123456", "dingtalk", "dingtalk://to...56", "dingtalk", True,
     "https://oapi.dingtalk.com/robot/send", "tok123456", SECRET),
    ("dingtalk://tok123456?format=text", "dingtalk", "dingtalk://to...56", "dingtalk", True,
     "https://oapi.dingtalk.com/robot/send", "tok123456", ""),
    (f"feishu://{SECRET}@tok98765", "feishu", "feishu://to...65", "feishu", True,
     "https://open.feishu.cn/open-apis/bot/v2/hook/", "tok98765", SECRET),
    ("lark://tok98765", "feishu", "lark://to...65", "feishu", True,
     "https://open.larksuite.com/open-apis/bot/v2/hook/", "tok98765", ""),
    ("mailto://u:p@example.com?to=a@example.com", "email", None, "email", False, "", "", ""),
    ("json://example.com/x", "generic", "json://example.com/…", "generic", False, "http://example.com/x", "", ""),
    ("jsons://u:pw@example.com:8443/x", "generic", "jsons://example.com:8443/…", "generic", False,
     "https://example.com:8443/x", "u", "pw"),
    ("json://example.com/x?+X-Token=1", "generic", None, "generic", False, "", "", ""),  # Apprise's
    ("bogus://x", "generic", "bogus://(invalid)", "generic", False, "", "", ""),
    ("", "console", "console", "console", False, "", "", ""),
])
def test_each_kind_reads_its_url(url, kind, masked, render_as, rate_limited, endpoint, key, secret):
    t = target(url)
    assert (t.kind, t.render_as, t.rate_limited, t.endpoint, t.key, t.secret) == (
        kind, render_as, rate_limited, endpoint, key, secret)
    if masked is not None:
        assert t.masked == masked
    assert t.channel_id == target(url).channel_id


def test_a_bot_is_rate_limited_per_key_whatever_its_format_or_endpoint():
    same = {target(u).channel_id for u in ("wecombot://k3yk3yk3y", "wecombot://k3yk3yk3y?format=text",
                                           "wecombot://k3yk3yk3y?api=http://127.0.0.1:9/x")}
    assert len(same) == 1 and target("wecombot://k3yk3yk3z").channel_id not in same
    assert target("dingtalk://k3yk3yk3y").channel_id not in same  # the scheme is part of the id


def _post(url: str, params: dict[str, str], body: str) -> HttpPost:
    return HttpPost(url, params, body.encode())


DINGTALK_SIGNED = {"access_token": "tok123456", "timestamp": "1767225600123",
                   "sign": "ZS2ec/dAirmMRQQcOmxY7sGlh4CL3lWx9NzMGfvOMSk="}


@pytest.mark.parametrize(("url", "message", "payload"), [
    ("wecombot://0123456789abcdef", Outgoing("t", "**超时率** 35.0%", "markdown", ("wangli",)),
     _post("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", {"key": "0123456789abcdef"},
           '{"msgtype":"markdown","markdown":{"content":"**超时率** 35.0%"}}')),
    ("wecombot://0123456789abcdef?format=text", Outgoing("t", "超时率 35.0%", "text", ("wangli", "13800000000")),
     _post("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", {"key": "0123456789abcdef"},
           '{"msgtype":"text","text":{"content":"超时率 35.0%","mentioned_list":["wangli"],'
           '"mentioned_mobile_list":["13800000000"]}}')),
    ("wecombot://0123456789abcdef", Outgoing("t", "a line", "line"),
     _post("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", {"key": "0123456789abcdef"},
           '{"msgtype":"text","text":{"content":"a line"}}')),
    (f"dingtalk://{SECRET}@tok123456", Outgoing("[告警] 超时率", "**超时率** 35.0%", "markdown",
                                                ("13800000000", "wangli")),
     _post("https://oapi.dingtalk.com/robot/send", DINGTALK_SIGNED,
           '{"msgtype":"markdown","markdown":{"title":"[告警] 超时率","text":"**超时率** 35.0%"},'
           '"at":{"atMobiles":["13800000000"],"atUserIds":["wangli"],"isAtAll":false}}')),
    ("dingtalk://tok123456", Outgoing("t", "超时率 35.0%", "text", ("13800000000",)),
     _post("https://oapi.dingtalk.com/robot/send", {"access_token": "tok123456"},
           '{"msgtype":"text","text":{"content":"超时率 35.0%"},'
           '"at":{"atMobiles":["13800000000"],"atUserIds":[],"isAtAll":false}}')),
    (f"feishu://{SECRET}@tok98765", Outgoing("t", "超时率 35.0%\n账务", "text"),
     _post("https://open.feishu.cn/open-apis/bot/v2/hook/tok98765", {},
           '{"timestamp":"1767225600","sign":"iYiOPm8eU9Hs77Q3bwc1xLmaHqswHIP6bmKmbb3kwOE=",'
           '"msg_type":"text","content":{"text":"超时率 35.0%\\n账务"}}')),
    ("lark://tok98765?api=http://127.0.0.1:9/fixed", Outgoing("t", "hello", "markdown"),
     _post("http://127.0.0.1:9/fixed", {}, '{"msg_type":"text","content":{"text":"hello"}}')),
    ("mailto://u:p@example.com?to=a@example.com", Outgoing("T", "<p>b</p>", "html"), AppriseCall("T", "<p>b</p>", "html")),
    ("json://example.com/x?+X-Token=1", Outgoing("T", "**b**", "markdown"), AppriseCall("T", "**b**", "markdown")),
    ("json://example.com/x?-p=1", Outgoing("T", "b", "line"), AppriseCall("T", "b", "text")),
    ("json://example.com/x", Outgoing("T", "b", "line", key="n1"),
     JsonPost("http://example.com/x", b'{"version":"1.0","title":"T","message":"b","attachments":[],"type":"info"}',
              {"Content-Type": "application/json", "User-Agent": "sqm", "Idempotency-Key": "n1"})),
    ("jsons://u:pw@example.com/x", Outgoing("T", "b", "text"),
     JsonPost("https://example.com/x", b'{"version":"1.0","title":"T","message":"b","attachments":[],"type":"info"}',
              {"Content-Type": "application/json", "User-Agent": "sqm"}, ("u", "pw"))),
    ("", Outgoing("[FIRING] x", "[FIRING] x |  csat\n 81.0%", "line"), "sqm alert: [FIRING] x | csat 81.0%\n"),
    ("", Outgoing("only a title", " \n", "line"), "sqm alert: only a title\n"),
])
def test_each_kind_renders_the_exact_payload(url, message, payload):
    t = target(url)
    assert notifier_for(url).render(t, message, NOW_S) == payload


def test_signatures_follow_the_vendors_algorithms():
    """DingTalk: HMAC-SHA256 keyed by the secret over "ms\\nsecret"; Feishu: keyed by "s\\nsecret" over nothing."""
    ding = notifier_for("dingtalk://x").render(target(f"dingtalk://{SECRET}@tok123456"), Outgoing("t", "b", "text"), NOW_S)
    mac = hmac.new(SECRET.encode(), f"{int(NOW_S * 1000)}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert ding.params["sign"] == base64.b64encode(mac).decode()
    fei = notifier_for("feishu://x").render(target(f"feishu://{SECRET}@tok"), Outgoing("t", "b", "text"), NOW_S + 60)
    mac = hmac.new(f"{int(NOW_S) + 60}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert b'"sign":"' + base64.b64encode(mac) + b'"' in fei.content


def bot(rec, scheme: str) -> str:
    path = {"wecombot": "cgi-bin/webhook/send", "dingtalk": "robot/send", "feishu": "open-apis/bot/v2/hook/",
            "lark": "open-apis/bot/v2/hook/"}[scheme]
    return f"{scheme}://tok0123456789?api=http://{rec.url}/{path}"


@pytest.mark.parametrize(("scheme", "http_status", "reply", "status", "code"), [
    ("wecombot", 200, b'{"errcode":0,"errmsg":"ok"}', "ok", "0"),
    ("wecombot", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', "rate_limited", "45009"),
    ("wecombot", 200, b'{"errcode":130101,"errmsg":"send too fast"}', "rejected", "130101"),  # DingTalk's code
    ("wecombot", 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', "rejected", "93000"),
    ("wecombot", 200, b"not json", "rejected", None),
    ("wecombot", 200, b"[0]", "rejected", None),
    ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', "ok", "0"),
    ("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}', "rate_limited", "130101"),
    ("dingtalk", 200, b'{"errcode":410100,"errmsg":"too many"}', "rate_limited", "410100"),
    ("dingtalk", 200, b'{"errcode":310000,"errmsg":"keywords not in content"}', "rejected", "310000"),
    ("dingtalk", 429, b"{}", "rate_limited", None),
    ("feishu", 200, b'{"code":0,"msg":"success"}', "ok", "0"),
    ("feishu", 200, b'{"StatusCode":0,"StatusMessage":"success"}', "ok", "0"),
    ("feishu", 200, b'{"code":11232,"msg":"frequency limited"}', "rate_limited", "11232"),
    ("lark", 200, b'{"code":9499,"msg":"too many request"}', "rate_limited", "9499"),
    ("lark", 200, b'{"code":19021,"msg":"sign match fail"}', "rejected", "19021"),
    ("feishu", 500, b'{"code":1,"msg":"internal"}', "failed", "1"),
    ("feishu", 502, b"bad gateway", "failed", "502"),
])
def test_each_bot_reads_its_vendors_reply_codes(http_receiver, scheme, http_status, reply, status, code):
    http_receiver.status, http_receiver.reply = http_status, reply
    sender = Sender(timeout_s=5)
    got = sender.send(target(bot(http_receiver, scheme)), "t", "b", "text")
    sender.close()
    assert (got.status, got.code) == (status, code)
    assert got.latency_ms > 0


def test_the_sender_signs_at_its_clock(http_receiver):
    sender = Sender(timeout_s=5, clock=lambda: NOW_S)
    got = sender.send(target(f"dingtalk://{SECRET}@tok123456?api=http://{http_receiver.url}/robot/send"), "t", "b",
                      "markdown")
    sender.close()
    assert got.ok
    query = {k: v[0] for k, v in parse_qs(urlsplit(http_receiver.requests[-1][0]).query).items()}
    assert query == DINGTALK_SIGNED


def test_the_console_writes_one_line_to_its_stream():
    out = io.StringIO()
    sender = Sender(console=out)
    assert sender.send(target(""), "title", "a\n  b", "line").ok
    sender.close()
    assert out.getvalue() == "sqm alert: a b\n"


def test_an_apprise_url_it_cannot_load_is_invalid_not_failed():
    sender = Sender(timeout_s=1)
    got = sender.send(target("bogus://x"), "t", "b", "text")
    sender.close()
    assert (got.status, got.detail) == ("invalid", "Apprise cannot load this URL")


@dataclass
class Pager:
    """A kind made up for the test: ``pager://NUMBER``, a notifier that raises on a number ending in 0."""

    sent: list[str]
    kind: str = "pager"

    def target(self, url: str) -> Target:
        return Target(self.kind, url, "pager://…", url[-4:], "generic")

    def render(self, target: Target, message: Outgoing, now_s: float) -> str:
        return f"{target.url[8:]}:{message.title}"

    def send(self, target: Target, payload: str, wire: Wire) -> Delivery:
        if payload.split(":")[0].endswith("0"):
            msg = "pager gateway down"
            raise ConnectionError(msg)
        self.sent.append(payload)
        return Delivery("ok")


def test_a_new_kind_is_one_class_and_one_registry_entry():
    pager = Pager([])
    notifiers: dict[str, Any] = {**NOTIFIERS, "pager": pager}
    sender = Sender(notifiers=notifiers)
    assert sender.send(target("pager://5551234", notifiers), "[FIRING] csat", "b", "text").ok
    failed = sender.send(target("pager://5551230", notifiers), "[FIRING] csat", "b", "text")
    sender.close()
    assert pager.sent == ["5551234:[FIRING] csat"]
    assert (failed.status, failed.detail) == ("failed", "ConnectionError: pager gateway down")  # never raised
    assert target("pager://5551234").kind == "generic"  # not in the default table: Apprise's
