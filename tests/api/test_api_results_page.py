"""The improvement results page in real headless Chromium: an experiment's verdict and its uPlot chart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from api.app import create_app
from sqm import keys
from sqm.clock import ManualClock
from sqm.models import series_id
from tests.api.conftest import KEYS, LiveServer, auth, snapshot
from tests.conftest import CHROMIUM_ARGS

START = datetime(2026, 3, 2, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _hours(redis, team: str, fcr: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for h in range(96):
        t = START + timedelta(hours=h)
        snap = snapshot(team=team, window="1h", start=t, fcr_rate=rng.binomial(200, fcr) / 200)
        snap["n"]["fcr_rate"] = 200
        redis.zadd(keys.kpi_history(series_id("1h", team)), {json.dumps(snap): t.timestamp()})


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_results_page_shows_the_verdict_and_a_chart(redis, make_settings, browser, lang):
    _hours(redis, "tech", 0.80, 1)
    _hours(redis, "billing", 0.86, 2)
    app = create_app(make_settings(keys=True), redis=redis, clock=ManualClock(START + timedelta(days=4)))
    with LiveServer(app) as server:
        import httpx

        exp = {"name": "greeting", "kpis": ["fcr_rate"], "a": {"label": "tech", "team": "tech"},
               "b": {"label": "billing", "team": "billing"}, "start": START.isoformat()}
        assert httpx.post(f"{server.url}/v1/experiments", json=exp, headers=auth("supervisor")).status_code == 201
        act = {"problem": "repeat calls", "fix": "callback script", "owner": "li", "kpi": "fcr_rate", "horizon": "medium"}
        assert httpx.post(f"{server.url}/v1/actions", json=act, headers=auth("supervisor")).status_code == 201
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/console/results?lang={lang}#key={KEYS['viewer']}")
        expect(page.locator("body")).to_have_attribute("data-loaded", "1", timeout=15_000)
        verdict = page.locator('.kpi-result[data-kpi="fcr_rate"] .verdict')
        expect(verdict).to_have_attribute("data-decision", "stop_effect")
        expect(verdict).to_contain_text("significant; stop." if lang == "en" else "显著；可以停止。")
        canvas = page.locator('.kpi-result[data-kpi="fcr_rate"] canvas')
        expect(canvas).to_have_count(1)
        assert canvas.bounding_box()["width"] > 300
        expect(page.locator('#actions tbody tr[data-state="proposed"]')).to_have_count(1)
        expect(page.locator("#programme")).to_contain_text("70 %")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"results-{lang}.png"), full_page=True)
        context.close()
        assert errors == []
