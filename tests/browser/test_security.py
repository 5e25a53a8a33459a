"""A hostile CSV header must never run script in the owner's or a viewer's page, and the page
never puts the owner token in a URL."""

from __future__ import annotations

import json

from helpers import open_as_owner
from playwright.sync_api import Page, expect

PAYLOADS = [
    "<iframe srcdoc=\"<script>parent.__pwned('srcdoc')</script>\"></iframe>",
    "<iframe src=\"javascript:parent.__pwned('js-url')\"></iframe>",
    "<img src=x onerror=__pwned('img')>",
]


def _hostile_session(live_server) -> dict:
    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    header = ",".join([*map(cell, PAYLOADS), "y"])
    rows = [",".join(f"{(k * (c + 3)) % 17 / 8 - 1:.3f}" for c in range(4)) for k in range(60)]
    status, created = live_server.api(
        "POST", "/api/sessions", {"csv": "\n".join([header, *rows]), "target": "y"}
    )
    assert status == 201, created
    token = created["owner_token"]
    status, _ = live_server.api("POST", f"/api/sessions/{created['id']}/auto-symbolic", {}, token)
    assert status == 200
    return created


def _watch_for_script(page: Page) -> list[str]:
    """Anything a payload manages to run lands in ``ran`` (a dialog, or our hook)."""
    ran: list[str] = []
    page.on("dialog", lambda d: (ran.append(f"dialog {d.message}"), d.dismiss()))
    page.expose_function("__pwned", lambda tag: ran.append(tag))
    return ran


def _assert_inert(page: Page, ran: list[str]) -> None:
    formula = page.locator(".math")
    expect(formula).to_contain_text("iframe")  # the names are shown, as text
    inside = page.evaluate(
        "() => document.querySelectorAll('#app iframe, #app script, #app img, .math svg').length"
    )
    assert inside == 0
    assert ran == []


def test_hostile_column_names_run_no_script(page: Page, base_url, live_server):
    created = _hostile_session(live_server)
    ran = _watch_for_script(page)
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    open_as_owner(page, base_url, created, "hostile")
    _assert_inert(page, ran)
    # The owner's page authenticated its stream without the owner token in any URL.
    assert any("/stream" in u for u in urls)
    assert not [u for u in urls if created["owner_token"] in u]

    viewer = page.context.new_page()
    ran_viewer = _watch_for_script(viewer)
    viewer.goto(base_url + created["viewer_url"])
    _assert_inert(viewer, ran_viewer)
    tokens = json.loads(viewer.evaluate("() => localStorage.getItem('kanwb.sessions')") or "{}")
    assert created["id"] in tokens  # what a successful payload would have stolen
