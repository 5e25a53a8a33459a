"""Opening a model trained elsewhere from the start page (issue 16): pykan's checkpoint files,
or a kan_core model file with a CSV."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import edge_states
from playwright.sync_api import Page, expect

CKPT = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "pykan_ckpt"


def test_a_pykan_checkpoint_opens_as_a_session_i_own(page: Page, base_url, problems, artifacts):
    page.goto(base_url + "/")
    form = page.get_by_role("form", name="open a model")
    form.locator("summary").click()
    form.get_by_label("pykan config").set_input_files(str(CKPT / "mult_config.yml"))
    form.get_by_label("pykan state").set_input_files(str(CKPT / "mult_state"))
    form.get_by_label("pykan cached data").set_input_files(str(CKPT / "mult_cache_data"))
    form.get_by_role("button", name="Open model").click()
    expect(page).to_have_url(re.compile(r"/sessions/[^/]+$"))
    expect(page.locator("[data-edge]").first).to_be_visible()
    assert "active" in set(edge_states(page).values())
    # the owner's tools are there: the model can be pruned and snapped
    expect(page.get_by_role("button", name="Auto-symbolic", exact=True)).to_be_visible()
    page.screenshot(path=str(artifacts / "30-opened-pykan-checkpoint.png"))
    problems.assert_none()


def test_a_file_that_is_not_a_model_is_refused_with_its_reason(page: Page, base_url, tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_bytes(b"just some bytes")
    page.goto(base_url + "/")
    form = page.get_by_role("form", name="open a model")
    form.get_by_label("model file", exact=True).set_input_files(str(bad))
    form.get_by_role("button", name="Open model").click()
    expect(form.locator(".form-error")).to_contain_text("model file")
    assert page.url.rstrip("/") == base_url.rstrip("/")


MULTI = CKPT.parent / "pykan_ckpt_multi"


def _multi_csv(tmp_path: Path, name: str, columns: list[str]) -> Path:
    """The fixture's training data as a CSV (inputs, then the targets or the class index)."""
    import torch

    d = torch.load(MULTI / "expected.pt", weights_only=True)[name]["data"]
    y = d["train_label"].reshape(len(d["train_label"]), -1).float()
    rows = [",".join(columns)]
    rows += [
        ",".join(map(repr, [*a, *b]))
        for a, b in zip(d["train_input"].tolist(), y.tolist(), strict=True)
    ]
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _open_checkpoint(page: Page, base_url: str, name: str, csv: Path | None = None) -> None:
    page.goto(base_url + "/")
    form = page.get_by_role("form", name="open a model")
    form.locator("summary").click()
    form.get_by_label("pykan config").set_input_files(str(MULTI / f"{name}_config.yml"))
    form.get_by_label("pykan state").set_input_files(str(MULTI / f"{name}_state"))
    form.get_by_label("pykan cached data").set_input_files(str(MULTI / f"{name}_cache_data"))
    if csv is not None:
        form.get_by_label("dataset CSV").set_input_files(str(csv))
    if name == "classifier":
        form.get_by_label("classifier").check()
    form.get_by_role("button", name="Open model").click()
    expect(page).to_have_url(re.compile(r"/sessions/[^/]+$"))
    expect(page.locator("[data-edge]").first).to_be_visible()


def test_a_two_output_checkpoint_shows_one_formula_per_output(
    page: Page, base_url, problems, artifacts, tmp_path
):
    _open_checkpoint(page, base_url, "regress", _multi_csv(tmp_path, "regress", list("abuv")))
    lines = page.locator(".math .math-line")
    expect(lines).to_have_count(2)
    expect(lines.nth(0).locator(".lhs")).to_have_text("u =")
    expect(lines.nth(1).locator(".lhs")).to_have_text("v =")
    page.get_by_label("auto-symbolic R² threshold").fill("0")  # snap every edge
    page.get_by_role("button", name="Auto-symbolic", exact=True).click()
    expect(page.locator(".math[data-formula=complete]")).to_be_visible(timeout=60_000)
    expect(lines).to_have_count(2)
    for k in range(2):  # each output's formula is rendered MathML with the inputs in it
        expect(lines.nth(k).locator("math").first).to_be_visible()
        expect(lines.nth(k)).to_contain_text("a")
    page.screenshot(path=str(artifacts / "31-two-output-formulas.png"), full_page=True)
    problems.assert_none()


def test_a_classifier_checkpoint_opens_with_its_decision_regions(
    page: Page, base_url, problems, artifacts
):
    _open_checkpoint(page, base_url, "classifier")
    expect(page.locator("[data-regions]")).to_be_visible()
    expect(page.locator(".math .math-line")).to_have_count(2)
    expect(page.locator(".math .math-line .lhs").first).to_have_text("class0 =")
    page.get_by_label("auto-symbolic R² threshold").fill("0")  # snap every edge
    page.get_by_role("button", name="Auto-symbolic", exact=True).click()
    expect(page.locator(".math[data-formula=complete]")).to_be_visible(timeout=60_000)
    expect(page.locator(".fit-quality")).to_contain_text("test accuracy: formula")
    page.screenshot(path=str(artifacts / "32-classifier-checkpoint.png"), full_page=True)
    problems.assert_none()
