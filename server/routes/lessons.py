"""Lessons: decision regions of a classifier, one input traced through the network, and an
equal-parameter MLP trained beside the KAN."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from .. import compare, lessons
from ..deps import OwnerSession, ReaderSession, run_command
from ..schemas import Strict
from ..sessions import CommandError
from .sessions import ERRORS

router = APIRouter(prefix="/api/sessions/{session_id}", tags=["lessons"], responses=ERRORS)


async def _read(s, fn, *args):
    model = await lessons.model_copy(s)
    try:
        return await asyncio.to_thread(fn, model, s, *args)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.get("/regions")
async def regions(s: ReaderSession, n: Annotated[int, Query(ge=8, le=80)] = 40) -> dict:
    """A classifier's P(class 1) on an n×n grid over its two inputs, its training points
    (≤ 400) and accuracy; 409 for a regression session."""
    cache = lessons.REGIONS
    async with cache.lock(s):
        hit = cache.get(s, n)
        if hit is not None:
            return hit
        key = lessons.state_key(s, n)  # before the copy: a change meanwhile is a miss next time
        result = await _read(s, lessons.regions, n)
        cache.put(s, key, result)
        return result


@router.get("/trace")
async def trace(
    s: ReaderSession, x: Annotated[list[float] | None, Query(max_length=64)] = None
) -> dict:
    """One input (``?x=0.3&x=-0.2``, one per input; default: the data's middle) through the
    network: node values per layer, each edge's (x, y), the inputs' data ranges."""
    return await _read(s, lessons.trace, x)


class CompareRequest(Strict):
    steps: int | None = Field(
        None, ge=1, le=compare.MAX_STEPS, description="default: the KAN's steps so far"
    )


@router.post("/compare", status_code=202)
async def start_compare(s: OwnerSession, body: CompareRequest | None = None) -> dict:
    """Train an MLP with about the KAN's parameter count on the same data, with the same
    optimiser settings, as its own small job; read its losses with GET /compare."""
    job = await run_command(s, compare.plan, body.steps if body else None)
    try:
        return {"job": compare.start(s, job)}
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.get("/compare")
async def compare_state(s: ReaderSession) -> dict:
    """The comparison's parameter counts and MLP loss points (``job`` null before the first)."""
    return {"job": compare.state(s)}
