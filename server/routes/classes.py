"""Class routes (docs/classes.md), plus ``/api/lan``, ``/api/qr.svg`` and a session's focus.

Thin: find the class, check the token's role, call :mod:`server.classes` off the event loop
(store writes, forks), return a schema. A student token on a teacher route is 403.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from .. import class_views, commands
from ..class_schemas import (
    ClassCreate,
    ClassCreated,
    ClassState,
    ClassView,
    FocusRequest,
    FocusState,
    FollowRequest,
    FollowTarget,
    HandoutResult,
    Joined,
    JoinRequest,
    LanInfo,
    LeaderboardRow,
    Me,
    PauseAllRequest,
    PauseAllResult,
    Revealed,
)
from ..class_store import StudentRecord
from ..classes import Classes, Room
from ..data import SpecError
from ..deps import (
    Credentials,
    ManagerDep,
    OwnerSession,
    SettingsDep,
    create_rate_limit,
    find_session,
    token_role,
)
from ..expiry import touch_class
from ..netinfo import ALL_INTERFACES, lan_addresses, lan_info, url_host
from ..sessions import CommandError

router = APIRouter(prefix="/api/classes", tags=["classes"])
extra = APIRouter(tags=["classes"])
ERRORS = {
    401: {"description": "no token"},
    403: {"description": "a token without access (a student token on a teacher route)"},
    404: {"description": "unknown class"},
    409: {"description": "the class has ended, or nothing to do"},
}
QR_MAX = 512


def get_classes(request: Request) -> Classes:
    return request.app.state.classes


ClassesDep = Annotated[Classes, Depends(get_classes)]


async def _call(fn, *args) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    except SpecError as exc:
        raise HTTPException(422, str(exc)) from None


def _access(classes: Classes, class_id: str, creds) -> tuple[Room, StudentRecord | None]:
    """The class and the reader: None for the teacher, the student's record for a student."""
    try:
        room = classes.room(class_id)
        role, st = classes.role(room, creds.credentials if creds else None)
    except CommandError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        raise HTTPException(exc.status, exc.message, headers=headers) from None
    if role == "teacher":
        touch_class(classes, room)  # the teacher is here: the class does not expire
    return room, st if role == "student" else None


def _teacher(classes: Classes, class_id: str, creds) -> Room:
    room, st = _access(classes, class_id, creds)
    if st is not None:
        raise HTTPException(403, "only the teacher can do this")
    return room


def join_url(request: Request, settings, code: str) -> str:
    if settings.host in ALL_INTERFACES:
        addrs = lan_addresses()
        if addrs:
            return f"http://{url_host(addrs[0])}:{settings.port}/join?code={code}"
    return f"{str(request.base_url).rstrip('/')}/join?code={code}"


@router.post(
    "",
    status_code=201,
    response_model=ClassCreated,
    responses={**ERRORS, 422: {"description": "bad challenge"}, 429: {"description": "limits"}},
    dependencies=[Depends(create_rate_limit)],
)
async def create_class(
    body: ClassCreate,
    classes: ClassesDep,
    manager: ManagerDep,
    settings: SettingsDep,
    creds: Credentials,
    request: Request,
) -> dict:
    """From a session (its owner token) or from a challenge (anyone)."""
    if body.session is not None:
        s = await find_session(manager, body.session)
        if creds is None:
            raise HTTPException(401, "send Authorization: Bearer <the session's owner token>")
        if token_role(s, creds.credentials) != "owner":
            raise HTTPException(403, "only the session's owner can start a class from it")
        room = await _call(classes.create_from_session, s)
    else:
        room = await _call(classes.create_challenge, body.challenge)
    rec = room.rec
    return {
        "id": rec.id,
        "code": rec.code,
        "teacher_token": rec.teacher_token,
        "join_url": join_url(request, settings, rec.code),
    }


@router.post(
    "/join",
    status_code=201,
    response_model=Joined,
    responses={
        404: {"description": "unknown code"},
        410: {"description": "the class has ended"},
        422: {"description": "bad name"},
        429: {"description": "class full"},
    },
)
async def join(body: JoinRequest, classes: ClassesDep, request: Request) -> dict:
    room, st = await _call(classes.join, body.code, body.name)
    if st.session_id:
        request.app.state.access.touch(st.session_id)
    return {"class_id": room.rec.id, "student_token": st.token, "name": st.name}


