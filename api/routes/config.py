"""``GET /v1/config/public``: what a wallboard needs to know, and never a secret."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PublicViewerDep, SettingsDep, authorize, presented
from api.schemas import PublicConfig, WhoAmI
from sqm.config import Settings
from sqm.models import KPIS, WINDOWS

router = APIRouter(prefix="/v1/config", tags=["config"])

_IDEAL = {"ratio": 1.0, "score": 100.0}


def kpi_targets(settings: Settings) -> dict[str, float]:
    """The target of every KPI that has one: the service standards, then the wallboard's own."""
    standards = settings.targets.model_dump()
    out = {k: float(v) for k, v in standards.items() if k in KPIS}
    out.update({k: v for k, v in settings.api.wallboard_targets.items() if k in KPIS and k not in out})
    return out


def warn_level(target: float, bad: str, unit: str, margin: float) -> float:
    """Where amber starts: meeting the target with less than ``margin`` of the room to spare.

    >>> warn_level(120.0, "up", "seconds", 0.2), round(warn_level(0.95, "down", "ratio", 0.2), 4)
    (96.0, 0.96)
    """
    if bad == "up":
        return target * (1 - margin)
    return target + (_IDEAL.get(unit, target * 2) - target) * margin


def public_config(settings: Settings) -> PublicConfig:
    targets = kpi_targets(settings)
    kpis = {}
    for name, info in KPIS.items():
        target = targets.get(name)
        warn = warn_level(target, info.bad, info.unit, settings.api.warn_margin) if target is not None else None
        kpis[name] = {"unit": info.unit, "bad": info.bad, "en": info.en, "zh": info.zh, "target": target, "warn": warn}
    return PublicConfig.model_validate(
        {
            "teams": [t.model_dump() for t in settings.teams],
            "channels": [c.model_dump() for c in settings.channels],
            "regions": list(settings.regions),
            "windows": list(WINDOWS),
            "default_window": settings.api.wallboard_window,
            "kpis": kpis,
            "warn_margin": settings.api.warn_margin,
            "public_wallboard": settings.api.public_wallboard,
            "timezone": settings.alerts.timezone,
        }
    )


@router.get("/public", response_model=PublicConfig)
async def public(request: Request, settings: SettingsDep, _: PublicViewerDep) -> PublicConfig:
    """Teams, channels (with their answer targets), regions, windows and KPI metadata with targets."""
    cached: PublicConfig | None = getattr(request.app.state, "public_config", None)
    if cached is None:  # settings are frozen: build it once per app
        cached = request.app.state.public_config = public_config(settings)
    return cached


@router.get("/whoami", response_model=WhoAmI)
async def whoami(request: Request) -> WhoAmI:
    """The name and role of the presented key (``anonymous`` without one); 401 for an unknown key."""
    key = presented(request)
    if not len(request.app.state.keyring):
        return WhoAmI(name="anonymous", role="admin", authenticated=False)
    if key is None:
        return WhoAmI(name="anonymous", role=None, authenticated=False)
    known = request.app.state.keyring.match(key)
    p = authorize(request, "ingest" if known is not None and known.role == "ingest" else "viewer", key)  # 401 if unknown
    return WhoAmI(name=p.name, role=p.role, authenticated=True)
