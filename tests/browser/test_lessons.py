"""Lessons in the browser: honest page state (Undo/Reset readouts, Ctrl+Z after a click, the
compact view of a pruned network, un-reject, loss-chart labels, no owner hints for viewers)."""

from __future__ import annotations

import re

import pytest
from helpers import open_as_owner, trained_session
from playwright.sync_api import Page, expect


def _readout(page: Page, which: str) -> float:
    text = page.locator(f'[data-metric="{which}"]').inner_text()
    m = re.fullmatch(r"([\d.]+)(?:×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
    assert m, text
    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    return float(m[1]) * (10 ** int(m[2].translate(sup)) if m[2] else 1)


def test_undo_says_what_it_discards_and_every_readout_follows(
    page: Page, base_url, live_server, problems
):
    created = trained_session(live_server, "sum_of_squares", steps=10)
    open_as_owner(page, base_url, created, "Sum of squares")
    trained = _readout(page, "train")
    page.locator('[data-edge="0,0,0"]').click()
    page.get_by_role("button", name="Prune", exact=True).click()
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "pruned")
    expect(page.locator('[data-loss-now="prune_edge"]')).to_have_text("now, after the last edit")
    pruned = _readout(page, "train")
    assert pruned > 2 * trained  # the readout is the pruned model's loss, not the last step's
    # train 3 steps with the toolbar's Step button: the focus stays on that button
    page.get_by_label("steps per Step click").fill("3")
    step_btn = page.get_by_role("button", name="Step", exact=True)
    step_btn.click()
    expect(page.locator("[data-step]")).to_have_text("13")
    undo = page.get_by_role("button", name="Undo", exact=True)
    expect(undo).to_have_attribute(
        "title",
        re.compile(
            r'undo "pruned edge \(0, 0, 0\)".*step 10.*the 3 training steps since are discarded'
        ),
    )
    step_btn.focus()
    page.keyboard.press("Control+z")  # Ctrl+Z works with a toolbar button focused
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "active")
    expect(page.locator(".toast")).to_contain_text(["3 training steps since are discarded"])
    expect(page.locator('[data-loss-now="undo"]')).to_have_text("now, after Undo")
    assert abs(_readout(page, "train") - trained) <= 0.02 * trained  # the step-10 model again
    expect(page.locator("ol.history li.undone")).to_have_count(1)
    # Ctrl+Shift+Z redoes with a select focused (the optimiser's), and says so
    page.get_by_label("optimizer").focus()
    page.keyboard.press("Control+Shift+z")
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "pruned")
    expect(page.locator(".toast").last).to_contain_text("redo")
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "active")

    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator('[data-loss-now="reset"]')).to_have_text("now, after Reset")
    assert _readout(page, "train") > 3 * trained  # the initial weights' loss
    problems.assert_none()


def test_a_pruned_network_has_a_compact_view(
    page: Page, base_url, live_server, problems, artifacts
):
    created = trained_session(live_server, "toy", steps=3)
    token = created["owner_token"]
    live_server.api("POST", f"/api/sessions/{created['id']}/nodes/1/0/prune", None, token)
    live_server.api("POST", f"/api/sessions/{created['id']}/nodes/1/3/prune", None, token)
    open_as_owner(page, base_url, created, "toy")
    expect(page.locator("[data-edge]")).to_have_count(15)
    expect(page.locator("[data-live-width]")).to_have_text("live network [2, 3, 1] of [2, 5, 1]")
    page.get_by_label("Compact view").check()
    expect(page.locator("[data-edge]")).to_have_count(2 * 3 + 3)
    expect(page.locator('[data-node="1,0"]')).to_have_count(0)
    expect(page.locator('[data-edge="0,1,1"]')).to_be_visible()
    page.screenshot(path=str(artifacts / "lessons-compact-view.png"))
    # restoring a node (an edit) redraws the compact view with it
    live_server.api("POST", f"/api/sessions/{created['id']}/nodes/1/0/restore", None, token)
    expect(page.locator("[data-edge]")).to_have_count(2 * 4 + 4)
    page.get_by_label("Compact view").uncheck()
    expect(page.locator("[data-edge]")).to_have_count(15)
    problems.assert_none()


def test_a_rejected_candidate_can_be_unrejected(page: Page, base_url, live_server, problems):
    created = trained_session(live_server, "toy", steps=5)
    open_as_owner(page, base_url, created, "toy")
    page.locator('[data-edge="0,0,0"]').click()
    rows = page.locator("tr.cand")
    expect(rows.first).to_be_visible()
    name = rows.first.get_attribute("data-candidate")
    rows.first.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(f'tr.cand[data-candidate="{name}"]')).to_have_count(0)
    page.get_by_role("button", name=f"Un-reject {name}", exact=True).click()
    expect(page.locator(f'tr.cand[data-candidate="{name}"]')).to_have_count(1)
    expect(page.locator(".rejected")).to_have_count(0)
    problems.assert_none()


