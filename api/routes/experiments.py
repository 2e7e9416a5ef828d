"""``/v1/experiments``: define A/B tests and before/after comparisons (supervisor), read their results."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from fastapi import APIRouter, HTTPException, Response, status

from api.deps import ClockDep, RedisDep, SettingsDep, SupervisorDep, ViewerDep
from api.improve_schemas import ExperimentIn, ExperimentOut, ExperimentResult
from improve.experiments import Experiment, check, evaluate
from improve.store import Store, hourly_reader, new_id
from sqm.models import to_builtins

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


def _invalid(err: Exception, field: str = "body") -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": ["body"], "field": field, "msg": str(err), "type": "value_error"}])


def _found(store: Store, id_: str) -> Experiment:
    exp = store.experiment(id_)
    if exp is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no experiment {id_!r}")
    return exp


def _build(body: ExperimentIn, id_: str, by: str, created: Any) -> Experiment:
    try:
        exp = msgspec.convert({**body.model_dump(mode="json"), "id": id_, "created_by": by, "created_at": created},
                              Experiment, strict=False)
        check(exp)
    except (msgspec.ValidationError, ValueError) as err:
        raise _invalid(err) from err
    return exp


@router.get("", response_model=list[ExperimentOut])
def list_experiments(redis: RedisDep, _: ViewerDep) -> list[dict[str, Any]]:
    return [to_builtins(e) for e in Store(redis).experiments()]


@router.post("", response_model=ExperimentOut, status_code=status.HTTP_201_CREATED)
def create(body: ExperimentIn, redis: RedisDep, clock: ClockDep, who: SupervisorDep) -> dict[str, Any]:
    """A new experiment; 422 names what cannot be evaluated (unknown KPI, same series in both arms, ...)."""
    exp = _build(body, new_id("exp"), who.name, clock.now().isoformat())
    Store(redis).put_experiment(exp)
    return to_builtins(exp)  # type: ignore[no-any-return]


@router.get("/{exp_id}", response_model=ExperimentOut)
def get(exp_id: str, redis: RedisDep, _: ViewerDep) -> dict[str, Any]:
    return to_builtins(_found(Store(redis), exp_id))  # type: ignore[no-any-return]


@router.put("/{exp_id}", response_model=ExperimentOut)
def replace(exp_id: str, body: ExperimentIn, redis: RedisDep, who: SupervisorDep) -> dict[str, Any]:
    store = Store(redis)
    old = _found(store, exp_id)
    exp = _build(body, exp_id, old.created_by or who.name, old.created_at.isoformat() if old.created_at else None)
    store.put_experiment(exp)
    return to_builtins(exp)  # type: ignore[no-any-return]


@router.post("/{exp_id}/stop", response_model=ExperimentOut)
def stop(exp_id: str, redis: RedisDep, clock: ClockDep, _: SupervisorDep) -> dict[str, Any]:
    """Stop looking: the results keep the data up to now."""
    store = Store(redis)
    exp = msgspec.structs.replace(_found(store, exp_id), stopped_at=clock.now())
    store.put_experiment(exp)
    return to_builtins(exp)  # type: ignore[no-any-return]


@router.delete("/{exp_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(exp_id: str, redis: RedisDep, _: SupervisorDep) -> Response:
    if not Store(redis).delete_experiment(exp_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no experiment {exp_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{exp_id}/results", response_model=ExperimentResult)
def results(exp_id: str, redis: RedisDep, settings: SettingsDep, clock: ClockDep, _: ViewerDep) -> dict[str, Any]:
    """Per KPI: each arm's value and n, the difference with the one-look test and the always-valid interval
    over daily looks, the decision and the verdict in words (en, zh)."""
    exp = _found(Store(redis), exp_id)
    return evaluate(exp, hourly_reader(redis, settings), now=clock.now(), tz=ZoneInfo(settings.alerts.timezone),
                    alpha=settings.improve.alpha)
