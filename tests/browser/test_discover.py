"""Discover on x_1*x_2 from the page: the front fills in, a point is picked, "Use this
formula" makes the session's formula x₁x₂, and the diagram draws the mult node as ×."""

from __future__ import annotations

import re

from helpers import open_as_owner
from playwright.sync_api import Page, expect


def test_discover_finds_and_applies_the_product(
    page: Page, base_url, live_server, problems, artifacts
):
    status, created = live_server.api(
        "POST", "/api/sessions", {"formula": "x_1*x_2", "ranges": [-1, 1], "width": [2, 5, 1]}
    )
    assert status == 201, created
    open_as_owner(page, base_url, created, "product")
    expect(page.locator('[data-guide="train"]')).to_have_class(re.compile("current"))
    page.locator(".discover input").fill("20")
    page.locator(".discover input").dispatch_event("change")
    page.get_by_role("button", name="Discover", exact=True).click()
    expect(page.locator("[data-candidate]").first).to_be_visible(timeout=30_000)
    expect(page.locator(".discover-status")).to_contain_text("Done", timeout=40_000)
    page.screenshot(path=str(artifacts / "20-discover-front-1280.png"))
    best = page.locator("circle.point.best")
    k = best.get_attribute("data-candidate")
    page.locator(f'[data-candidate="{k}"]').click()
    expect(page.locator(".discover-pick")).to_have_attribute("data-picked", k)
    page.get_by_role("button", name="Use this formula", exact=True).click()
    formula = page.locator('.formula [data-formula="complete"]')
    expect(formula).to_be_visible(timeout=20_000)
    text = re.sub(r"[\s\u2062]", "", formula.text_content())  # (invisible times between)
    assert text == "y=x1x2", text
    expect(page.locator('[data-node][data-kind="mult"]')).to_have_count(1)
    expect(page.locator('[data-guide="done"]')).to_have_class(re.compile("current"))
    expect(page.locator(".pareto [data-current]")).to_have_count(1)  # the session's own point
    expect(page.locator("ol.history li")).to_have_count(1)
    page.screenshot(path=str(artifacts / "21-discover-applied-1280.png"))
    problems.assert_none()


def test_discover_reads_a_csv_in_its_column_names(page: Page, base_url, live_server, problems):
    """A new user's CSV of y = 2a + sin(b): one click on Discover, one on "Use this formula"."""
    import math
    import random

    rnd = random.Random(0)
    rows = ["a,b,y"]
    for _ in range(300):
        a, b = rnd.uniform(-2, 2), rnd.uniform(-2, 2)
        rows.append(f"{a:.5f},{b:.5f},{2 * a + math.sin(b):.6f}")
    status, created = live_server.api("POST", "/api/sessions", {"csv": "\n".join(rows)})
    assert status == 201, created
    open_as_owner(page, base_url, created, "csv")
    page.get_by_role("button", name="Discover", exact=True).click()
    expect(page.locator(".discover-status")).to_contain_text("Done", timeout=40_000)
    page.get_by_role("button", name="Use this formula", exact=True).click()
    formula = page.locator('.formula [data-formula="complete"]')
    expect(formula).to_be_visible(timeout=20_000)
    text = re.sub(r"[\s\u2062]", "", formula.text_content())
    assert text == "y=2a+sin(b)", text
    problems.assert_none()
