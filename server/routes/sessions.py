"""Session-level routes: create, read, delete, train/play/pause/reset, whole-model edits."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Match

from .. import bridge, commands, snapshot
from ..budget import over_budget
from ..data import SpecError
from ..deps import (
    Credentials,
    ManagerDep,
    OwnerSession,
    ReaderSession,
    ReadsDep,
    SessionId,
    SettingsDep,
    create_rate_limit,
    run_command,
    token_role,
)
from ..schemas import (
    AutoPruneRequest,
    AutoSymbolicRequest,
    EditResult,
    Formula,
    RefineRequest,
    SessionCreate,
    SessionCreated,
    SessionSnapshot,
    TrainRequest,
    TrainSettingsPatch,
)
from ..sessions import CommandError

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
ERRORS = {
    401: {"description": "no token"},
    403: {"description": "wrong or viewer token"},
    404: {"description": "unknown session"},
    409: {"description": "impossible edit"},
}
# Any body may be cut off at Settings.max_body_bytes (body_limit.py).
TOO_LARGE = {413: {"description": "body over the size limit"}}


async def _create(manager, req: SessionCreate) -> dict:
    return await _created(manager.create, req)


async def _created(create, *args) -> dict:
    try:
        s = await run_in_threadpool(create, *args)
    except SpecError as exc:
        raise HTTPException(422, str(exc)) from None
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {
        "id": s.id,
        "owner_token": s.owner_token,
        "viewer_token": s.viewer_token,
        "url": f"/sessions/{s.id}",
        "viewer_url": f"/sessions/{s.id}?view={s.viewer_token}",
        "status": s.status,
        "step": s.step,
    }


class _MultipartOnly(APIRoute):
    """A route that matches multipart bodies only: ``POST /api/sessions`` takes a JSON
    ``SessionCreate`` or a multipart model upload (issue 16), each with its own handler."""

    def matches(self, scope):
        match, child = super().matches(scope)
        ctype = dict(scope.get("headers", [])).get(b"content-type", b"")
        if match != Match.NONE and not ctype.lower().startswith(b"multipart/form-data"):
            return Match.NONE, {}
        return match, child


async def create_from_model(request: Request, manager: ManagerDep, settings: SettingsDep):
    """Create a session from an uploaded model (server/bridge.py): a ``model`` part or
    ``pykan_config`` + ``pykan_state`` (+ ``pykan_cache_data``), and an optional CSV ``data``."""
    parts = await _read_parts(request, settings.max_upload_bytes)
    return await _created(bridge.create_session, manager, parts)


async def _read_parts(request: Request, limit: int) -> dict[str, bytes]:
    form = await request.form(max_files=len(bridge.PARTS), max_fields=len(bridge.PARTS))
    try:
        parts: dict[str, bytes] = {}
        for name, value in form.multi_items():
            if name not in bridge.PARTS:
                raise HTTPException(
                    422,
                    f"unknown part {name[:50]!r}: a multipart create opens a model, with parts "
                    f"{', '.join(bridge.PARTS)}; send application/json to create from a preset, "
                    "formula or CSV text, or a CSV file to /api/sessions/upload",
                )
            if name in parts:
                raise HTTPException(422, f"part {name!r} given twice")
            raw = value.encode() if isinstance(value, str) else await value.read(limit + 1)
            if len(raw) > limit:
                raise HTTPException(413, f"{name}: larger than {limit} bytes")
            parts[name] = raw
        return parts
    finally:
        await form.close()


router.add_api_route(
    "",
    create_from_model,
    methods=["POST"],
    status_code=201,
    response_model=SessionCreated,
    include_in_schema=False,  # documented on the JSON route below (one operation, two bodies)
    dependencies=[Depends(create_rate_limit)],
    route_class_override=_MultipartOnly,
)
_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
MODEL_UPLOAD = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": bridge.UPLOAD_HELP,
                    "properties": {
                        name: _BINARY if name != "loss" else {"enum": list(bridge.LOSSES)}
                        for name in bridge.PARTS
                    },
                    "additionalProperties": False,
                }
            }
        }
    }
}


@router.post(
    "",
    status_code=201,
    response_model=SessionCreated,
    responses={
        **TOO_LARGE,
        422: {"description": "invalid formula, unknown preset, over a limit, not a valid model"},
        429: {"description": "too many sessions, or creates from this address (Retry-After)"},
    },
    dependencies=[Depends(create_rate_limit)],
    openapi_extra=MODEL_UPLOAD,
)
async def create_session(req: SessionCreate, manager: ManagerDep) -> dict:
    """Create a session from a preset, a formula or CSV text (JSON), or from an uploaded model
    (multipart, see ``create_from_model``); returns its tokens."""
    return await _create(manager, req)


@router.post(
    "/upload",
    status_code=201,
    response_model=SessionCreated,
    responses={
        400: {"description": "malformed multipart body"},
        **TOO_LARGE,
        422: {"description": "bad CSV or options, over a limit"},
        429: {"description": "too many sessions, or creates from this address (Retry-After)"},
    },
    dependencies=[Depends(create_rate_limit)],
)
async def create_from_csv(
    manager: ManagerDep,
    settings: SettingsDep,
    file: UploadFile,
    options: str = Form("{}", description="JSON: SessionCreate fields"),
):
    """Create a session from an uploaded CSV file (header row; last column is the target
    unless ``options.target`` says otherwise)."""
    raw = await file.read(settings.max_upload_bytes + 1)
    if len(raw) > settings.max_upload_bytes:
        raise HTTPException(413, f"file: larger than {settings.max_upload_bytes} bytes")
    try:
        fields = json.loads(options or "{}")
        if not isinstance(fields, dict):
            raise ValueError("options must be a JSON object")
        req = SessionCreate(**{**fields, "csv": raw.decode("utf-8-sig")})
    except RecursionError:  # options nested thousands deep
        raise HTTPException(422, "options: nested too deeply") from None
    except (ValueError, ValidationError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"options/file: {exc}") from None
    return await _create(manager, req)


@router.get("/{session_id}", response_model=SessionSnapshot, responses=ERRORS)
async def get_session(s: ReaderSession) -> dict:
    return (await snapshot.get(s))[0]


@router.delete(
    "/{session_id}",
    status_code=204,
    responses={**ERRORS, 503: {"description": "could not delete (disk full or read-only)"}},
)
async def delete_session(
    session_id: SessionId, manager: ManagerDep, creds: Credentials
) -> Response:
    """The owner token is checked against the stored session without loading it, so a damaged
    session (every other route answers 409) can be deleted too."""
    try:
        tokens = await run_in_threadpool(manager.tokens, session_id)
        if tokens is None:
            raise HTTPException(404, f"no session {session_id!r}")
        if creds is None:
            raise HTTPException(
                401,
                "send Authorization: Bearer <owner token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        role = token_role(tokens, creds.credentials)
        if role != "owner":
            raise HTTPException(
                403,
                "viewer tokens are read-only"
                if role
                else "this token gives no access to this session",
            )
        await run_in_threadpool(manager.delete, session_id)
    except CommandError as exc:  # 503: the disk refused; the session goes on as it was
        raise HTTPException(exc.status, exc.message) from None
    return Response(status_code=204)


@router.get(
    "/{session_id}/model",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
)
async def download_model(s: ReaderSession) -> Response:
    """The last committed model as a kan_core file (``KAN.load`` / ``kan_core.io``)."""
    return Response(
        s.committed_bytes,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="kan-{s.id}.pt"',
            "Cache-Control": "no-store",
        },
    )


def _may_train(s, request: Request) -> None:
    """An uploaded model without a dataset cannot train (server/bridge.py), nor a student's copy
    while the teacher has paused the class (server/classes.py)."""
    if s.spec.get("labels") == "model":
        raise HTTPException(409, bridge.NO_DATA)
    classes = getattr(request.app.state, "classes", None)
    why = classes.paused_copy(s.id) if classes is not None else None
    if why:
        raise HTTPException(409, why)


@router.post("/{session_id}/train", response_model=EditResult, responses=ERRORS)
async def train(
    s: OwnerSession, body: TrainRequest, settings: SettingsDep, request: Request
) -> dict:
    """Start training ``steps`` steps and return at once; then the status becomes paused."""
    _may_train(s, request)
    if body.steps > settings.max_steps_per_request:
        raise HTTPException(422, f"steps: at most {settings.max_steps_per_request}")
    return await run_command(s, commands.train, body.steps)


@router.post("/{session_id}/play", response_model=EditResult, responses=ERRORS)
async def play(s: OwnerSession, settings: SettingsDep, request: Request) -> dict:
    """Train until paused (or ``play_max_steps``)."""
    _may_train(s, request)
    return await run_command(s, commands.train, settings.play_max_steps)


@router.post("/{session_id}/pause", response_model=EditResult, responses=ERRORS)
async def pause(s: OwnerSession) -> dict:
    return await run_command(s, commands.pause)


@router.post("/{session_id}/reset", response_model=EditResult, responses=ERRORS)
async def reset(s: OwnerSession) -> dict:
    """Back to the initial weights (an undoable edit)."""
    if s.spec.get("upload"):
        raise HTTPException(
            409, "this session opened an uploaded model: reset would replace it by a random one"
        )
    return await run_command(s, commands.reset)


@router.patch("/{session_id}/settings", response_model=EditResult, responses=ERRORS)
async def update_settings(s: OwnerSession, body: TrainSettingsPatch) -> dict:
    return await run_command(s, commands.update_settings, body.model_dump(exclude_none=True))


@router.post("/{session_id}/prune", response_model=EditResult, responses=ERRORS)
async def auto_prune(s: OwnerSession, body: AutoPruneRequest) -> dict:
    """Prune every edge and node below the thresholds (the network keeps its shape)."""
    return await run_command(s, commands.auto_prune, body.node_th, body.edge_th)


@router.post("/{session_id}/refine", response_model=EditResult, responses=ERRORS)
async def refine(s: OwnerSession, body: RefineRequest, settings: SettingsDep) -> dict:
    """Move every edge to ``grid`` intervals; the function is preserved."""
    # The same budget as create, checked here so a too-big grid never reaches the worker.
    samples = sum(int(s.dataset[key].shape[0]) for key in ("train_input", "test_input"))
    message = over_budget(
        s.spec["width"],
        body.grid,
        s.spec["k"],
        samples,
        settings.max_model_cost,
        s.spec.get("mult_arity", 2),
    )
    if message:
        raise HTTPException(422, message)
    return await run_command(s, commands.refine, body.grid)


@router.post("/{session_id}/auto-symbolic", response_model=EditResult, responses=ERRORS)
async def auto_symbolic(s: OwnerSession, body: AutoSymbolicRequest) -> dict:
    return await run_command(s, commands.auto_symbolic, body.r2_threshold, body.merge_nodes)


@router.get("/{session_id}/formula", response_model=Formula, responses=ERRORS)
async def formula(s: ReaderSession, reads: ReadsDep) -> dict:
    """Always 200: ``complete`` is false while some edges are not symbolic. Computed beside
    the worker (reads.py), so a slow simplification never holds the owner's edits."""
    return await reads.formula(s)


@router.post("/{session_id}/undo", response_model=EditResult, responses=ERRORS)
async def undo(s: OwnerSession) -> dict:
    return await run_command(s, commands.undo, False)


@router.post("/{session_id}/redo", response_model=EditResult, responses=ERRORS)
async def redo(s: OwnerSession) -> dict:
    return await run_command(s, commands.undo, True)
