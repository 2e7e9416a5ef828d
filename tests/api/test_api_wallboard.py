"""The wallboard in a real headless Chromium: values arrive over SSE and tiles change colour."""

from __future__ import annotations

import re

import msgspec
import pytest
from playwright.sync_api import Page, expect

from sqm import keys
from tests.api.conftest import KEYS, snapshot
from tests.api.test_api_kpis import put_latest
from tests.sqm.test_formatting import table_rows

pytestmark = pytest.mark.browser


def tile(page: Page, team: str, kpi: str):
    return page.locator(f'.tile[data-team="{team}"][data-kpi="{kpi}"]')


def publish(redis, app, *snaps) -> None:
    assert app.state.broadcaster.subscribed.wait(10)
    redis.publish(keys.KPI_LIVE, msgspec.json.encode(list(snaps)))


def test_tiles_show_live_values_and_flip_colour_at_the_target(live_server, redis, browser_page):
    put_latest(redis, snapshot("billing", service_level=0.97, frt_avg_s=80.0), snapshot("*", volume=123.0))
    server = live_server()
    app = server.server.config.app
    page = browser_page
    with server:
        page.goto(f"{server.url}/?lang=en")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        sl = tile(page, "billing", "service_level")
        expect(sl.locator(".value")).to_have_text("97.0%")
        expect(sl).to_have_class("tile ok")
        expect(tile(page, "*", "volume").locator(".value")).to_have_text("123")
        expect(page.locator(".team.overall .team-name")).to_have_text("All teams")

        # below the 95 % target: red
        publish(redis, app, snapshot("billing", service_level=0.90, frt_avg_s=80.0))
        expect(sl.locator(".value")).to_have_text("90.0%")
        expect(sl).to_have_class("tile bad")
        expect(sl).to_have_css("background-color", "rgb(74, 15, 18)")
        expect(sl).to_have_attribute("aria-label", "Service level: 90.0% — Off target, Target ≥ 95.0%")
        # first response of a whole team mixes chat (30 s) with e-mail (2 h): no one target, no colour;
        # the channel view colours each channel against its own answer target
        frt = tile(page, "billing", "frt_avg_s")
        expect(frt).to_have_class("tile none")
        expect(frt.locator(".target")).to_have_text("Target per channel")
        publish(redis, app, snapshot("billing", frt_avg_s=130.0))
        expect(frt.locator(".value")).to_have_text("2.2 min")
        expect(frt).to_have_class("tile none")
        # back above target: green again; other windows and finer dimensions are ignored
        publish(redis, app, snapshot("billing", service_level=0.99), snapshot("billing", window="5m", service_level=0.1),
                snapshot("billing", channel="chat", service_level=0.2))
        expect(sl.locator(".value")).to_have_text("99.0%")
        expect(sl).to_have_class("tile ok")
        expect(page.locator("#updated")).not_to_have_text("—")
        # the newest window ends 01:01 UTC = 09:01 in the site's time zone (Asia/Shanghai)
        expect(page.locator("#asof")).to_have_text("09:01")
        page.goto("about:blank")  # close the live stream before the server stops


def test_the_pages_format_values_by_the_shared_table(live_server, browser_page):
    """dashboards/wallboard/format.js against tests/kpi_format_table.json, with the units the API serves."""
    rows = table_rows()
    server = live_server()
    with server:
        browser_page.goto(f"{server.url}/?lang=en")
        browser_page.wait_for_function("() => sqm.format.has('frt_avg_s')", timeout=15_000)
        got = browser_page.evaluate(
            "rows => rows.map((r) => sqm.format.value(r.kpi, r.value, r.lang, r.alongside))", rows)
        browser_page.goto("about:blank")
    wrong = [(r["kpi"], r["value"], r["lang"], r.get("alongside"), r["expected"], g)
             for r, g in zip(rows, got, strict=True) if g != r["expected"]]
    assert wrong == []


def test_chinese_labels_by_default_for_zh(live_server, redis, browser_page):
    put_latest(redis, snapshot("tech", timeout_rate=0.08))
    server = live_server()
    with server:
        browser_page.goto(f"{server.url}/?lang=zh")
        expect(browser_page.locator("#title")).to_have_text("服务质量实时看板")
        t = tile(browser_page, "tech", "timeout_rate")
        expect(t.locator(".label")).to_have_text("超时率")
        expect(t).to_have_class("tile bad", timeout=15_000)
        expect(browser_page.locator('.team[data-team="tech"] .team-name')).to_have_text("技术支持")
        browser_page.goto(f"{server.url}/?lang=zh&teams=tech,vip")  # a floor area shows its own teams
        expect(browser_page.locator(".team")).to_have_count(3)
        expect(browser_page.locator(".team .team-name")).to_have_text(["全部", "技术支持", "VIP服务"])
        browser_page.goto("about:blank")