@pytest.mark.parametrize("narrow", [False, True])
def test_loss_chart_labels_are_whole_and_titles_clear(
    page: Page, base_url, live_server, problems, artifacts, narrow
):
    # 3 steps of the toy span less than a decade (the crowded case); 40 of sum_of_squares, three
    created = trained_session(
        live_server, "sum_of_squares" if narrow else "toy", steps=40 if narrow else 3
    )
    open_as_owner(page, base_url, created, "a session")
    expect(page.locator(".loss-plot .ytick text").first).to_be_visible()
    if narrow:  # losses within one decade near 1.35×10⁻⁶: labels such as 1.35×10⁻⁶ (seen cut)
        page.evaluate(
            """() => { const st = window.__kanwb.store;
                 st.lossHistory.clear();
                 for (let k = 1; k <= 60; k++) st.lossHistory.push(
                   {step: k, train_loss: 1.3e-6 + k * 1e-9, test_loss: 1.32e-6 + k * 1.1e-9});
                 st.emit('snapshot'); }"""
        )
        expect(page.locator(".loss-plot .ytick text").first).to_contain_text("10")
        page.screenshot(path=str(artifacts / "lessons-loss-chart-narrow.png"))
    boxes = page.evaluate(
        """() => {
          const plot = document.querySelector('.loss-plot').getBoundingClientRect();
          const ticks = [...document.querySelectorAll('.loss-plot .ytick text')].map(t => t.getBoundingClientRect());
          const title = document.querySelector('.loss-plot .ytitle').getBoundingClientRect();
          const xticks = [...document.querySelectorAll('.loss-plot .xtick text')].map(t => t.getBoundingClientRect());
          const xtitle = document.querySelector('.loss-plot .xtitle').getBoundingClientRect();
          return {plot: [plot.left, plot.bottom], tickLeft: Math.min(...ticks.map(t => t.left)),
                  titleRight: title.right, xtickBottom: Math.max(...xticks.map(t => t.bottom)),
                  xtitleTop: xtitle.top, xtitleBottom: xtitle.bottom,
                  texts: [...document.querySelectorAll('.loss-plot .ytick text')].map(t => t.textContent),
                  overlaps: ticks.filter((a, i) => ticks.some((b, j) => j > i &&
                      a.top < b.bottom - 1 && b.top < a.bottom - 1)).length};
        }"""
    )
    if narrow:  # written as powers of ten
        assert any("10" in t for t in boxes["texts"]), boxes["texts"]
    assert boxes["tickLeft"] >= boxes["plot"][0], boxes  # no tick label cut at the left
    assert boxes["overlaps"] == 0, boxes  # no two tick labels on top of each other
    assert boxes["titleRight"] <= boxes["tickLeft"], boxes  # the title beside, not over, them
    assert boxes["xtitleTop"] >= boxes["xtickBottom"] - 1, boxes
    assert boxes["xtitleBottom"] <= boxes["plot"][1] + 1, boxes
    problems.assert_none()


def test_viewers_see_no_owner_hints(page: Page, base_url, live_server, problems):
    status, created = live_server.api("POST", "/api/sessions", {"preset": "toy"})
    assert status == 201
    page.goto(f"{base_url}/sessions/{created['id']}?view={created['viewer_token']}")
    expect(page.locator("[data-edge]").first).to_be_visible()
    expect(page.locator(".status")).to_have_text("Not trained yet")
    expect(page.locator("[data-look-for]")).to_contain_text("What to look for: Train with λ")
    page.locator('[data-edge="0,0,0"]').click()
    expect(page.locator("tr.cand").first).to_be_visible(timeout=30_000)
    text = page.locator("body").inner_text()
    owner_only_hints = (
        "press Play",
        "Accept snaps",
        "can be undone",
        "Restore brings",
        "Redo",
        "use Auto-symbolic",
        "snap the edges",
        "Search network",
    )
    for owner_only in owner_only_hints:
        assert owner_only not in text, owner_only
    problems.assert_none()