@router.get("/{class_id}", response_model=ClassView, responses=ERRORS)
async def get_class(
    class_id: str, classes: ClassesDep, settings: SettingsDep, creds: Credentials, request: Request
) -> dict:
    room, st = _access(classes, class_id, creds)
    if st is None and room.rec.session_id:  # the teacher's dashboard uses the class's session
        request.app.state.access.touch(room.rec.session_id)  # (a challenge's source): no expiry
    url = join_url(request, settings, room.rec.code)
    return await _call(class_views.dashboard, classes, room, st, url)


@router.get("/{class_id}/state", response_model=ClassState, responses=ERRORS)
async def get_state(class_id: str, classes: ClassesDep, creds: Credentials) -> dict:
    room, st = _access(classes, class_id, creds)
    return await _call(class_views.state, classes, room, st)


@router.get("/{class_id}/me", response_model=Me, responses=ERRORS)
async def get_me(class_id: str, classes: ClassesDep, creds: Credentials) -> dict:
    room, st = _access(classes, class_id, creds)
    if st is None:
        raise HTTPException(403, "this is a student's route; the teacher has no copy")
    return await _call(class_views.me, classes, room, st)


@router.get("/{class_id}/leaderboard", response_model=list[LeaderboardRow], responses=ERRORS)
async def get_leaderboard(class_id: str, classes: ClassesDep, creds: Credentials) -> list:
    room, _ = _access(classes, class_id, creds)
    return await _call(class_views.leaderboard, classes, room)


@router.post("/{class_id}/handout", response_model=HandoutResult, responses=ERRORS)
async def handout(class_id: str, classes: ClassesDep, creds: Credentials, request: Request):
    room = _teacher(classes, class_id, creds)
    res = await _call(classes.handout, room)
    for st in room.rec.students:
        if st.session_id:
            request.app.state.access.touch(st.session_id)
    return res


@router.post("/{class_id}/follow", response_model=dict[str, FollowTarget | None], responses=ERRORS)
async def follow(class_id: str, body: FollowRequest, classes: ClassesDep, creds: Credentials):
    room = _teacher(classes, class_id, creds)
    await _call(classes.follow, room, body.session)
    return {"follow": await _call(class_views.follow_target, classes, room)}


@router.post("/{class_id}/pause-all", response_model=PauseAllResult, responses=ERRORS)
async def pause_all(
    class_id: str, classes: ClassesDep, creds: Credentials, body: PauseAllRequest | None = None
):
    room = _teacher(classes, class_id, creds)
    return await _call(classes.pause_all, room, (body or PauseAllRequest()).paused)


@router.post("/{class_id}/reveal", response_model=dict[str, Revealed | None], responses=ERRORS)
async def reveal(class_id: str, classes: ClassesDep, creds: Credentials):
    room = _teacher(classes, class_id, creds)
    await _call(classes.reveal, room)
    return {"revealed": classes.revealed(room)}


@router.post("/{class_id}/end", response_model=dict[str, bool], responses=ERRORS)
async def end(class_id: str, classes: ClassesDep, creds: Credentials):
    room = _teacher(classes, class_id, creds)
    await _call(classes.end, room)
    return {"ended": True}


# --- beside the classes -------------------------------------------------------------------
@extra.get("/api/lan", response_model=LanInfo)
async def lan(settings: SettingsDep) -> dict:
    """This machine's addresses for links other machines can open (a hint when there is none)."""
    return await run_in_threadpool(lan_info, settings.host, settings.port)


@extra.get(
    "/api/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, 422: {"description": "bad text"}},
)
async def qr_svg(text: Annotated[str, Query(min_length=1, max_length=QR_MAX)]) -> Response:
    """A QR code of ``text`` as a scalable SVG (black on white, with a quiet zone)."""
    try:
        qr = segno.make(text, error="m", micro=False)
    except Exception as exc:  # segno's DataOverflowError and friends
        raise HTTPException(422, f"text: cannot encode it as a QR code ({exc})") from None
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=1, border=4, dark="#000", light="#fff", omitsize=True)
    return Response(
        buf.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@extra.post(
    "/api/sessions/{session_id}/focus",
    response_model=FocusState,
    responses={401: {}, 403: {}, 404: {"description": "unknown session, edge or node"}},
)
async def focus(s: OwnerSession, body: FocusRequest) -> dict:
    """The owner's selection; every viewer of the stream gets a ``focus`` frame."""
    try:
        if body.edge is not None:
            commands.check_edge(s, *body.edge)
        if body.node is not None:
            commands.check_node(s, *body.node)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    edge = list(body.edge) if body.edge is not None else None
    node = list(body.node) if body.node is not None else None
    s.hub.publish_focus(edge, node)
    return {"edge": edge, "node": node}
