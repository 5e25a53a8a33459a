"""FastAPI dependencies: settings, the manager, and token checks as type aliases.

An unknown session id is 404 whatever token is sent; then a missing token is 401 and a wrong
(or, for mutations, a viewer) token is 403.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .config import Settings
from .manager import SessionManager
from .reads import Reads
from .sessions import CommandError, Session

bearer = HTTPBearer(auto_error=False, description="owner token (mutations) or viewer token")


def get_manager(request: Request) -> SessionManager:
    return request.app.state.manager


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_reads(request: Request) -> Reads:
    return request.app.state.reads


ManagerDep = Annotated[SessionManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ReadsDep = Annotated[Reads, Depends(get_reads)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
SessionId = Annotated[str, Path(min_length=1, max_length=64)]


async def find_session(manager: SessionManager, session_id: str) -> Session:
    try:
        s = manager.get_live(session_id) or await run_in_threadpool(manager.get, session_id)
    except CommandError as exc:  # e.g. 503: no room to load it
        raise HTTPException(exc.status, exc.message) from None
    if s is None:
        raise HTTPException(404, f"no session {session_id!r}")
    return s


def token_role(s: Session, token: str | None) -> str | None:
    """'owner', 'viewer' or None; constant-time comparisons."""
    if not token:
        return None
    if secrets.compare_digest(token.encode(), s.owner_token.encode()):
        return "owner"
    if secrets.compare_digest(token.encode(), s.viewer_token.encode()):
        return "viewer"
    return None


def touch(request: Request, s: Session) -> None:
    """An authorised use: the session is not abandoned (expiry.py)."""
    request.app.state.access.touch(s.id)


async def create_rate_limit(request: Request) -> None:
    """Creates per client address (ratelimit.py): 429 with Retry-After beyond the limit."""
    limiter = request.app.state.create_limiter
    wait = limiter.take(request.client.host if request.client else "unknown")
    if wait is not None:
        message, headers = limiter.refusal(wait)
        raise HTTPException(429, message, headers=headers)


async def reader_session(
    session_id: SessionId, manager: ManagerDep, creds: Credentials, request: Request
) -> Session:
    s = await find_session(manager, session_id)
    if creds is None:
        raise HTTPException(
            401,
            "send Authorization: Bearer <owner or viewer token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if token_role(s, creds.credentials) is None:
        raise HTTPException(403, "this token gives no access to this session")
    touch(request, s)
    return s


async def owner_session(
    session_id: SessionId, manager: ManagerDep, creds: Credentials, request: Request
) -> Session:
    s = await find_session(manager, session_id)
    if creds is None:
        raise HTTPException(
            401, "send Authorization: Bearer <owner token>", headers={"WWW-Authenticate": "Bearer"}
        )
    role = token_role(s, creds.credentials)
    if role != "owner":
        raise HTTPException(
            403,
            "viewer tokens are read-only" if role else "this token gives no access to this session",
        )
    touch(request, s)
    return s


ReaderSession = Annotated[Session, Depends(reader_session)]
OwnerSession = Annotated[Session, Depends(owner_session)]


async def run_command(s: Session, fn, *args: Any, timeout: float | None = None) -> Any:
    """Run ``fn(s, *args)`` on the session's worker, awaiting it without blocking the loop."""
    fut = s.submit(fn, s, *args)
    limit = timeout or max(s.settings.step_timeout_s, 5.0)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), limit)
    except TimeoutError:
        fut.cancel()
        raise HTTPException(503, "the session is busy or stuck; try again") from None
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
