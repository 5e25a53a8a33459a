"""Shared steps for the browser tests."""

from __future__ import annotations

import json

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
