"""Quality reports: rendered to PDF (pages looked at as PNGs), mailed with inline charts to a local SMTP
server, summarised for WeCom, and scheduled at the right local time across a month end."""

from __future__ import annotations

import email
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.reports import ReportMessage, deliver_report
from improve.actions import Action, move
from improve.periods import bounds, due
from improve.render import pdf, render
from improve.report import build
from sqm.config import Settings
from sqm.models import Alert, Anomaly
from tests.improve.factories import selector, simulated_hours, two_team_settings

SITE = ZoneInfo("Asia/Shanghai")
WEEK_START = datetime(2026, 3, 2, tzinfo=SITE)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture(scope="module")
def week():
    settings = two_team_settings()
    _, series = simulated_hours(settings, WEEK_START - timedelta(days=1), 8, seed=5,
                                volumes={"billing": 60, "tech": 60})
    return settings, series


def _alert() -> Alert:
    t = WEEK_START + timedelta(days=2, hours=10)
    an = Anomaly(kpi="timeout_rate", window="60m", team="billing", start=t, end=t, value=0.2, detector="swing",
                 reason_en="Timeout rate 20 % vs 10 % usual", reason_zh="超时率 20 %，平时 10 %")
    return Alert(fingerprint=an.fingerprint, state="acknowledged", labels=an.labels, anomaly=an, started_at=t,
                 updated_at=t, acked_at=t + timedelta(minutes=7), acked_by="li")


def _report(week, language: str):
    settings, series = week
    targets = {**settings.api.wallboard_targets, **settings.targets.model_dump()}
    action = Action(id="act-1", problem="lunch queue", fix="stagger breaks", owner="li", kpi="frt_avg_s",
                    horizon="short", created_at=WEEK_START, teams=["billing"])
    action = move(action, "adopt", WEEK_START, by="wang")
    data = build("2026-W10", "*", read=selector(series), tz=SITE, targets=targets, teams=["billing", "tech"],
                 channels=[c.name for c in settings.channels], regions=list(settings.regions), alerts=[_alert()],
                 actions=[action], now=WEEK_START + timedelta(days=8), language=language)
    return data, render(data, targets, link="http://sqm.example/v1/reports/2026-W10?format=pdf")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_weekly_report_renders_to_pdf_pages(week, language):
    data, rendered = _report(week, language)
    assert {k["kpi"] for k in data.kpis} >= {"fcr_rate", "csat", "nps", "complaint_rate"}
    assert data.kpis[0]["value"] > 10_000  # a week of two teams' contacts
    assert [r["name"] for r in data.rankings["team"]] and len(data.rankings["channel"]) == 4
    assert len(rendered.images) == 6 and all(png.startswith(b"\x89PNG") for png in rendered.images.values())
    body = pdf(rendered)
    assert body.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"weekly-{language}"
    out.with_suffix(".pdf").write_bytes(body)
    for old in ARTIFACTS.glob(f"weekly-{language}-*.png"):
        old.unlink()
    subprocess.run([shutil.which("pdftoppm") or "pdftoppm", "-png", "-r", "70", str(out.with_suffix(".pdf")),
                    str(out)], check=True)
    pages = sorted(ARTIFACTS.glob(f"weekly-{language}-*.png"))
    assert 1 <= len(pages) <= 4 and all(p.stat().st_size > 20_000 for p in pages)
    text = subprocess.run(["pdftotext", str(out.with_suffix(".pdf")), "-"], capture_output=True, text=True,
                          check=True).stdout
    expect = ["周服务质量报告", "一次解决率", "超时率 20 %", "7 min", "stagger breaks"] if language == "zh" else \
        ["Weekly quality report", "First-contact resolution", "Timeout rate 20 %", "7 min", "stagger breaks"]
    for words in expect:
        assert words in text, words


