"""Browser tests: Debian Chromium driven by Playwright against a live server on 127.0.0.1.

Run them in their own pytest invocation, after the other tests (sync Playwright runs an event
loop that breaks pytest-asyncio tests collected after it):

    .venv/bin/python -m pytest tests/browser -p no:asyncio

Needs ``apt-get install chromium`` and ``pip install playwright pytest-playwright`` (never
``playwright install``: we use the system Chromium). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("KAN_WB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]


@pytest.fixture(scope="session", autouse=True)
def _require_chromium():
    """Fail loudly where Chromium is missing: a skipped browser suite would hide failures."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM} (bash .ci/setup.sh test installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``kan-workbench serve`` in a subprocess; restartable on the same data dir and port."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), "--log-level", "warning"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not become healthy in 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """A plain HTTP call (for setup and for checks the page cannot make)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("kanwb-data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "chromium_sandbox": False,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class PageProblems:
    """Console errors, page errors and failed requests seen by one page."""

    def __init__(self, page):
        self.items: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.items.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"pageerror: {e}"))
        page.on("requestfailed", self._failed)
        page.on(
            "response",
            lambda r: r.status >= 400 and self.items.append(f"http {r.status}: {r.url}"),
        )

    def _failed(self, request) -> None:
        # A reload aborts the page's in-flight requests; that is the test navigating, not a
        # failure of the page or the server.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.items.append(f"failed: {request.url} {request.failure}")

    def assert_none(self) -> None:
        assert self.items == [], "\n".join(self.items)


@pytest.fixture
def problems(page):
    return PageProblems(page)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A screenshot of the page when a browser test fails."""
    outcome = yield
    rep = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if rep.when == "call" and rep.failed and page is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{item.name}.png"))
        except Exception:
            pass


def pytest_collection_modifyitems(config, items):
    """Browser tests run only in their own invocation (``pytest tests/browser``): sync
    Playwright leaves an event loop behind that breaks pytest-asyncio tests after it."""
    here = Path(__file__).parent
    browser = [it for it in items if here in Path(it.fspath).parents]
    if browser and len(browser) != len(items):
        config.hook.pytest_deselected(items=browser)
        items[:] = [it for it in items if it not in browser]


@pytest.fixture
def screens(browser):
    """screens(kind) → (page, problems) in a fresh context of that kind (the class tests);
    script that a hostile name makes run (a dialog, ``__pwned()``) fails the test.
    Expectations wait up to 15 s here (joins fork sessions, pages poll every 1.5 s, and the CI
    box is shared), back to Playwright's 5 s afterwards."""
    contexts, ran = [], []
    expect.set_options(timeout=15_000)

    def make(kind: dict):
        ctx = browser.new_context(**kind)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("dialog", lambda d: (ran.append(d.message), d.dismiss()))
        page.expose_function("__pwned", lambda: ran.append("pwned"))
        return page, PageProblems(page)

    yield make
    expect.set_options(timeout=5_000)
    for ctx in contexts:
        ctx.close()
    assert ran == [], f"a student name ran as script: {ran}"