def test_classification_preset_draws_decision_regions(page: Page, base_url, problems, artifacts):
    page.goto("/")
    card = page.locator('[data-preset="circle"]')
    expect(card).to_contain_text("2 inputs → 2 classes")
    expect(page.locator('[data-look-for="circle"]')).to_contain_text("Look for:")
    expect(page.locator('[data-look-for="spiral"]')).to_contain_text("Look for:")
    card.click()
    page.wait_for_url(re.compile(r"/sessions/[^/?#]+$"))
    expect(page.locator("canvas[data-regions]")).to_be_visible()
    expect(page.locator(".loss-summary .hint")).to_contain_text("cross-entropy")
    expect(page.locator("[data-look-for]")).to_contain_text("What to look for")
    page.get_by_label("steps per Step click").fill("15")
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.locator("[data-step]")).to_have_text("15", timeout=30_000)
    acc = page.locator("[data-accuracy]")
    expect(acc).to_have_attribute("data-accuracy", re.compile(r"^0\.9[0-9]*$|^1$"), timeout=10_000)
    # the canvas is painted: the centre is the class-1 colour (orange), a corner class 0 (blue)
    colours = page.evaluate(
        """() => { const c = document.querySelector('canvas[data-regions]');
                   const g = c.getContext('2d');
                   const at = (x, y) => [...g.getImageData(x, y, 1, 1).data];
                   return {centre: at(c.width / 2 + 9, c.height / 2 + 9), corner: at(3, 3)}; }"""
    )
    r, _, b, _ = colours["centre"]
    assert r > b, colours  # orange-ish
    r, _, b, _ = colours["corner"]
    assert b > r, colours  # blue-ish
    page.screenshot(path=str(artifacts / "lessons-circle-regions.png"))
    problems.assert_none()


def test_trace_one_input_marks_every_edge_and_node(page: Page, base_url, live_server, problems):
    created = trained_session(live_server, "toy", steps=5)
    open_as_owner(page, base_url, created, "toy")
    page.locator("[data-trace-toggle]").check()
    expect(page.locator("[data-trace-edge]")).to_have_count(15)
    expect(page.locator("[data-trace-node]")).to_have_count(2 + 5 + 1)
    slider = page.locator('[data-trace-input="x_1"]')
    expect(slider).to_be_visible()
    before = page.locator('[data-trace-node="0,0"]').text_content()
    slider.fill("0.8")
    value = float(slider.input_value())  # the slider's step snaps 0.8 to its nearest stop
    assert abs(value - 0.8) < 0.01
    expect(page.locator('[data-trace-node="0,0"]')).to_have_text(f"{value:.3g}")
    assert before != f"{value:.3g}"
    # every dot lies inside its edge's box
    outside = page.evaluate(
        """() => [...document.querySelectorAll('[data-trace-edge]')].filter(d => {
              const box = document.querySelector(`[data-edge="${d.dataset.traceEdge}"] rect`).getBBox();
              const x = +d.getAttribute('cx'), y = +d.getAttribute('cy');
              return x < box.x - 0.5 || x > box.x + box.width + 0.5 || y < box.y - 0.5 || y > box.y + box.height + 0.5;
           }).length"""
    )
    assert outside == 0
    page.locator("[data-trace-toggle]").uncheck()
    expect(page.locator("[data-trace-edge]")).to_have_count(0)
    problems.assert_none()


def test_settings_explain_themselves_where_they_are_set(
    page: Page, base_url, live_server, problems
):
    created = trained_session(live_server, "toy", steps=0)
    open_as_owner(page, base_url, created, "toy")
    for key, words in (
        ("lambda", "sparsity"),
        ("prune", "importance"),
        ("grid", "intervals"),
        ("snap", "formula"),
    ):
        tip = page.locator(f'[data-explain="{key}"]')
        expect(tip.locator(".explain")).to_be_hidden()
        tip.locator("summary").click()
        expect(tip.locator(".explain")).to_contain_text(words)
        tip.locator("summary").click()
    problems.assert_none()


def test_an_equal_parameter_mlp_joins_the_loss_chart(page: Page, base_url, live_server, problems):
    created = trained_session(live_server, "toy", steps=8)
    open_as_owner(page, base_url, created, "toy")
    page.get_by_role("button", name="Train an MLP beside it", exact=True).click()
    info = page.locator("[data-compare]")
    expect(info).to_have_attribute("data-compare", "done", timeout=60_000)
    # [2, 5, 1] at grid 5, k 3: 15 edges × 10 = 150; the MLP [2, 37, 1] has 149
    expect(info).to_contain_text("KAN 150 parameters · MLP 149 (width [2, 37, 1], LBFGS)")
    expect(info).to_contain_text("after 8 steps")
    legend = page.locator(".loss-plot .legendtext")
    expect(legend).to_contain_text(["train", "test", "MLP train", "MLP test"])
    # a viewer sees the comparison too (read-only: no button)
    viewer = page.context.new_page()
    viewer.goto(f"{base_url}/sessions/{created['id']}?view={created['viewer_token']}")
    expect(viewer.locator("[data-compare]")).to_contain_text("MLP 149")
    expect(viewer.get_by_role("button", name="Train an MLP beside it")).to_have_count(0)
    viewer.close()
    problems.assert_none()
