"""Messages: facts in the reader's language, channel formats, length-aware truncation."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.lifecycle import Policy, observe
from alerts.messages import LIMITS, Names, alert_view, render
from sqm.models import Contributor
from tests.alerts.factories import T0, anomaly

NAMES = Names({"billing": ("Billing", "账务")}, {"chat": ("Chat", "在线")}, ZoneInfo("Asia/Shanghai"))


def view(lang="zh", **kw):
    alert = observe(None, anomaly(**kw), T0, Policy()).alert
    return alert_view(alert, lang, NAMES, T0 + timedelta(minutes=12), ack_url="http://sqm.example/ack/tok")


def test_zh_markdown_has_every_fact():
    v = view(contributors=(Contributor(dimension="region", value="east", kpi_value=0.5, expected=0.2, share=0.7),))
    msg = render("wecom", "zh", "first", [v], [], mentions=["wangli"], wallboard_url="http://sqm.example/")
    for fact in ("超时率", "35.0%", "基线 20.0%", "+75%", "账务 / 在线", "滚动60分钟", "已持续 15分钟",
                 "east 70%", "[认领](http://sqm.example/ack/tok)", "[大屏](http://sqm.example/)", "<@wangli>",
                 "03-02 09:57"):
        assert fact in msg.body, fact
    assert msg.format == "markdown" and msg.title.startswith("[告警]")


def test_age_of_a_replayed_incident_is_its_length_not_the_distance_to_its_event_time():
    seen_at = T0 + timedelta(days=30)  # history replayed a month later
    alert = observe(None, anomaly(), seen_at, Policy()).alert
    v = alert_view(alert, "en", NAMES, seen_at + timedelta(minutes=12))
    assert v["age"] == "15 min"  # 3 min of incident when seen, 12 min since


def test_en_html_email_has_a_kpi_table_and_escapes():
    v = view("en", team="<b>x</b>")
    msg = render("email", "en", "first", [v], [])
    assert msg.format == "html" and "<table" in msg.body and "<td>Timeout rate</td>" in msg.body
    assert "<b>x</b>" not in msg.body and "&lt;b&gt;x&lt;/b&gt;" in msg.body


def test_resolved_notice_and_console_line():
    v = view("en")
    msg = render("console", "en", "resolved", [], [v])
    assert "\n" not in msg.body and msg.body.startswith("[RESOLVED] Timeout rate")


@pytest.mark.parametrize(("channel", "lang"), [("wecom", "zh"), ("wecom_text", "zh"), ("wecom", "en")])
def test_long_digests_are_cut_by_whole_alerts(channel, lang):
    views = [view(lang, team=f"team{i:03d}") for i in range(80)]
    msg = render(channel, lang, "first", views, [])
    assert len(msg.body.encode()) <= LIMITS[channel] and msg.truncated
    more = "条未显示" if lang == "zh" else "more"
    assert more in msg.body
    shown = sum(f"team{i:03d}" in msg.body for i in range(80))
    assert 3 < shown < 80 and f"{80 - shown} {more}" in msg.body


def test_a_single_huge_alert_is_cut_by_bytes_on_a_character_boundary():
    v = view("zh") | {"contributors": "很长" * 3000}
    msg = render("wecom", "zh", "first", [v], [])
    assert len(msg.body.encode()) <= LIMITS["wecom"] and msg.body.endswith("…")


def test_value_and_baseline_share_a_unit_and_roles_are_translated():
    v = view("zh", kpi="frt_avg_s", value=190.0, expected=95.0)
    assert (v["value"], v["baseline"], v["change"]) == ("3.2分钟", "1.6分钟", "+100%")
    msg = render("wecom_text", "zh", "escalation", [v], [], escalation={"role": "team_lead", "person": "李雷"})
    assert "未认领，已升级至 组长: 李雷" in msg.body


@pytest.mark.parametrize(("kpi", "value", "expected"), [
    ("frt_avg_s", 300.0, 95.0), ("frt_p90_s", 95.0, 40.0), ("aht_s", 9000.0, 1500.0),
    ("timeout_rate", 0.3512, 0.2), ("nps", 31.0, 45.0), ("backlog", 1480.0, 900.0),
])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_detectors_reason_and_the_message_write_a_value_alike(kpi, value, expected, lang):
    from detectors.reasons import firing_reason

    en, zh = firing_reason(kpi, value, expected)
    v = view(lang, kpi=kpi, value=value, expected=expected, reason_en=en, reason_zh=zh)
    reason = zh if lang == "zh" else en
    for shown in (v["value"], v["baseline"], v["change"]):
        assert shown in reason, (shown, reason)
