"""A new user's path, clicked as a new user would: open data or a preset, click Discover with
the default budget, and read the right formula — then make it the session's formula. On the
toy, Play first: training stops by itself once the loss plateaus, and the page says so."""

from __future__ import annotations

import math
import random
import re

import torch
from playwright.sync_api import Page, expect

from kan_core import parse_formula

SEARCH_S = 180_000  # the default budget is 30 s; a loaded 2-core CI box may take longer


def math_text(locator) -> str:
    """The MathML's text without spaces, invisible times / function application and "y=";
    a msup/msub reads as its parts in a row (x₂² → x22)."""
    text = re.sub(r"[\s\u2061\u2062]", "", locator.text_content())
    return text.removeprefix("y=")


def assert_same_function(formula: str, target, ranges, seed: int = 0) -> None:
    """``formula`` (the candidate's plain text, parsed safely) equals ``target`` on random
    points of the data's ranges, to 1e-3 of the target's spread."""
    parsed = parse_formula(formula)
    gen = torch.Generator().manual_seed(seed)
    lo = torch.tensor([r[0] for r in ranges], dtype=torch.float64)
    hi = torch.tensor([r[1] for r in ranges], dtype=torch.float64)
    x = lo + (hi - lo) * torch.rand(500, len(ranges), generator=gen, dtype=torch.float64)
    got = parsed.fn(x).reshape(-1)
    want = target(x)
    err = float((got - want).abs().max())
    assert err < 1e-3 * float(want.std()), (formula, err)


def discover_with_default_budget(page: Page, artifacts, name: str) -> tuple[str, str]:
    """Click Discover (budget untouched); when done, the suggested formula's MathML text and
    its plain formula (the best point's tooltip)."""
    expect(page.get_by_label("time budget in seconds")).to_have_value("30")
    page.get_by_role("button", name="Discover", exact=True).click()
    expect(page.locator(".discover-status")).to_contain_text("Done", timeout=SEARCH_S)
    page.screenshot(path=str(artifacts / f"{name}-discover-done-1280.png"))
    best = page.locator("circle.point.best")
    expect(best).to_have_count(1)
    k = best.get_attribute("data-candidate")
    expect(page.locator(".discover-pick")).to_have_attribute("data-picked", k)  # shown first
    plain = best.locator("title").text_content().splitlines()[0]
    return math_text(page.locator(".discover-pick .math")), plain


def open_the_toy(page: Page, base_url: str) -> None:
    """From the start page, the gallery's first preset (pykan's toy), as a new user opens it."""
    page.goto(base_url + "/")
    page.locator('[data-preset="toy"]').click()
    page.wait_for_url(re.compile(r"/sessions/"))
    expect(page.locator("[data-edge]").first).to_be_visible()


def use_it(page: Page) -> str:
    page.get_by_role("button", name="Use this formula", exact=True).click()
    formula = page.locator('.formula [data-formula="complete"]')
    expect(formula).to_be_visible(timeout=30_000)
    return math_text(formula)


def test_a_csv_of_2a_plus_sin_b_reads_as_that_formula(
    page: Page, base_url, live_server, problems, artifacts, tmp_path
):
    rnd = random.Random(14)
    rows = ["a,b,y"]
    for _ in range(400):
        a, b = rnd.uniform(-1, 1), rnd.uniform(-2, 2)
        rows.append(f"{a:.6f},{b:.6f},{2 * a + math.sin(b):.7f}")
    path = tmp_path / "measurements.csv"
    path.write_text("\n".join(rows) + "\n")

    page.goto(base_url + "/")
    form = page.get_by_role("form", name="CSV upload")
    form.get_by_label("CSV file").set_input_files(str(path))
    form.get_by_role("button", name="Upload and create").click()
    page.wait_for_url(re.compile(r"/sessions/"))
    expect(page.locator("[data-edge]").first).to_be_visible()

    shown, plain = discover_with_default_budget(page, artifacts, "new-user-csv")
    assert shown in ("2a+sin(b)", "sin(b)+2a"), (shown, plain)
    assert_same_function(plain, lambda x: 2 * x[:, 0] + torch.sin(x[:, 1]), [(-1, 1), (-2, 2)])
    assert use_it(page) in ("2a+sin(b)", "sin(b)+2a")
    page.screenshot(path=str(artifacts / "new-user-csv-applied-1280.png"))
    problems.assert_none()


