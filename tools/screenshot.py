"""Take a screenshot of the wallboard: ``python -m tools.screenshot docs/wallboard.png [--lang en]``.

Starts an embedded Redis, fills it with 30 minutes of plausible snapshots (the
billing team slipping) and one alert from the real alert engine, serves the app
with uvicorn and photographs the page in headless Chromium (Playwright).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqm import keys
from sqm.config import Settings
from sqm.models import ALL, Anomaly, KpiSnapshot, encode, series_id

TEAMS = {"billing": 1.0, "tech": 0.7, "sales": 0.5, "vip": 0.25}


def _snapshot(team: str, start: datetime, i: int, rng: random.Random, trouble: float) -> KpiSnapshot:
    size = TEAMS.get(team, 2.45)
    volume = max(1, round(3600 * size * (1 + 0.05 * math.sin(i / 5)) + rng.gauss(0, 40)))
    frt = 55 + 20 * rng.random() + 90 * trouble
    timeout = min(1.0, 0.025 + 0.01 * rng.random() + 0.12 * trouble)
    kpis: dict[str, float | None] = {
        "volume": float(volume), "frt_avg_s": frt, "frt_p50_s": frt * 0.7, "frt_p90_s": frt * 2.1,
        "service_level": 1 - timeout - 0.005, "timeout_rate": timeout, "abandon_rate": 0.02 + 0.05 * trouble,
        "resolution_rate": 0.8, "fcr_rate": 0.88 - 0.05 * trouble, "aht_s": 300 + 40 * rng.random(),
        "csat": 0.93 - 0.06 * trouble + 0.01 * rng.random(), "nps": 52 - 10 * trouble, "complaint_rate": 0.01,
        "complaint_timely_rate": 0.99, "backlog": float(round(40 * size + 60 * trouble)),
    }
    n = {k: volume for k in kpis}
    return KpiSnapshot(window="60m", start=start - timedelta(minutes=59), end=start + timedelta(minutes=1), team=team,
                       kpis=kpis, n=n)


def fill(redis: Any, now: datetime, minutes: int = 30, seed: int = 7) -> list[KpiSnapshot]:
    rng = random.Random(seed)
    last: list[KpiSnapshot] = []
    pipe = redis.pipeline(transaction=False)
    for i in range(minutes):
        start = now - timedelta(minutes=minutes - i)
        for team in [*TEAMS, ALL]:
            trouble = max(0.0, (i - 18) / 10) if team in ("billing", ALL) else 0.0
            snap = _snapshot(team, start, i, rng, trouble * (0.4 if team == ALL else 1.0))
            raw = encode(snap)
            pipe.zadd(keys.kpi_history(series_id("60m", team)), {raw: snap.start.timestamp()})
            if i == minutes - 1:
                pipe.hset(keys.kpi_latest("60m"), keys.dims_field(team, ALL, ALL), raw)
                last.append(snap)
    pipe.execute()
    return last


def _alert(redis: Any, settings: Settings, snap: KpiSnapshot, now: datetime) -> None:
    from alerts.engine import Engine
    from sqm.clock import ManualClock

    value = snap.kpis["timeout_rate"] or 0.0
    anomaly = Anomaly(kpi="timeout_rate", window="60m", team=snap.team, start=snap.start, end=snap.end, value=value,
                      expected=0.03, severity="critical", detector="swing", incident_start=now - timedelta(minutes=9))
    engine = Engine(settings, redis, clock=ManualClock(now), workers=0)
    try:
        engine.handle([anomaly])
    finally:
        engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shoot(out: Path, *, lang: str = "en", chromium: str | None = None, width: int = 1920, height: int = 1080,
          browser: Any = None) -> Path:
    """Serve plausible data and photograph the wallboard; ``browser``: a Playwright browser to use (else one is launched)."""
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.app import create_app
    from sqm.store import connect, embedded_redis

    chromium = chromium or shutil.which("chromium")
    if chromium is None:
        msg = "chromium not found (apt-get install chromium, or pass --chromium PATH)"
        raise SystemExit(msg)
    settings = Settings()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp, embedded_redis(Path(tmp)) as url:
        redis = connect(url)
        last = fill(redis, now)
        _alert(redis, settings, next(s for s in last if s.team == "billing"), now)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings, redis=redis), host="127.0.0.1", port=port,
                                               log_level="warning", timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            if browser is not None:
                _photograph(browser, f"http://127.0.0.1:{port}/?lang={lang}", out, width, height)
            else:
                with sync_playwright() as pw:
                    own = pw.chromium.launch(executable_path=chromium, headless=True, args=[
                        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
                    _photograph(own, f"http://127.0.0.1:{port}/?lang={lang}", out, width, height)
                    own.close()
        finally:
            server.should_exit = True
            thread.join(10)
            with contextlib.suppress(Exception):
                redis.close()
    return out


def _photograph(browser: Any, url: str, out: Path, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector('#conn[data-state="live"]', timeout=15_000)
    page.wait_for_selector("#alerts:not([hidden])", timeout=20_000)
    page.wait_for_selector('.tile[data-team="billing"][data-kpi="frt_avg_s"] svg.spark polyline')
    page.wait_for_timeout(600)  # let the colour transitions finish
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    page.goto("about:blank")
    context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/wallboard.png"))
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args(argv)
    path = shoot(args.out, lang=args.lang, chromium=args.chromium)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