def test_a_private_wallboard_reads_with_the_key_in_the_fragment(live_server, redis, browser_page):
    put_latest(redis, snapshot("vip", csat=0.95))
    server = live_server(keys=True, public_wallboard=False)
    app = server.server.config.app
    with server:
        browser_page.goto(f"{server.url}/?lang=en")
        expect(browser_page.locator("#message")).to_contain_text("API key", timeout=15_000)
        browser_page.goto(f"{server.url}/?lang=en#key={KEYS['viewer']}")
        expect(browser_page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        assert KEYS["viewer"] not in browser_page.url  # the key leaves the address bar
        expect(tile(browser_page, "vip", "csat")).to_have_class("tile ok")
        publish(redis, app, snapshot("vip", csat=0.80))
        expect(tile(browser_page, "vip", "csat")).to_have_class("tile bad")
        browser_page.goto("about:blank")


@pytest.mark.slow
def test_the_screenshot_script_shows_a_full_board(browser, tmp_path):
    from tools.screenshot import shoot

    # shoot() waits for the live connection, the alerts banner and the sparklines before it takes the picture
    png = shoot(tmp_path / "wallboard.png", lang="zh", width=1280, height=720, browser=browser).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_sparklines_from_history_and_the_alerts_banner(live_server, redis, browser_page):
    from datetime import timedelta

    from alerts.engine import Engine
    from sqm.clock import ManualClock
    from tests.api.conftest import T0
    from tests.api.test_api_alerts import NOW, anomaly
    from tests.api.test_api_kpis import put_history

    hist = [snapshot("billing", start=T0 + timedelta(minutes=i), frt_avg_s=60.0 + 10 * i) for i in range(6)]
    put_history(redis, *hist)
    put_latest(redis, hist[-1])
    settings = live_server().server.config.app.state.settings
    engine = Engine(settings, redis, clock=ManualClock(NOW), workers=0)
    engine.handle([anomaly("frt_avg_s", team="billing", severity="critical", value=190.0, expected=100.0)])
    engine.close()
    server = live_server()
    with server:
        browser_page.goto(f"{server.url}/?lang=en")
        frt = tile(browser_page, "billing", "frt_avg_s")
        expect(frt.locator(".value")).to_have_text("110 s", timeout=15_000)
        expect(frt.locator("svg.spark polyline")).to_have_count(1)
        points = frt.locator("svg.spark polyline").get_attribute("points").split()
        assert len(points) == 6
        ys = [float(p.split(",")[1]) for p in points]
        assert ys == sorted(ys, reverse=True)  # rising values: the line climbs (SVG y grows downwards)
        banner = browser_page.locator("#alerts")
        expect(banner).to_be_visible()
        expect(banner).to_have_class("alerts critical")
        expect(banner).to_contain_text("Critical")
        expect(banner).to_contain_text("Billing · First response (avg) 3.2 min (baseline 1.7 min)")
        expect(frt.locator(".badge")).to_have_text("▲")
        browser_page.goto("about:blank")


def test_the_channel_view_colours_response_times_against_each_channels_answer_target(live_server, redis, browser_page):
    put_latest(redis, snapshot("*", channel="chat", frt_p90_s=40.0), snapshot("*", channel="phone", frt_p90_s=60.0),
               snapshot("*", channel="*", frt_p90_s=50.0), snapshot("billing", channel="chat", frt_p90_s=10.0))
    server = live_server()
    app = server.server.config.app
    with server:
        browser_page.goto(f"{server.url}/?lang=en&by=channel")
        chat = browser_page.locator('.tile[data-channel="chat"][data-kpi="frt_p90_s"]')
        phone = browser_page.locator('.tile[data-channel="phone"][data-kpi="frt_p90_s"]')
        expect(chat).to_have_class("tile bad", timeout=15_000)  # 40 s against chat's 30 s
        expect(phone).to_have_class("tile ok")  # 60 s against phone's 120 s
        expect(chat.locator(".target")).to_have_text("Target ≤ 30 s")
        expect(browser_page.locator('.team[data-channel="chat"] .team-name')).to_have_text("Chat")
        expect(browser_page.locator("#window-label")).to_contain_text("by channel")
        publish(redis, app, snapshot("*", channel="chat", frt_p90_s=20.0), snapshot("tech", channel="chat", frt_p90_s=99.0))
        expect(chat).to_have_class("tile ok")  # 20 s (under 24 s, the amber line)
        expect(chat.locator(".value")).to_have_text("20 s")
        browser_page.goto(f"{server.url}/?lang=en")
        browser_page.locator('.team[data-team="billing"] .team-name a').click()  # a team opens its channels
        expect(browser_page).to_have_url(re.compile(r"by=channel&team=billing"))
        expect(browser_page.locator('.tile[data-channel="chat"][data-kpi="frt_p90_s"] .value')).to_have_text(
            "10 s", timeout=15_000)
        browser_page.locator(".team.overall .team-name a").click()  # and back to the teams
        expect(browser_page.locator('.team[data-team="billing"][data-channel="*"]')).to_have_count(1, timeout=15_000)
        browser_page.goto("about:blank")


def test_the_console_acknowledges_and_silences_with_a_supervisor_key(live_server, redis, browser_page):
    from alerts.engine import Engine
    from sqm.clock import ManualClock
    from tests.api.test_api_alerts import NOW, anomaly

    server = live_server(keys=True)
    app = server.server.config.app
    engine = Engine(app.state.settings, redis, clock=ManualClock(NOW), workers=0)
    engine.handle([anomaly("timeout_rate", team="billing", severity="critical", value=0.31, expected=0.2)])
    engine.close()
    page = browser_page
    with server:
        page.goto(f"{server.url}/console?lang=en")
        expect(page.locator("#key-form")).to_be_visible(timeout=15_000)  # no key yet
        page.fill("#key-input", KEYS["viewer"])
        page.click("#key-button")
        row = page.locator("#alerts tbody tr")
        expect(row).to_have_count(1, timeout=15_000)
        expect(row).to_contain_text("Billing")
        expect(row).to_contain_text("31.0%")
        row.locator("button.ack").click()  # a viewer may read, not acknowledge
        expect(page.locator("#message")).to_have_text("This key may not do that (supervisor needed)")
        page.goto(f"{server.url}/console?lang=en#key={KEYS['supervisor']}")
        row = page.locator("#alerts tbody tr")
        expect(row).to_have_count(1, timeout=15_000)
        row.locator("button.ack").click()
        expect(row).to_contain_text("acknowledged · supervisor-test")
        expect(row.locator("button.ack")).to_be_disabled()
        row.locator("button.silence").click()
        silence = page.locator("#silences tbody tr")
        expect(silence).to_have_count(1)
        expect(silence).to_contain_text('team="billing"')
        silence.locator("button.expire").click()
        expect(page.locator("#silences tbody tr")).to_have_count(0)
        page.goto("about:blank")
    fp = app.state.redis.zrange("sqm:alert:index", 0, -1)[0].decode()
    assert secured_state(redis, fp) == ("acknowledged", "supervisor-test")


def secured_state(redis, fp):
    from alerts import service

    a = service.get_alert(redis, fp)
    return a.state, a.acked_by


def test_the_connection_indicator_shows_a_lost_server_and_the_page_reconnects(live_server, redis, browser_page):
    from tests.api.conftest import LiveServer

    put_latest(redis, snapshot("sales", volume=17.0))
    server = live_server()
    app = server.server.config.app
    with server:
        browser_page.goto(f"{server.url}/?lang=en")
        expect(browser_page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
    # the server is gone: the page says so, and keeps the last values on screen
    expect(browser_page.locator("#conn")).to_have_attribute("data-state", "offline", timeout=15_000)
    expect(tile(browser_page, "sales", "volume").locator(".value")).to_have_text("17")
    again = LiveServer(app, port=server.port)  # the same app at the same address, as after a restart
    with again:
        expect(browser_page.locator("#conn")).to_have_attribute("data-state", "live", timeout=30_000)
        publish(redis, app, snapshot("sales", volume=18.0))
        expect(tile(browser_page, "sales", "volume").locator(".value")).to_have_text("18")
        browser_page.goto("about:blank")


def test_a_new_alert_reaches_the_banner_within_seconds(live_server, redis, browser_page):
    from alerts.engine import Engine
    from sqm.clock import ManualClock
    from tests.api.test_api_alerts import NOW, anomaly

    put_latest(redis, snapshot("tech"))
    server = live_server()
    app = server.server.config.app
    with server:
        browser_page.goto(f"{server.url}/?lang=en")
        expect(browser_page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        expect(browser_page.locator("#alerts")).to_be_hidden()
        engine = Engine(app.state.settings, redis, clock=ManualClock(NOW), workers=0)
        engine.handle([anomaly("abandon_rate", team="tech", severity="warning", value=0.12, expected=0.04)])
        engine.close()
        # pushed over /v1/live ("alerts" event), not found by the 15-second poll
        expect(browser_page.locator("#alerts")).to_contain_text("Tech support · Abandon rate 12.0%", timeout=6_000)
        expect(browser_page.locator("#alerts")).to_have_class("alerts warning")  # amber: nothing critical
        expect(tile(browser_page, "tech", "abandon_rate").locator(".badge")).to_have_text("▲")
        browser_page.goto("about:blank")


def test_every_wallboard_asset_is_served_by_sqm(client, repo_root):
    """No CDN: the pages reference only their own /static files, and the CSP allows nothing else."""
    import re

    assets = sorted(p for p in (repo_root / "dashboards/wallboard").rglob("*") if p.is_file())
    assert {a.name for a in assets} >= {"index.html", "wallboard.js", "wallboard.css", "console.html", "console.js"}
    for asset in assets:
        text = asset.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        # the SVG namespace is a name, not a fetch; the vendored chart library's banner names its home
        assert urls <= {"http://www.w3.org/2000/svg", "https://github.com/leeoniya/uPlot"}, (asset.name, urls)
        for ref in re.findall(r'(?:src|href)="([^"#?]+)"', text):
            if ref.startswith("/static/"):
                assert client.get(ref).status_code == 200, ref
    for page in ("/", "/console", "/console/results"):
        r = client.get(page)
        assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
        assert "script-src 'self'" in r.headers["content-security-policy"]
