"""``/v1/reports/{period}``: a quality report rendered on request — PDF, HTML page or the WeCom summary."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from starlette.concurrency import run_in_threadpool

from alerts import service
from api.deps import ClockDep, RedisDep, SettingsDep, ViewerDep
from improve.periods import kind_of
from improve.render import pdf
from improve.service import make_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8"}


@router.get("/{period}", response_class=Response, responses={200: {"content": {m: {} for m in _MEDIA.values()}}})
async def get_report(
    period: str,
    redis: RedisDep,
    settings: SettingsDep,
    clock: ClockDep,
    _: ViewerDep,
    team: Annotated[str, Query(max_length=64, description="a team, or * for the whole centre")] = "*",
    lang: Literal["zh", "en"] = "zh",
    format: Annotated[Literal["pdf", "html", "md"], Query(description="pdf, an html page, or md (WeCom)")] = "pdf",
) -> Response:
    """The report of a day (`2026-03-02`), ISO week (`2026-W10`), month (`2026-03`) or quarter (`2026-Q1`),
    in the site's time zone."""
    try:
        kind_of(period)
    except ValueError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err

    def make() -> bytes:
        rendered = make_report(settings, redis, period, team, lang, now=clock.now(),
                               alerts=service.list_alerts(redis, limit=10_000))
        if format == "pdf":
            return pdf(rendered)
        return (rendered.html_page if format == "html" else rendered.markdown).encode()

    body = await run_in_threadpool(make)
    name = f"sqm-{period}-{'centre' if team == '*' else team}.{format}"
    disposition = "attachment" if format == "pdf" else "inline"
    return Response(body, media_type=_MEDIA[format], headers={"Content-Disposition": f'{disposition}; filename="{name}"'})
