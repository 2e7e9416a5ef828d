"""The signed acknowledge link from alert messages (``alerts.ack_path``, default ``/ack/{token}``).

Opening the link (GET) only shows the alert and a button: chat apps fetch links
to preview them, and a preview must not acknowledge anything. The button POSTs
to the same address, which acknowledges through ``alerts.service.ack_with_token``.
No key is needed: the token is the credential (HMAC-signed, expiring).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from alerts import service
from api.deps import ClockDep, RedisDep, SettingsDep
from sqm.config import Settings
from sqm.formatting import format_value
from sqm.models import KPIS, Alert

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sqm · {title}</title><link rel="stylesheet" href="/static/ack.css"></head>
<body><main class="card {cls}"><h1>{title}</h1>{body}</main></body></html>
"""


def _page(title: str, body: str, cls: str = "", code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body, cls=cls), status_code=code,
                        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


def _describe(a: Alert) -> str:
    an = a.anomaly
    info = KPIS.get(an.kpi)
    name = f"{info.zh} / {info.en}" if info else an.kpi
    value, expected = (format_value(an.kpi, v, "zh", alongside=(an.value, an.expected)) for v in (an.value, an.expected))
    rows = [
        ("指标 KPI", name), ("团队 Team", an.team), ("渠道 Channel", an.channel), ("区域 Region", an.region),
        ("窗口 Window", an.window), ("当前值 Value", value), ("基线 Baseline", expected),
        ("级别 Severity", an.severity), ("状态 State", a.state), ("开始 Since", a.started_at.isoformat(timespec="minutes")),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _invalid(err: Exception) -> HTMLResponse:
    return _page("链接无效 · Link not valid", f"<p>{escape(str(err))}</p>", "bad", status.HTTP_403_FORBIDDEN)


def make_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["alerts"], include_in_schema=True)
    path = settings.alerts.ack_path

    @router.get(path, response_class=HTMLResponse, response_model=None, summary="Confirm page of an acknowledge link")
    def confirm(token: str, redis: RedisDep, settings: SettingsDep, clock: ClockDep) -> HTMLResponse:
        try:
            fp = service.fingerprint_of_token(settings, token, clock=clock)
            alert = service.get_alert(redis, fp)
        except (service.InvalidToken, service.UnknownAlert) as err:
            return _invalid(err)
        if alert.state == "acknowledged":
            return _page("已确认 · Already acknowledged", _describe(alert) + f"<p>{escape(alert.acked_by or '')}</p>", "ok")
        form = (f'<form method="post" action="{escape(path.format(token=token))}">'
                '<button type="submit">确认告警 · Acknowledge</button></form>')
        return _page("确认告警 · Acknowledge alert", _describe(alert) + form)

    @router.post(path, response_class=HTMLResponse, response_model=None, summary="Acknowledge through a signed link")
    async def acknowledge(token: str, redis: RedisDep, settings: SettingsDep, clock: ClockDep) -> HTMLResponse:
        try:
            alert = await run_in_threadpool(service.ack_with_token, redis, settings, token, clock=clock)
        except (service.InvalidToken, service.UnknownAlert) as err:
            return _invalid(err)
        return _page("已确认 · Acknowledged", _describe(alert), "ok")

    return router
