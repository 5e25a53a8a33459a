"""Whole-model edits from the toolbar, rejecting candidates, nodes, CSV upload, restarts."""

from __future__ import annotations

import re

from conftest import LiveServer, PageProblems
from helpers import edge_states, open_as_owner, step_count, trained_session
from playwright.sync_api import Page, expect


def test_auto_symbolic_refine_and_auto_prune(
    page: Page, base_url, live_server, problems, artifacts
):
    created = trained_session(live_server, "sum_of_squares", 30)
    open_as_owner(page, base_url, created, "Sum of squares")
    expect(page.locator(".session-shape")).to_contain_text("grid 5")

    page.get_by_role("button", name="Refine grid", exact=True).click()
    expect(page.locator(".session-shape")).to_contain_text("grid 10")

    page.get_by_role("button", name="Auto-symbolic", exact=True).click()
    expect(page.locator('[data-formula="complete"]')).to_be_visible()
    expect(page.locator(".fit-quality")).to_contain_text("RMSE")
    assert set(edge_states(page).values()) == {"symbolic"}
    page.screenshot(path=str(artifacts / "08-formula-complete-1280.png"))

    page.get_by_role("button", name="Auto-prune", exact=True).click()
    expect(page.locator("ol.history li")).to_have_count(3)
    page.get_by_role("button", name="Undo", exact=True).click()
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator('[data-formula="partial"]')).to_be_visible()
    assert set(edge_states(page).values()) == {"active"}
    problems.assert_none()


def test_reject_hides_a_candidate(page: Page, base_url, live_server, problems):
    created = trained_session(live_server, "toy", steps=10)
    open_as_owner(page, base_url, created, "toy")
    page.locator('[data-edge="0,0,0"]').click()
    rows = page.locator("tr.cand")
    expect(rows.first).to_be_visible()
    name = rows.first.get_attribute("data-candidate")
    rows.first.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(f'tr.cand[data-candidate="{name}"]')).to_have_count(0)
    expect(page.locator(".rejected")).to_contain_text(name)
    problems.assert_none()


def test_hidden_node_can_be_removed_and_restored(page: Page, base_url, live_server, problems):
    created = trained_session(live_server, "toy", steps=5)
    open_as_owner(page, base_url, created, "toy")
    page.locator('[data-node="1,0"]').click()
    page.get_by_role("button", name="Remove node", exact=True).click()
    expect(page.locator('[data-node="1,0"]')).to_have_attribute("data-state", "pruned")
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "pruned")
    page.get_by_role("button", name="Restore node", exact=True).click()
    expect(page.locator('[data-node="1,0"]')).to_have_attribute("data-state", "active")
    problems.assert_none()


def test_csv_upload_creates_a_session(page: Page, problems):
    rows = ["a,b,y"] + [f"{i / 10},{(i % 7) / 7},{(i / 10) ** 2 + (i % 7) / 7}" for i in range(40)]
    page.goto("/")
    form = page.get_by_role("form", name="CSV upload")
    form.get_by_label("CSV file").set_input_files(
        files=[{"name": "data.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}]
    )
    form.get_by_role("button", name="Upload and create").click()
    page.wait_for_url(re.compile(r"/sessions/[^/?#]+$"))
    expect(page.locator("[data-edge]")).to_have_count(2 * 5 + 5)
    expect(page.locator('[data-node="0,0"]')).to_contain_text("a")
    problems.assert_none()


def test_session_survives_a_server_restart(page: Page, tmp_path, artifacts):
    server = LiveServer(tmp_path)
    server.start()
    try:
        created = trained_session(server, "toy", steps=12)
        open_as_owner(page, server.url, created, "toy")
        page.locator('[data-edge="0,1,0"]').click()
        page.get_by_role("button", name="Prune", exact=True).click()
        expect(page.locator('[data-edge="0,1,0"]')).to_have_attribute("data-state", "pruned")
        states, step = edge_states(page), step_count(page)

        server.stop()
        expect(page.locator(".conn")).to_contain_text("reconnecting")
        server.start()
        expect(page.locator(".conn")).to_be_hidden(timeout=15_000)
        problems = PageProblems(page)
        page.reload()
        expect(page.locator('[data-edge="0,1,0"]')).to_have_attribute("data-state", "pruned")
        assert edge_states(page) == states
        assert step_count(page) == step
        expect(page.locator("ol.history li")).to_have_count(1)
        problems.assert_none()
    finally:
        server.stop()


def test_an_owner_link_gives_edit_rights_and_leaves_the_address_bar(
    page: Page, base_url, live_server, problems
):
    """`kan-workbench open` prints /sessions/ID#owner=…&viewer=…: a browser that never saw the
    session opens it as its owner; the tokens go to localStorage, not the address bar."""
    status, created = live_server.api("POST", "/api/sessions", {"preset": "toy"})
    assert status == 201, created
    sid, owner = created["id"], created["owner_token"]
    page.goto(f"{base_url}/sessions/{sid}#owner={owner}&viewer={created['viewer_token']}")
    expect(page.get_by_role("button", name="Auto-prune", exact=True)).to_be_visible()
    assert owner not in page.url
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('kanwb.sessions'))")
    assert stored[sid]["owner_token"] == owner
    problems.assert_none()
