"""Shared steps for the browser tests."""

from __future__ import annotations

import json
import time

from playwright.sync_api import Page, expect


def open_as_owner(page: Page, base_url: str, created: dict, title: str = "") -> None:
    """Open a session created through the API, with its owner token in localStorage."""
    page.goto(base_url + "/favicon.svg")
    entry = {**created, "title": title, "created": 0}
    page.evaluate(
        "([id, entry]) => localStorage.setItem('kanwb.sessions', JSON.stringify({[id]: entry}))",
        [created["id"], entry],
    )
    page.goto(base_url + created["url"])
    expect(page.locator("[data-edge]").first).to_be_visible()


def stored_tokens(page: Page, session_id: str) -> dict:
    raw = page.evaluate("() => localStorage.getItem('kanwb.sessions')")
    return json.loads(raw)[session_id]


def edge_states(page: Page) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-edge]", "els => Object.fromEntries(els.map(e => [e.dataset.edge, e.dataset.state]))"
    )


def uncovered_edge_centres(page: Page) -> list[str]:
    """Edges whose bounding-box centre is not on the edge element itself (covered or off)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-edge]')].filter(el => {
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return !hit || hit.closest('[data-edge]') !== el;
        }).map(el => el.dataset.edge)"""
    )


def step_count(page: Page) -> int:
    return int(page.locator("[data-step]").inner_text())


def trained_session(live_server, preset: str, steps: int, **body) -> dict:
    """Create a preset session through the API (``body``: more create fields), train ``steps``
    steps (none for 0) and wait until it has stopped; returns the create response."""
    status, created = live_server.api("POST", "/api/sessions", {"preset": preset, **body})
    assert status == 201, created
    token = created["owner_token"]
    if steps:
        live_server.api("POST", f"/api/sessions/{created['id']}/train", {"steps": steps}, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, snap = live_server.api("GET", f"/api/sessions/{created['id']}", token=token)
        if snap["step"] >= steps and snap["status"] in ("paused", "idle"):
            return created
        time.sleep(0.2)
    raise AssertionError("training did not finish")
