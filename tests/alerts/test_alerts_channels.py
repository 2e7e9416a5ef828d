"""Checked bot channels against a local server imitating the vendors, and real Apprise e-mail over SMTP."""

from __future__ import annotations

import json

import pytest

from alerts import notify_test
from alerts.bots import encode_json
from alerts.channels import Sender, target
from sqm.config import Settings


def wecom(rec, key="0123456789abcdef0123", fmt=""):
    extra = f"&format={fmt}" if fmt else ""
    return f"wecombot://{key}?api=http://{rec.url}/cgi-bin/webhook/send{extra}"


@pytest.mark.parametrize(("reply", "status", "code"), [
    (b'{"errcode":0,"errmsg":"ok"}', "ok", "0"),
    (b'{"errcode":45009,"errmsg":"api freq out of limit"}', "rate_limited", "45009"),
    (b'{"errcode":93000,"errmsg":"invalid webhook url"}', "rejected", "93000"),
    (b'not json', "rejected", None),
])
def test_wecom_markdown_exact_payload_and_reply_codes(http_receiver, reply, status, code):
    http_receiver.reply = reply
    sender = Sender(timeout_s=5)
    body = "**[告警] 超时率 · 账务 / 在线**\n> 当前值 35.0% (基线 20.0%, 变化 +75%)"
    got = sender.send(target(wecom(http_receiver)), "t", body, "markdown")
    assert (got.status, got.code) == (status, code)
    path, headers, raw = http_receiver.requests[-1]
    assert path == "/cgi-bin/webhook/send?key=0123456789abcdef0123"
    expected = ('{"msgtype":"markdown","markdown":{"content":"' + body.replace("\n", "\\n") + '"}}').encode()
    assert raw == expected
    assert headers["Content-Type"].startswith("application/json")
    sender.close()


def test_wecom_text_mentions(http_receiver):
    sender = Sender(timeout_s=5)
    got = sender.send(target(wecom(http_receiver, fmt="text")), "t", "超时率 35.0%", "text", ["wangli", "13800000000"])
    assert got.ok
    assert http_receiver.bodies[-1] == (
        '{"msgtype":"text","text":{"content":"超时率 35.0%","mentioned_list":["wangli"],'
        '"mentioned_mobile_list":["13800000000"]}}'
    ).encode()


def test_dingtalk_and_feishu_codes(http_receiver):
    sender = Sender(timeout_s=5)
    http_receiver.reply = b'{"errcode":310000,"errmsg":"keywords not in content"}'
    ding = target(f"dingtalk://sec@tok123456?api=http://{http_receiver.url}/robot/send")
    got = sender.send(ding, "title", "text", "markdown", ["13800000000"])
    assert (got.status, got.code) == ("rejected", "310000")
    path, _, raw = http_receiver.requests[-1]
    assert path.startswith("/robot/send?access_token=tok123456&timestamp=") and "&sign=" in path
    assert json.loads(raw) == {"msgtype": "markdown", "markdown": {"title": "title", "text": "text"},
                               "at": {"atMobiles": ["13800000000"], "atUserIds": [], "isAtAll": False}}
    http_receiver.reply = b'{"code":0,"msg":"success"}'
    fei = target(f"feishu://tok987654?api=http://{http_receiver.url}/open-apis/bot/v2/hook/")
    assert sender.send(fei, "t", "hello", "text").status == "ok"
    assert http_receiver.requests[-1][0] == "/open-apis/bot/v2/hook/tok987654"
    assert http_receiver.bodies[-1] == encode_json({"msg_type": "text", "content": {"text": "hello"}})
    http_receiver.reply = b'{"code":11232,"msg":"frequency limited"}'
    assert sender.send(fei, "t", "hello", "text").status == "rate_limited"


def test_unreachable_and_http_errors_are_failures(http_receiver):
    sender = Sender(timeout_s=2)
    http_receiver.status = 502
    assert sender.send(target(wecom(http_receiver)), "t", "b", "markdown").status == "failed"
    down = sender.send(target("wecombot://abcdefgh?api=http://127.0.0.1:9/x"), "t", "b", "markdown")
    assert down.status == "failed" and "ConnectError" in down.detail
    assert sender.send(target("json://127.0.0.1:9/x"), "t", "b", "text").status == "failed"


def test_masked_urls_never_show_the_key():
    for url, secret in [("wecombot://0123456789abcdef0123", "0123456789abcdef0123"),
                        ("mailto://user:hunter22@example.com?to=a@example.com&from=b@example.com", "hunter22"),
                        ("json://user:tok3nvalue@example.com/hook", "tok3nvalue")]:
        assert secret not in target(url).masked


def test_email_through_real_apprise_and_smtp(smtp_server):
    url = (f"mailto://user:pass@{smtp_server.host}:{smtp_server.port}"
           "?from=sqm@example.com&to=boss@example.com&mode=insecure")
    s = Settings(alerts={"receivers": [{"name": "mail", "urls": [url], "language": "en"}],
                         "route": {"receiver": "mail"}})
    (result,) = notify_test(s, "mail")
    assert result["status"] == "ok" and "pass" not in result["channel"]
    (mail_from, rcpt, content) = smtp_server.messages[0]
    assert rcpt == ["boss@example.com"] and b"Test message from sqm" in content


def test_notify_test_reports_vendor_rejection(http_receiver):
    http_receiver.reply = b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    s = Settings(alerts={"receivers": [{"name": "wc", "urls": [wecom(http_receiver)]}], "route": {"receiver": "wc"}})
    (result,) = notify_test(s, "wc")
    assert (result["status"], result["code"], result["detail"]) == ("rejected", "93000", "invalid webhook url")
    assert "0123456789abcdef0123" not in result["channel"]
    assert "测试" in json.loads(http_receiver.bodies[-1])["markdown"]["content"]


def test_notify_test_unknown_receiver_names_the_known_ones():
    from sqm.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no receiver named 'nope' \(known: \['console'\]\)"):
        notify_test(Settings(), "nope")


def test_no_log_line_carries_a_key_or_password(http_receiver, smtp_server, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    sender = Sender(timeout_s=5)
    sender.send(target(wecom(http_receiver, key="SECRETKEY123456")), "t", "b", "markdown")
    http_receiver.status = 500
    sender.send(target(f"json://user:SECRETPW99@{http_receiver.url}/x"), "t", "b", "text")
    mail = (f"mailto://user:SECRETPW77@{smtp_server.host}:{smtp_server.port}"
            "?from=sqm@example.com&to=boss@example.com&mode=insecure")
    assert sender.send(target(mail), "t", "b", "text").ok
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text  # something was logged at all
    for secret in ("SECRETKEY123456", "SECRETPW99", "SECRETPW77"):
        assert secret not in text
