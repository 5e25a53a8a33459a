"""Per-edge and per-node routes: prune/restore, inspect, suggestions, fix/unfix/reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from .. import commands, views
from ..deps import OwnerSession, ReaderSession, run_command
from ..schemas import EdgeDetail, EditResult, Suggestions, SymbolicRequest
from .sessions import ERRORS

router = APIRouter(prefix="/api/sessions/{session_id}", tags=["edges"], responses=ERRORS)
Index = Annotated[int, Path(ge=0, le=100_000)]
EDGE = "/edges/{l}/{i}/{j}"


@router.get(EDGE, response_model=EdgeDetail)
async def edge_detail(
    s: ReaderSession, l: Index, i: Index, j: Index, n: Annotated[int, Query(ge=8, le=1024)] = 128
) -> dict:
    """One edge in detail: curve, grid knots, and the inputs that actually flow through it."""

    def detail(s):
        state = commands.check_edge(s, l, i, j)
        c = s.model.edge_curve(l, i, j, n=n)
        return {
            "l": l,
            "i": i,
            "j": j,
            "state": state,
            "symbolic": views.symbolic_fit(s.model, l, i, j, s.fits.get(f"{l},{i},{j}")),
            **{k: views.rnd_list(c.get(k)) for k in ("x", "y", "knots", "data", "data_range")},
        }

    return await run_command(s, detail)


@router.post(EDGE + "/prune", response_model=EditResult)
async def prune_edge(s: OwnerSession, l: Index, i: Index, j: Index) -> dict:
    """Prune one edge; a warning (not a refusal) if it cuts an input's last path."""
    return await run_command(s, commands.prune_edge, l, i, j)


@router.post(EDGE + "/restore", response_model=EditResult)
async def restore_edge(s: OwnerSession, l: Index, i: Index, j: Index) -> dict:
    return await run_command(s, commands.restore_edge, l, i, j)


@router.get(EDGE + "/suggestions", response_model=Suggestions)
async def suggestions(
    s: ReaderSession, l: Index, i: Index, j: Index, topk: Annotated[int, Query(ge=1, le=50)] = 5
) -> dict:
    """Top-k symbolic candidates, best first, each with its curve for preview."""
    return await run_command(s, commands.suggestions, l, i, j, topk)


@router.post(EDGE + "/symbolic", response_model=EditResult)
async def fix_symbolic(
    s: OwnerSession, l: Index, i: Index, j: Index, body: SymbolicRequest
) -> dict:
    """Accept a candidate: fix the edge to ``name`` (fitted again on the current data)."""
    return await run_command(s, commands.fix_symbolic, l, i, j, body.name)


@router.post(EDGE + "/unfix", response_model=EditResult)
async def unfix_symbolic(s: OwnerSession, l: Index, i: Index, j: Index) -> dict:
    return await run_command(s, commands.unfix_symbolic, l, i, j)


@router.post(EDGE + "/reject", response_model=EditResult)
async def reject(s: OwnerSession, l: Index, i: Index, j: Index, body: SymbolicRequest) -> dict:
    """Reject a candidate: hidden from suggestions and skipped by auto-symbolic."""
    return await run_command(s, commands.reject, l, i, j, body.name)


@router.post(EDGE + "/unreject", response_model=EditResult)
async def unreject(s: OwnerSession, l: Index, i: Index, j: Index, body: SymbolicRequest) -> dict:
    """Take back a rejection: the candidate is suggested again (409 if it was not rejected)."""
    return await run_command(s, commands.unreject, l, i, j, body.name)


@router.post("/nodes/{l}/{i}/prune", response_model=EditResult)
async def prune_node(s: OwnerSession, l: Index, i: Index) -> dict:
    return await run_command(s, commands.prune_node, l, i, False)


@router.post("/nodes/{l}/{i}/restore", response_model=EditResult)
async def restore_node(s: OwnerSession, l: Index, i: Index) -> dict:
    return await run_command(s, commands.prune_node, l, i, True)