def test_a_typed_product_reads_as_x1_x2(page: Page, base_url, live_server, problems, artifacts):
    page.goto(base_url + "/")
    form = page.get_by_role("form", name="custom formula")
    form.get_by_label("formula", exact=True).fill("x_1*x_2")
    form.get_by_role("button", name="Create session").click()
    page.wait_for_url(re.compile(r"/sessions/"))
    expect(page.locator("[data-edge]").first).to_be_visible()

    shown, plain = discover_with_default_budget(page, artifacts, "new-user-product")
    assert shown in ("x1x2", "x2x1"), (shown, plain)
    assert_same_function(plain, lambda x: x[:, 0] * x[:, 1], [(-1, 1)] * 2)
    assert use_it(page) in ("x1x2", "x2x1")
    problems.assert_none()


def test_play_on_the_toy_stops_by_itself_and_says_why(
    page: Page, base_url, live_server, problems, artifacts
):
    open_the_toy(page, base_url)

    # Play, and no Pause: the run ends by itself once the loss levels off (auto-stop is on)
    expect(page.get_by_label("stop when the loss plateaus")).to_be_checked()
    page.get_by_role("button", name="Play", exact=True).click()
    status = page.locator("span.status[data-status]")  # the status line's pill
    expect(status).to_have_text("Stopped: the loss stopped improving", timeout=120_000)
    expect(status).to_have_attribute("data-status", "paused")
    expect(page.locator(".toast")).to_contain_text("Training stopped: the loss stopped improving")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    step = int(page.locator("[data-step]").inner_text())
    assert 90 <= step < 2000, step  # after the grid updates and two windows; far from Play's cap
    page.screenshot(path=str(artifacts / "new-user-toy-stopped-1280.png"))
    # the explanation lasts until something else happens: an edit leaves plain "Paused"
    page.get_by_role("button", name="Auto-prune", exact=True).click()
    expect(page.locator("ol.history li")).to_have_count(1)
    expect(status).to_have_text("Paused")

    # switched off, the next Play runs until paused (the status line reads "Training")
    with page.expect_response(lambda r: r.url.endswith("/settings") and r.ok) as answer:
        page.get_by_label("stop when the loss plateaus").uncheck()
    assert answer.value.json()["detail"]["stop_on_plateau"] is False
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(f"() => window.__kanwb.store.step > {step + 60}", timeout=120_000)
    expect(status).to_have_text("Training")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(status).to_have_text("Paused")
    problems.assert_none()


def test_discover_on_the_toy_reads_its_formula(
    page: Page, base_url, live_server, problems, artifacts
):
    """The page's first preset, pykan's toy exp(sin(πx₁) + x₂²), and Discover untouched."""
    open_the_toy(page, base_url)

    shown, plain = discover_with_default_budget(page, artifacts, "new-user-toy")
    assert_same_function(
        plain, lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2), [(-1, 1)] * 2
    )
    # e to the power (x₂² + sin(πx₁)), in either order: no other terms, no numbers left
    # (sympy's MathML writes e as the exponential e, U+2147)
    base, power = shown[0], shown[1:]
    assert base in "eⅇ" and sorted(power.split("+")) == ["sin(πx1)", "x22"], shown
    applied = use_it(page)
    assert applied == shown, (applied, shown)
    page.screenshot(path=str(artifacts / "new-user-toy-discovered-1280.png"))
    problems.assert_none()


def test_play_auto_symbolic_play_on_the_toy_reads_its_formula(
    page: Page, base_url, live_server, problems, artifacts
):
    """Without Discover, three clicks: Play (stops by itself), Auto-symbolic (the hidden nodes
    that shared the job are merged away and the page says which; the rest snap), Play."""
    open_the_toy(page, base_url)
    play = page.get_by_role("button", name="Play", exact=True)
    status = page.locator("span.status[data-status]")
    play.click()
    expect(status).to_have_text("Stopped: the loss stopped improving", timeout=120_000)
    page.get_by_role("button", name="Auto-symbolic", exact=True).click()
    expect(page.locator(".toast").filter(has_text="merged into the rest")).to_be_visible(
        timeout=60_000
    )
    expect(page.locator("ol.history li")).to_have_count(1)
    play.click()
    expect(status).to_have_text("Stopped: the loss stopped improving", timeout=120_000)
    formula = page.locator('.formula [data-formula="complete"]')
    # e to the power (x₂² + sin(πx₁)): no other terms, no numbers left
    expect(formula).to_contain_text("sin(π", timeout=30_000)
    shown = math_text(formula)
    base, power = shown[0], shown[1:]
    assert base in "eⅇ" and sorted(power.split("+")) == ["sin(πx1)", "x22"], shown
    page.screenshot(path=str(artifacts / "new-user-toy-three-clicks-1280.png"))
    problems.assert_none()
