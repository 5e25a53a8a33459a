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