def test_the_report_goes_out_as_an_email_with_inline_charts_and_the_pdf(week, smtp_server):
    _, rendered = _report(week, "en")
    url = f"mailto://user:pass@{smtp_server.host}:{smtp_server.port}?from=sqm@example.com&to=boss@example.com&mode=insecure"
    settings = Settings(alerts={"receivers": [{"name": "mail", "urls": [url]}], "route": {"receiver": "mail"}})
    message = ReportMessage(rendered.subject, rendered.html_mail, rendered.markdown, rendered.images, pdf(rendered),
                            "sqm-2026-W10.pdf")
    (row,) = deliver_report(settings, ["mail"], message)
    assert row["status"] == "ok", row
    (_, rcpt, raw) = smtp_server.messages[0]
    assert rcpt == ["boss@example.com"]
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == rendered.subject
    html = mail.get_body(("html",)).get_content()
    cids = {p["Content-ID"].strip("<>") for p in mail.walk() if p.get_content_type() == "image/png"}
    assert cids == set(rendered.images) and all(f"cid:{c}" in html for c in cids)
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    assert related.get_payload()[0].get_content_type() == "text/html"
    (attachment,) = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == "sqm-2026-W10.pdf" and attachment.get_content().startswith(b"%PDF")


def test_the_wecom_summary_is_markdown_with_a_link(week, http_receiver):
    _, rendered = _report(week, "zh")
    bot = f"wecombot://0123456789abcdef0123?api=http://{http_receiver.url}/send"
    settings = Settings(alerts={"receivers": [{"name": "bot", "urls": [bot]}], "route": {"receiver": "bot"}})
    (row,) = deliver_report(settings, ["bot"], ReportMessage(rendered.subject, "", rendered.markdown))
    assert row["status"] == "ok"
    import json

    sent = json.loads(http_receiver.bodies[0])
    assert sent["msgtype"] == "markdown"
    content = sent["markdown"]["content"]
    assert content.startswith("**全中心 2026-W10 周服务质量报告**") and "[查看完整报告](http://sqm.example/" in content
    assert len(content.encode()) < 4096


def test_an_unknown_receiver_is_named():
    from sqm.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown receiver 'nobody'"):
        deliver_report(Settings(), ["nobody"], ReportMessage("s", "", ""))


@pytest.mark.parametrize(("kind", "now", "last", "expected"), [
    ("day", "2026-02-01T07:59:00+08:00", "2026-01-30", None),  # not yet 08:00 local
    ("day", "2026-02-01T08:00:00+08:00", "2026-01-30", "2026-01-31"),  # the last day of January, the next morning
    ("day", "2026-02-01T00:00:00+00:00", "2026-01-30", "2026-01-31"),  # 08:00 in Shanghai is midnight UTC
    ("day", "2026-01-31T23:59:00+00:00", "2026-01-30", None),  # 07:59 local on Feb 1
    ("month", "2026-03-01T08:00:00+08:00", "2026-01", "2026-02"),  # after a 28-day month
    ("month", "2026-03-31T23:00:00+08:00", "2026-02", None),  # sent already; March not complete
    ("month", "2026-05-01T08:05:00+08:00", "2026-03", "2026-04"),  # after a 30-day month
    ("week", "2026-03-09T08:00:00+08:00", "2026-W09", "2026-W10"),  # Monday morning
    ("week", "2026-03-08T23:00:00+08:00", "2026-W09", None),  # Sunday night: the week is not over
    ("quarter", "2026-04-01T08:00:00+08:00", "2025-Q4", "2026-Q1"),
    ("quarter", "2026-04-01T07:00:00+08:00", "2025-Q4", None),
])
def test_the_schedule_fires_at_the_local_time(kind, now, last, expected):
    assert due(kind, "08:00", last, datetime.fromisoformat(now), SITE) == expected


def test_periods_end_at_local_midnight_across_month_ends():
    start, end = bounds("2026-01-31", SITE)
    assert (start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()) == (
        "2026-01-30T16:00:00+00:00", "2026-01-31T16:00:00+00:00")
    assert bounds("2026-Q4", SITE)[1].date().isoformat() == "2027-01-01"
    with pytest.raises(ValueError, match="2026-13"):
        bounds("2026-13", SITE)
