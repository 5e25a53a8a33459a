"""Taking results out: the diagram as SVG and PNG, and the one-page HTML report (reader tokens).

A browser opens these directly (a link, an ``<img>``), where it cannot send a header; so the
token may come as ``?token=`` too, as for the stream. The log filter (server/security.py) hides
``token=`` values, ``Referrer-Policy: no-referrer`` keeps them out of Referer headers, and
responses are ``Cache-Control: no-store``. The page itself fetches with the Bearer header.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field

from .. import attribution, export, raster, report, snapshot
from ..deps import (
    ManagerDep,
    OwnerSession,
    ReadsDep,
    SessionId,
    bearer,
    find_session,
    run_command,
    token_role,
    touch,
)
from ..schemas import EditResult, Finite, Strict
from ..sessions import Session

router = APIRouter(prefix="/api/sessions/{session_id}", tags=["export"])
ERRORS = {
    401: {"description": "no token"},
    403: {"description": "wrong token"},
    404: {"description": "unknown session"},
}
PNG_SCALE = 2.0  # pixels per diagram unit
LOSS_WAIT_S = 2.0  # the report's current loss waits this long for a busy worker


async def link_reader(
    session_id: SessionId,
    manager: ManagerDep,
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[
        str | None, Query(max_length=200, description="owner or viewer token, for links")
    ] = None,
) -> Session:
    """A reader (owner or viewer) by Bearer header or ``?token=``."""
    s = await find_session(manager, session_id)
    given = creds.credentials if creds is not None else token
    if not given:
        raise HTTPException(
            401,
            "send Authorization: Bearer <owner or viewer token>, or ?token= in a link",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if token_role(s, given) is None:
        raise HTTPException(403, "this token gives no access to this session")
    touch(request, s)
    return s


LinkReader = Annotated[Session, Depends(link_reader)]
Pruned = Annotated[
    Literal["hide", "show"],
    Query(description="pruned edges (and pruned hidden nodes): left out, or drawn dashed"),
]

Importance = Annotated[
    Literal["activation", "attribution"],
    Query(description="edge opacity from activation scores, or KAN 2.0 attribution"),
]


class PruneInputsRequest(Strict):
    threshold: Finite = Field(1e-2, ge=0, le=1e6, description="prune inputs scoring below this")


class AttributionScore(Strict):
    l: int
    i: int
    j: int | None = None
    score: float | None


class AttributionScores(Strict):
    nodes: list[AttributionScore] = Field(description="node (l, i): pykan's node_scores[l][i]")
    edges: list[AttributionScore] = Field(description="edge (l, i, j): pykan's edge_scores[l][j, i]")
    max_edge: float | None = Field(description="the largest edge score (the page shows score/max)")


def _file(body: bytes | str, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def _scene(
    s: Session, pruned: str, importance: str = "activation"
) -> tuple[dict, export.Scene]:
    snap, _ = await snapshot.get(s)
    scores = None
    if importance == "attribution":
        scores = attribution.scene_scores(await attribution.read(s))
    return snap, export.scene(snap, pruned=pruned, scores=scores)


@router.get(
    "/diagram.svg",
    responses={**ERRORS, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def diagram_svg(
    s: LinkReader, pruned: Pruned = "show", importance: Importance = "activation"
) -> Response:
    """The network as the page draws it, as a standalone SVG document."""
    _, sc = await _scene(s, pruned, importance)
    return _file(
        export.to_svg(sc, f"KAN network · session {s.id}"), "image/svg+xml", f"kan-{s.id}.svg"
    )


@router.get(
    "/diagram.png",
    responses={**ERRORS, 200: {"content": {"image/png": {}}}},
    response_class=Response,
)
async def diagram_png(
    s: LinkReader, pruned: Pruned = "show", importance: Importance = "activation"
) -> Response:
    """The same picture rasterised (2 pixels per SVG unit)."""
    _, sc = await _scene(s, pruned, importance)
    png = await asyncio.to_thread(raster.to_png, sc, PNG_SCALE)
    return _file(png, "image/png", f"kan-{s.id}.png")


@router.get(
    "/report.html",
    responses={**ERRORS, 200: {"content": {"text/html": {}}}},
    response_class=Response,
)
async def report_html(s: LinkReader, reads: ReadsDep, pruned: Pruned = "hide") -> Response:
    """One self-contained page: diagram, formula with its test error, snapped edges with their
    fits, edit history, dataset summary. No script."""
    snap, sc = await _scene(s, pruned)
    formula = await reads.formula(s)
    snap["loss_now"] = await _current_loss(s)
    data = await asyncio.to_thread(
        report.dataset_summary, s.dataset, list(s.variables), s.target, s.spec
    )
    svg = export.to_svg(sc, "network diagram")
    page = report.build(snap, formula, data, svg, s.target)
    return _file(page, "text/html; charset=utf-8", f"kan-{s.id}-report.html")


async def _current_loss(s: Session) -> dict | None:
    """The model's train/test loss as it is now (after edits), from the worker; None if busy."""
    fut = s.submit(lambda s: s.current_loss(), s)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), LOSS_WAIT_S)
    except TimeoutError:
        fut.cancel()
        return None


@router.get(
    "/attribution", response_model=AttributionScores, responses=ERRORS, tags=["attribution"]
)
async def get_attribution(s: LinkReader) -> dict:
    """KAN 2.0 attribution (pykan's ``attribute``) on the training inputs, computed beside the
    worker on a copy of the model."""
    return await attribution.read(s)


@router.post(
    "/prune-inputs",
    response_model=EditResult,
    responses={**ERRORS, 409: {"description": "no input below the threshold, or all of them"}},
    tags=["attribution"],
)
async def prune_inputs(s: OwnerSession, body: PruneInputsRequest) -> dict:
    """Prune the input nodes whose attribution is below ``threshold`` (an undoable edit)."""
    return await run_command(s, attribution.prune_inputs, body.threshold)
