"""The websocket ``/api/sessions/{id}/stream`` (protocol in docs/protocol.md).

The token travels in the ``Sec-WebSocket-Protocol`` header as ``bearer.<token>`` next to
``kanwb`` (the page does this: a URL ends up in access logs and browser history), or as
``?token=`` in the URL (the viewer link's token; an owner token there still works, but is
discouraged). The server answers with the ``kanwb`` subprotocol.

On connect: one ``snapshot``. Then a send task wakes whenever the session's hub changes, sends
everything newer than its cursor (metrics points, changed edges, events) and sleeps for the rate
limit; so a slow client gets the latest state and never an unbounded queue. A receive task only
watches for the client going away; whichever ends first cancels the other.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from . import snapshot
from .deps import token_role
from .hub import dumps
from .sessions import CommandError, Session

log = logging.getLogger("kan_workbench.stream")
router = APIRouter(tags=["stream"])
SUBPROTOCOL, BEARER = "kanwb", "bearer."
MAX_REASON_BYTES = 123  # a close frame's payload is 125 bytes, 2 of them the code


@router.websocket("/api/sessions/{session_id}/stream")
async def stream(ws: WebSocket, session_id: str, token: str = "") -> None:
    manager = ws.app.state.manager
    offered = ws.scope.get("subprotocols") or []
    token = next((p[len(BEARER) :] for p in offered if p.startswith(BEARER)), token)
    # Accept first, then close with a reason: a browser sees 4404/4403 (a refused handshake
    # would reach it only as an anonymous 1006).
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        s = manager.get_live(session_id) or await run_in_threadpool(manager.get, session_id)
    except CommandError as exc:  # no room to load it (503), damaged (409), storage fault (503)
        await ws.close(code=1013, reason=close_reason(exc.message))  # 1013: try again later
        return
    except Exception as exc:  # never a hanging socket
        log.exception("stream %s: cannot load the session", session_id)
        await ws.close(code=1011, reason=f"cannot load the session ({type(exc).__name__})")
        return
    if s is None:
        await ws.close(code=4404, reason="no such session")
        return
    if token_role(s, token) is None:
        await ws.close(code=4403, reason="a valid owner or viewer token is required")
        return
    ws.app.state.access.touch(s.id)  # in use: not abandoned (expiry.py)
    wake = s.hub.subscribe()
    try:
        snap, cursor = await snapshot.get(s)
        await ws.send_text(dumps({"type": "snapshot", **snap}))
        sender = asyncio.create_task(_send_loop(ws, s, wake, cursor))
        receiver = asyncio.create_task(_receive_loop(ws))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() and not isinstance(task.exception(), WebSocketDisconnect):
                log.warning("stream %s ended: %r", session_id, task.exception())
    except WebSocketDisconnect:
        pass
    finally:
        s.hub.unsubscribe(wake)


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry (123 bytes of UTF-8, whole characters)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def _send_loop(ws: WebSocket, s: Session, wake: asyncio.Event, cursor) -> None:
    interval = 1.0 / s.settings.metrics_hz
    while True:
        await wake.wait()
        wake.clear()
        frames, resnapshot = s.hub.collect(cursor)
        if resnapshot:
            snap, new_cursor = await snapshot.get(s)
            cursor.__dict__.update(new_cursor.__dict__)
            frames = [dumps({"type": "snapshot", **snap})]
        for frame in frames:
            await ws.send_text(frame)
        await asyncio.sleep(interval)  # rate limit: whatever arrives meanwhile is merged


async def _receive_loop(ws: WebSocket) -> None:
    """Clients may send ``{"type": "ping"}``; anything else is ignored (commands use REST)."""
    while True:
        text = await ws.receive_text()
        try:
            if json.loads(text).get("type") == "ping":
                await ws.send_text(dumps({"type": "pong"}))
        except (ValueError, AttributeError):
            pass
