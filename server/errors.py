"""Error answers that are always valid JSON, always 4xx for bad input, and shaped as documented.

FastAPI's own 422 echoes each invalid ``input`` back, and fails (a 500) when that input is not
JSON: ``NaN``/``Infinity`` (Python's json module accepts them) or the raw bytes of a body that
is not UTF-8. Here inputs are made JSON-safe and short. Our own 422s (``HTTPException(422,
"grid: at most 200")``) are given the documented shape too: ``detail`` is a list of
``{loc, msg, type}``, as the OpenAPI schema's ``HTTPValidationError`` says.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["install_error_handlers", "json_safe"]

MAX_TEXT = 200  # characters of an echoed input
MAX_ITEMS = 20  # items of an echoed list or object
MAX_DEPTH = 4
NOT_AN_OBJECT = ("model_attributes_type", "dict_type")


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as short, strict JSON: non-finite floats as strings, bytes as a size, long
    text cut, containers capped in length and depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {str(k)[:MAX_TEXT]: json_safe(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value[:MAX_ITEMS]]
    return json_safe(str(value), depth)


def _field_error(err: dict[str, Any], path: str) -> dict[str, Any]:
    out = {
        "type": str(err.get("type", "value_error")),
        "loc": [p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
        "msg": str(err.get("msg", "invalid")),
    }
    for key in ("input", "ctx"):  # ctx: e.g. the JSON decoder's "Expecting value"
        if key in err:
            out[key] = json_safe(err[key])
    if out["loc"] == ["body"] and out["type"] in NOT_AN_OBJECT:
        # A form, multipart or text body sent to a JSON route: say what to send instead.
        out["msg"] = "the body must be a JSON object sent as Content-Type: application/json"
        if path.rstrip("/") == "/api/sessions":
            out["msg"] += "; upload a CSV file as multipart to /api/sessions/upload"
    return out


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = [_field_error(e, request.url.path) for e in exc.errors()[:MAX_ITEMS]]
    return JSONResponse({"detail": detail}, status_code=422)


async def http_error(request: Request, exc: HTTPException):
    """A 422 with a text detail gets the documented list shape; others are FastAPI's."""
    if exc.status_code == 422 and isinstance(exc.detail, str):
        detail = [{"type": "value_error", "loc": [], "msg": exc.detail}]
        return JSONResponse({"detail": detail}, status_code=422, headers=exc.headers)
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
