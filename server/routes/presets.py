"""Public, read-only helpers for the start page: presets, their previews, formula checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from ..data import SpecError, check_formula, preset_preview, presets
from ..schemas import FormulaCheck, FormulaCheckRequest, Preset, PresetPreview

router = APIRouter(prefix="/api", tags=["presets"])


@router.get("/presets", response_model=list[Preset])
def list_presets() -> list[dict]:
    """Built-in problems; ``name`` is what ``POST /api/sessions {"preset": name}`` accepts."""
    return presets()


@router.get(
    "/presets/{name}/preview",
    response_model=PresetPreview,
    responses={404: {"description": "unknown preset"}},
)
def preview(name: str, n: Annotated[int, Query(ge=2, le=64)] = 24) -> dict:
    """The target function on a grid (first two variables), for a thumbnail."""
    try:
        return preset_preview(name, n)
    except SpecError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/formula/check", response_model=FormulaCheck)
def formula_check(body: FormulaCheckRequest) -> dict:
    """Inline validation of a custom formula: its variables, or a readable error."""
    return check_formula(body.formula)
