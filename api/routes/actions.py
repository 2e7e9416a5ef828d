"""``/v1/actions``: improvement actions (PDCA) — create, move through their states (supervisor), read."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Response, status

from api.deps import ClockDep, RedisDep, SupervisorDep, ViewerDep
from api.improve_schemas import ActionIn, ActionOut, MoveIn, ProgrammeKpis
from improve.actions import Action, Event, check, move, programme_kpis
from improve.store import Store, new_id
from sqm.models import to_builtins

router = APIRouter(prefix="/v1/actions", tags=["actions"])


def _found(store: Store, id_: str) -> Action:
    action = store.action(id_)
    if action is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no action {id_!r}")
    return action


def _invalid(err: Exception) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": ["body"], "field": "body", "msg": str(err), "type": "value_error"}])


@router.get("", response_model=list[ActionOut])
def list_actions(redis: RedisDep, _: ViewerDep) -> list[dict[str, Any]]:
    return [to_builtins(a) for a in Store(redis).actions()]


@router.get("/kpis", response_model=ProgrammeKpis)
def kpis(redis: RedisDep, clock: ClockDep, _: ViewerDep) -> dict[str, Any]:
    """Proposal adoption (target 70 %), landing by the deadline (90 %), share verified, the overdue actions."""
    return programme_kpis(Store(redis).actions(), clock.now())


@router.post("", response_model=ActionOut, status_code=status.HTTP_201_CREATED)
def create(body: ActionIn, redis: RedisDep, clock: ClockDep, who: SupervisorDep) -> dict[str, Any]:
    try:
        action = msgspec.convert({**body.model_dump(mode="json"), "id": new_id("act"),
                                  "created_at": clock.now().isoformat()}, Action, strict=False)
        check(action)
    except (msgspec.ValidationError, ValueError) as err:
        raise _invalid(err) from err
    action = msgspec.structs.replace(action, history=[*action.history, _proposed(action, who.name)])
    Store(redis).put_action(action)
    return to_builtins(action)  # type: ignore[no-any-return]


def _proposed(action: Action, by: str) -> Event:
    return Event(at=action.created_at, move="propose", by=by)


@router.get("/{action_id}", response_model=ActionOut)
def get(action_id: str, redis: RedisDep, _: ViewerDep) -> dict[str, Any]:
    return to_builtins(_found(Store(redis), action_id))  # type: ignore[no-any-return]


@router.post("/{action_id}/moves", response_model=ActionOut)
def make_move(action_id: str, body: MoveIn, redis: RedisDep, clock: ClockDep, who: SupervisorDep) -> dict[str, Any]:
    """One step of the PDCA cycle; 409 names the moves the action's state allows."""
    store = Store(redis)
    action = _found(store, action_id)
    try:
        moved = move(action, body.move, clock.now(), by=who.name, note=body.note, deadline=body.deadline)
    except ValueError as err:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT if "deadline" in str(err) else status.HTTP_409_CONFLICT
        raise HTTPException(code, detail=str(err)) from err
    store.put_action(moved)
    return to_builtins(moved)  # type: ignore[no-any-return]


@router.delete("/{action_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(action_id: str, redis: RedisDep, _: SupervisorDep) -> Response:
    if not Store(redis).delete_action(action_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no action {action_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
