"""Every screen (issue 15, part 6), measured: a phone (390×844), a projector (1024×768 at 150 %
zoom, i.e. 683×512 CSS px at device scale 1.5) in the presenter view, and a laptop as before.

Screenshots go to /tmp/kanwb-screens/ (look at them); the measurements are the assertions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PageProblems
from playwright.sync_api import expect

SHOTS = Path("/tmp/kanwb-screens")
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
PROJECTOR = {"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}

NO_SIDEWAYS_SCROLL = (
    "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
)
BOX_WIDTHS = "() => [...document.querySelectorAll('[data-edge] rect.box')].map(r => r.getBoundingClientRect().width)"
FONT_PX = "el => parseFloat(getComputedStyle(el).fontSize)"


@pytest.fixture
def screen(browser, live_server):
    """screen(kind) → a fresh page of that size (own context: localStorage starts empty)."""
    contexts = []

    def make(kind: dict):
        ctx = browser.new_context(**kind)
        contexts.append(ctx)
        page = ctx.new_page()
        return page, PageProblems(page)

    yield make
    for ctx in contexts:
        ctx.close()


def _toy(live_server) -> dict:
    status, created = live_server.api("POST", "/api/sessions", {"preset": "toy", "seed": 0})
    assert status == 201, created
    return created


def _open_owner(page, base_url, created) -> None:
    page.goto(base_url + "/favicon.svg")
    entry = {**created, "title": "The KAN paper's toy", "created": 0}
    page.evaluate(
        "([id, e]) => localStorage.setItem('kanwb.sessions', JSON.stringify({[id]: e}))",
        [created["id"], entry],
    )
    page.goto(base_url + created["url"])
    expect(page.locator("[data-edge]").first).to_be_visible()
    expect(page.locator(".formula math").first).to_be_visible()


def _no_sideways_scroll(page) -> None:
    scroll, client = page.evaluate(NO_SIDEWAYS_SCROLL)
    assert scroll <= client, f"the page scrolls sideways: {scroll} > {client} px"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_phone_draws_the_diagram_and_never_scrolls_sideways(screen, base_url, live_server):
    page, problems = screen(PHONE)
    created = _toy(live_server)
    _open_owner(page, base_url, created)

    _no_sideways_scroll(page)
    svg = page.locator("svg.network").bounding_box()
    assert svg["width"] >= 360 and svg["height"] >= 300, f"diagram {svg}"  # was 30 px wide
    boxes = page.evaluate(BOX_WIDTHS)
    assert len(boxes) == 15 and min(boxes) >= 36, f"edge boxes too small to see: {boxes}"
    assert page.evaluate("() => document.querySelectorAll('[data-edge]').length") == 15
    # Every control lies within the screen's width (reachable by scrolling down, not sideways).
    controls = page.locator(
        ".toolbar button, .toolbar input, .toolbar select, .topbar button:visible"
    )
    assert controls.count() >= 15
    for el in controls.all():
        box = el.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    # ... and works: one Step from the phone.
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.locator("[data-step]")).not_to_have_text("0", timeout=20_000)
    # The inspector (below the diagram) opens on a tap and fits the width.
    page.locator('[data-edge="0,0,0"]').click()
    inspector = page.locator(".inspector")
    expect(inspector.locator("h2")).to_contain_text("Edge")
    assert inspector.bounding_box()["width"] <= 390
    _no_sideways_scroll(page)
    _shot(page, "phone-workbench")

    page.goto(base_url + "/")
    expect(page.locator("[data-preset]").first).to_be_visible()
    _no_sideways_scroll(page)
    for card in page.locator("[data-preset]").all()[:3]:
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    _shot(page, "phone-gallery")
    problems.assert_none()


def test_projector_gets_the_presenter_view(screen, base_url, live_server):
    page, problems = screen(PROJECTOR)
    created = _toy(live_server)
    _open_owner(page, base_url, created)

    wb = page.locator(".wb")
    expect(wb).to_have_class("wb owner presenter")  # automatic at this width
    expect(page.get_by_role("button", name="Presenter view")).to_have_attribute(
        "aria-pressed", "true"
    )
    _no_sideways_scroll(page)
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert width == 683
    # The diagram and the formula use the width (the diagram was 323 px beside an empty panel).
    svg = page.locator("svg.network").bounding_box()
    formula = page.locator("section.formula").bounding_box()
    assert svg["width"] >= 0.9 * width and svg["height"] >= 280, svg
    assert formula["width"] >= 0.9 * width, formula
    # The formula is not cut off: it wraps at + instead of scrolling out of sight.
    math = page.locator(".formula .math")
    scroll, client = math.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll <= client + 1, f"formula cut off: {scroll} > {client}"
    assert page.locator(".formula math.term").count() >= 2  # the 5-term sum was split
    # Large type.
    for sel in [".formula .math-line", "[role=status]", ".session-title", ".node-label"]:
        px = page.locator(sel).first.evaluate(FONT_PX)
        assert px >= 18, f"{sel}: {px} px"
    # Controls tucked away, one click brings them back.
    expect(page.locator(".toolbar")).to_be_hidden()
    page.get_by_role("button", name="Controls").click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, "projector-presenter-controls")
    page.get_by_role("button", name="Controls").click()
    expect(page.locator(".toolbar")).to_be_hidden()
    _shot(page, "projector-presenter")

    # The toggle turns it off (remembered), and on again.
    page.get_by_role("button", name="Presenter view").click()
    expect(wb).not_to_have_class("wb owner presenter")
    expect(page.locator(".toolbar")).to_be_visible()
    page.reload()
    expect(page.locator(".wb")).to_have_class("wb owner")
    page.get_by_role("button", name="Presenter view").click()
    expect(page.locator(".wb")).to_have_class("wb owner presenter")

    # A viewer on the projector gets it too, without any owner control.
    viewer, viewer_problems = screen(PROJECTOR)
    viewer.goto(base_url + created["viewer_url"])
    expect(viewer.locator("[data-edge]").first).to_be_visible()
    expect(viewer.locator(".wb")).to_have_class("wb viewer presenter")
    assert viewer.get_by_role("button", name="Controls").count() == 0
    _no_sideways_scroll(viewer)
    _shot(viewer, "projector-viewer")
    problems.assert_none()
    viewer_problems.assert_none()


def test_laptop_keeps_the_side_panel(screen, base_url, live_server):
    page, problems = screen(LAPTOP)
    created = _toy(live_server)
    _open_owner(page, base_url, created)
    expect(page.locator(".wb")).to_have_class("wb owner")
    expect(page.locator(".toolbar")).to_be_visible()
    svg = page.locator("svg.network").bounding_box()
    side = page.locator("aside.side").bounding_box()
    assert svg["width"] >= 800, svg
    assert side["x"] >= svg["x"] + svg["width"] - 1, "the side panel sits beside the diagram"
    _no_sideways_scroll(page)
    _shot(page, "laptop-workbench")
    problems.assert_none()


def test_class_screen_fits_a_projector_and_a_phone(screen, base_url, live_server):
    """The start-a-class overlay: code, link and QR on one projector screen; stacked on a phone."""
    created = _toy(live_server)
    for name, kind in [("projector", PROJECTOR), ("phone", PHONE)]:
        page, problems = screen(kind)
        _open_owner(page, base_url, created)
        page.locator(".start-class").click()
        expect(page.locator("[data-class-code]")).to_be_visible()
        page.wait_for_function(
            "() => document.querySelector('.class-overlay img.qr')?.naturalWidth > 0"
        )
        overlay = page.locator(".class-overlay")
        scroll, height = overlay.evaluate("el => [el.scrollHeight, el.clientHeight]")
        width = page.evaluate("() => innerWidth")
        code = page.locator("[data-class-code]").bounding_box()
        qr = page.locator(".class-overlay img.qr").bounding_box()
        assert code["x"] + code["width"] <= width, f"{name}: code cut off {code}"
        assert qr["x"] + qr["width"] <= width and qr["width"] >= 250, f"{name}: QR {qr}"
        big = 60 if name == "projector" else 40  # CSS px: read from the back row / at arm's length
        assert code["height"] >= big, f"{name}: the code is too small: {code}"
        if name == "projector":
            assert scroll <= height, f"the projector must show it all at once: {scroll} > {height}"
            assert qr["x"] > code["x"] + code["width"] - 1, "QR beside the code"
        _no_sideways_scroll(page)
        _shot(page, f"{name}-class-overlay")
        problems.assert_none()


def test_dashboard_on_a_projector(screen, base_url, live_server):
    """The teacher projects the class dashboard: presenter type, cards within the width."""
    created = _toy(live_server)
    status, cl = live_server.api(
        "POST", "/api/classes", {"session": created["id"]}, created["owner_token"]
    )
    assert status == 201, cl
    for name in ["Ana", "Bo", "A very long name that goes on and on"]:
        status, _ = live_server.api("POST", "/api/classes/join", {"code": cl["code"], "name": name})
        assert status == 201
    page, problems = screen(PROJECTOR)
    page.goto(base_url + "/favicon.svg")
    page.evaluate(
        "([id, e]) => localStorage.setItem('kanwb.classes', JSON.stringify({[id]: e}))",
        [cl["id"], {**cl, "session": created["id"], "created": 0}],
    )
    page.goto(base_url + f"/classes/{cl['id']}")
    expect(page.locator("[data-student]")).to_have_count(3)
    expect(page.locator("html")).to_have_class("presenter")
    _no_sideways_scroll(page)
    for card in page.locator("[data-student]").all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 683, box
        assert card.locator(".student-name").evaluate(FONT_PX) >= 18
        expect(card.get_by_role("link", name="Open")).to_be_hidden()  # no copy yet
    _shot(page, "projector-dashboard")
    problems.assert_none()
