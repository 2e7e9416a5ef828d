"""The improvement results page at ``/console/results`` (its assets are the wallboard's, under ``/static``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.wallboard import WALLBOARD_DIR

router = APIRouter(tags=["wallboard"], include_in_schema=False)


@router.get("/console/results", response_class=FileResponse, response_model=None)
def results() -> FileResponse:
    """Experiments' results with their daily intervals (uPlot, vendored) and the improvement actions."""
    return FileResponse(WALLBOARD_DIR / "results.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
