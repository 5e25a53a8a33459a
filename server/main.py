"""The app factory: ``create_app(settings)``; the lifespan owns the Store and SessionManager."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from . import PROTOCOL_VERSION
from .body_limit import BodySizeLimit
from .class_store import ClassStore
from .classes import Classes
from .config import Settings, get_settings
from .errors import install_error_handlers
from .expiry import AccessLog, expire_classes
from .manager import SessionManager
from .ratelimit import RateLimiter
from .reads import Reads
from .routes import classes, discover, edges, export, health, lessons, presets, sessions
from .scheduler import SCHEDULER
from .security import SecurityHeaders, install_log_redaction
from .store import Store
from .stream import router as stream_router

log = logging.getLogger("kan_workbench")
DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent / "web"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#2b6cb0"/>'
    b'<path d="M3 12 Q6 2 8 8 T13 4" stroke="#fff" stroke-width="1.6" fill="none"/></svg>'
)


EXPIRE_EVERY_S = 300.0  # how often abandoned sessions are looked for (expiry.py)


async def _housekeeping(manager: SessionManager, access: AccessLog, classes: Classes) -> None:
    loop = asyncio.get_running_loop()
    expire_due = loop.time()  # at start too: sessions stored before expiry get their rows
    while True:
        await asyncio.sleep(1.0)
        try:
            await asyncio.to_thread(manager.housekeeping)
            if loop.time() >= expire_due:
                expire_due = loop.time() + EXPIRE_EVERY_S
                await asyncio.to_thread(access.sweep, manager)
                await asyncio.to_thread(expire_classes, classes)
        except Exception:  # never let the watchdog die
            log.exception("housekeeping failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_log_redaction()  # logging is configured by now (uvicorn, the CLI)
        store = Store(settings.db_path, settings.max_history_mb * 2**20)
        manager = SessionManager(settings, store)
        app.state.settings, app.state.store, app.state.manager = settings, store, manager
        app.state.reads = Reads(settings)
        app.state.access = AccessLog(
            settings.data_dir.resolve() / "access.sqlite3", settings.session_ttl_hours
        )
        app.state.create_limiter = RateLimiter(settings.create_rate_per_min, settings.create_burst)
        SCHEDULER.configure(settings.train_slots)
        class_store = ClassStore(settings.data_dir.resolve() / "classes.sqlite3")
        app.state.classes = Classes(settings, class_store, manager)
        task = asyncio.create_task(_housekeeping(manager, app.state.access, app.state.classes))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            app.state.reads.close()
            app.state.classes.close()
            class_store.close()
            await asyncio.to_thread(manager.close)
            app.state.access.close()
            store.close()

    app = FastAPI(
        title="KAN Workbench",
        version=f"protocol {PROTOCOL_VERSION}",
        description="Train, prune and snap Kolmogorov-Arnold Networks live; "
        "stream protocol in docs/protocol.md.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    install_error_handlers(app)
    # Bodies are counted while they stream (chunked ones have no Content-Length to check);
    # added before SecurityHeaders so that its headers wrap the 413 too.
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    for module in (health, presets, sessions, edges, discover, export, classes, lessons):
        app.include_router(module.router)
    app.include_router(classes.extra)
    app.include_router(stream_router)
    _mount_pages(app, settings.web_dir or DEFAULT_WEB_DIR)
    return app


def _mount_pages(app: FastAPI, web_dir: Path) -> None:
    """The single-page app: ``/``, ``/sessions/{id}``, ``/join`` and ``/classes/{id}`` serve
    web/index.html; other files of web/ are served from the root (``/js/main.js``); Plotly.js
    comes from the plotly package."""

    def index() -> Response:
        page = web_dir / "index.html"
        if not page.is_file():  # a server without its page still answers, and says why
            return HTMLResponse(
                f"<h1>KAN Workbench</h1><p>No web page at {page}; the API is "
                '<a href="/docs">here</a>.</p>'
            )
        return FileResponse(page, media_type="text/html")

    app.get("/", include_in_schema=False)(index)

    @app.get("/sessions/{session_id}", include_in_schema=False)
    def session_page(session_id: str) -> Response:
        return index()

    # The class pages (web/js/class/): students join by code; the teacher's dashboard.
    @app.get("/join", include_in_schema=False)
    def join_page() -> Response:
        return index()

    @app.get("/classes/{class_id}", include_in_schema=False)
    def class_page(class_id: str) -> Response:
        return index()

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    @app.get("/favicon.svg", include_in_schema=False)
    def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml")

    # Last, so every API route wins: web/js/main.js is served at /js/main.js, and so on.
    app.mount("/", StaticFiles(directory=web_dir, check_dir=False), name="web")
