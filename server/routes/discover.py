"""Discover: start a formula search on a session, read its front, apply a candidate."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path

from .. import discovery
from ..deps import OwnerSession, ReaderSession, run_command
from ..schemas import DiscoverRequest, DiscoverState, EditResult
from ..sessions import CommandError
from .sessions import ERRORS

router = APIRouter(prefix="/api/sessions/{session_id}/discover", tags=["discover"])


@router.post(
    "",
    status_code=202,
    response_model=DiscoverState,
    responses={**ERRORS, 429: {"description": "too many searches running"}},
)
async def start(s: OwnerSession, body: DiscoverRequest) -> dict:
    """Start (or restart) the search; the front streams as ``discover`` frames. 429 while
    the server already runs its limit of searches."""
    try:
        return discovery.start(s, body.budget_s, body.seed)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.get("", response_model=DiscoverState, responses=ERRORS)
async def read(s: ReaderSession) -> dict:
    return discovery.state(s)


@router.post("/{k}/apply", response_model=EditResult, responses=ERRORS)
async def apply(s: OwnerSession, k: int = Path(ge=0, le=10_000)) -> dict:
    """Candidate ``k``'s network and formula become the session's model: one undoable edit."""
    return await run_command(s, discovery.apply, k)
