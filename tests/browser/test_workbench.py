"""The workbench page in a real browser: the whole teaching flow, the viewer link, reloads."""

from __future__ import annotations

import re

from helpers import edge_states, step_count, stored_tokens, uncovered_edge_centres
from playwright.sync_api import Page, expect

EDIT_BUTTONS = ["Play", "Pause", "Step", "Prune", "Undo", "Redo", "Accept", "Reject"]


def test_gallery_one_click_creates_a_session(page: Page, live_server, problems, artifacts):
    _, presets = live_server.api("GET", "/api/presets")
    page.goto("/")
    cards = page.locator("[data-preset]")
    expect(cards).to_have_count(len(presets))
    page.screenshot(path=str(artifacts / "01-gallery-1280.png"))
    page.get_by_role("button", name=presets[0]["title"], exact=True).click()
    page.wait_for_url(re.compile(r"/sessions/[^/?#]+$"))
    expect(page.locator("[data-edge]").first).to_be_visible()
    width = presets[0]["width"]
    n_edges = sum(a * b for a, b in zip(width[:-1], width[1:], strict=False))
    expect(page.locator("[data-edge]")).to_have_count(n_edges)
    expect(page.locator("[data-node]")).to_have_count(sum(width))
    expect(page.locator(".formula math").first).to_be_visible()
    page.screenshot(path=str(artifacts / "01b-new-session-1280.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto("/")
    expect(cards).to_have_count(len(presets))
    page.screenshot(path=str(artifacts / "01c-gallery-1920.png"))
    problems.assert_none()


def test_formula_form_shows_server_errors_inline(page: Page, problems):
    page.goto("/")
    form = page.get_by_role("form", name="custom formula")
    form.get_by_label("formula").fill("foo(x_1) + x_2")
    form.get_by_role("button", name="Create session").click()
    expect(form.get_by_role("alert")).to_contain_text("foo")
    # The one failed request is the refused create (a 422 by design); nothing else.
    assert problems.items and all("422" in p for p in problems.items), problems.items


def test_teaching_flow(page: Page, browser, base_url, live_server, problems, artifacts):
    _, presets = live_server.api("GET", "/api/presets")
    page.goto("/")
    page.get_by_role("button", name=presets[0]["title"], exact=True).click()
    page.wait_for_url(re.compile(r"/sessions/[^/?#]+$"))
    session_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("[data-edge]").first).to_be_visible()
    assert uncovered_edge_centres(page) == []

    # Play: curves and loss update while the toggle reads "Pause".
    curve = page.locator('[data-edge="0,0,0"] polyline')
    before = curve.get_attribute("points")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    expect(page.locator("[data-step]")).not_to_have_text("0")
    page.wait_for_function("() => Number(document.querySelector('[data-step]').textContent) >= 8")
    expect(page.locator('[data-metric="train"]')).not_to_have_text("–")
    expect(curve).not_to_have_attribute("points", before)
    page.screenshot(path=str(artifacts / "02-training-1280.png"))
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Paused")).to_be_visible()

    # Inspect the most important first-layer edge: candidates appear without another click.
    states = edge_states(page)
    scores = page.evaluate(
        "() => Object.fromEntries([...window.__kanwb.store.edges].map(([k, e]) => [k, e.score]))"
    )
    first = max((k for k in states if k.startswith("0,")), key=lambda k: scores[k])
    page.locator(f'[data-edge="{first}"]').click()
    rows = page.locator("tr.cand")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 1
    for k in range(rows.count()):
        expect(rows.nth(k).get_by_role("button", name="Accept", exact=True)).to_be_enabled()
        expect(rows.nth(k).get_by_role("button", name="Reject", exact=True)).to_be_enabled()

    # Preview, then accept: the edge turns symbolic in the diagram.
    name = rows.first.get_attribute("data-candidate")
    rows.first.hover()
    expect(page.locator("[data-preview]")).to_have_attribute("data-preview", name)
    page.screenshot(path=str(artifacts / "03-edge-preview-1280.png"))
    rows.first.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator(f'[data-edge="{first}"]')).to_have_attribute("data-state", "symbolic")

    # Prune another edge: it stays in the diagram, faded.
    other = next(k for k, s in edge_states(page).items() if s == "active" and k != first)
    page.locator(f'[data-edge="{other}"]').click()
    page.get_by_role("button", name="Prune", exact=True).click()
    expect(page.locator(f'[data-edge="{other}"]')).to_have_attribute("data-state", "pruned")

    # The formula panel shows a formula (MathML).
    expect(page.locator(".formula math").first).to_be_visible()
    expect(page.locator("ol.history li")).to_have_count(2)
    page.screenshot(path=str(artifacts / "04-symbolic-and-pruned-1280.png"))

    # Undo restores the pruned edge.
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator(f'[data-edge="{other}"]')).to_have_attribute("data-state", "active")
    expect(page.get_by_role("button", name="Redo", exact=True)).to_be_enabled()
    step = step_count(page)
    states = edge_states(page)

    # Reload: the same session state comes back.
    page.reload()
    expect(page.locator(f'[data-edge="{first}"]')).to_have_attribute("data-state", "symbolic")
    assert edge_states(page) == states
    assert step_count(page) == step
    expect(page.get_by_role("button", name="Redo", exact=True)).to_be_enabled()
    problems.assert_none()

    # The viewer link shows the session live, with no edit controls; forged edits are refused.
    viewer_token = stored_tokens(page, session_id)["viewer_token"]
    viewer = browser.new_page(viewport={"width": 1920, "height": 1080})
    viewer_problems = type(problems)(viewer)
    viewer.goto(f"{base_url}/sessions/{session_id}?view={viewer_token}")
    expect(viewer.locator(f'[data-edge="{first}"]')).to_have_attribute("data-state", "symbolic")
    viewer.locator(f'[data-edge="{first}"]').click()
    expect(viewer.get_by_role("heading", name=re.compile("Edge"))).to_be_visible()
    for label in EDIT_BUTTONS:
        expect(viewer.get_by_role("button", name=label, exact=True)).to_have_count(0)
    status = viewer.evaluate(
        """async ([id, token, key]) => {
            const [l, i, j] = key.split(',');
            const r = await fetch(`/api/sessions/${id}/edges/${l}/${i}/${j}/unfix`,
                {method: 'POST', headers: {Authorization: `Bearer ${token}`}});
            return r.status;
        }""",
        [session_id, viewer_token, first],
    )
    assert status == 403
    viewer.screenshot(path=str(artifacts / "05-viewer-1920.png"))
    # The forged request's 403 is the only failure the viewer page saw.
    assert [p for p in viewer_problems.items if "403" not in p] == []
    viewer.close()
    _, snap = live_server.api("GET", f"/api/sessions/{session_id}", token=viewer_token)
    assert {f"{e['l']},{e['i']},{e['j']}": e["state"] for e in snap["edges"]}[first] == "symbolic"


def test_keyboard_space_plays_and_pauses(page: Page, live_server, problems):
    _, presets = live_server.api("GET", "/api/presets")
    page.goto("/")
    page.get_by_role("button", name=presets[0]["title"], exact=True).click()
    expect(page.locator("[data-edge]").first).to_be_visible()
    page.locator("svg.network").click(position={"x": 5, "y": 5})  # focus the page, not a button
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    n = step_count(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => Number(document.querySelector('[data-step]').textContent) > {n}")
    problems.assert_none()


def test_formula_form_creates_a_session(page: Page, problems):
    page.goto("/")
    form = page.get_by_role("form", name="custom formula")
    form.get_by_label("formula").fill("sin(pi*x_1) + x_2**2")
    form.get_by_label("variable range").fill("-1, 1; 0, 2")
    form.get_by_label("hidden layer widths").fill("3")
    form.get_by_role("button", name="Create session").click()
    page.wait_for_url(re.compile(r"/sessions/[^/?#]+$"))
    expect(page.locator("[data-edge]")).to_have_count(2 * 3 + 3)
    expect(page.locator(".session-shape")).to_contain_text("width [2, 3, 1]")
    problems.assert_none()
