"""The wallboard page at ``/`` and its static assets under ``/static`` (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

WALLBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "wallboard"

router = APIRouter(tags=["wallboard"], include_in_schema=False)


@router.get("/", response_class=FileResponse, response_model=None)
def index() -> FileResponse:
    """The page holds no data: it reads /v1/config/public, /v1/kpis and /v1/live, with a key when it needs one."""
    return FileResponse(WALLBOARD_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


@router.get("/console", response_class=FileResponse, response_model=None)
def console() -> FileResponse:
    """The supervisor console: open alerts (acknowledge, silence), silences, deliveries — with a supervisor key."""
    return FileResponse(WALLBOARD_DIR / "console.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
