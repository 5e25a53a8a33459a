"""Taking results out from the page (issue 16): upload a model → snap an edge → download the
diagram as SVG from the Download menu; importance by attribution and "Prune inputs below …"."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import httpx
import torch
from helpers import edge_states, open_as_owner
from playwright.sync_api import Page, expect

import kan_core

SVG = "{http://www.w3.org/2000/svg}"


def _upload_model(live_server) -> dict:
    """A kan_core model file and its data (y = sin(πa) + b², seeded), as multipart parts."""
    model = kan_core.KAN(width=[2, 3, 1], grid=5, k=3, seed=3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=g) * 2 - 1
    y = torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2
    csv = "a,b,y\n" + "\n".join(
        f"{a:.5f},{b:.5f},{v:.5f}" for (a, b), v in zip(x.tolist(), y.tolist(), strict=True)
    )
    files = {"model": ("model.pt", model.to_bytes()), "data": ("data.csv", csv.encode())}
    r = httpx.post(live_server.url + "/api/sessions", files=files, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()


def test_upload_snap_download_svg(page: Page, base_url, live_server, problems, artifacts, tmp_path):
    created = _upload_model(live_server)
    open_as_owner(page, base_url, created, "uploaded model")
    assert len(edge_states(page)) == 2 * 3 + 3

    # snap edge (0,0,0) to the first candidate the page offers
    page.locator('[data-edge="0,0,0"]').click()
    first = page.locator("tr.cand").first
    expect(first).to_be_visible(timeout=60_000)  # fitting candidates: seconds on a busy box
    name = first.get_attribute("data-candidate")
    first.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator('[data-edge="0,0,0"]')).to_have_attribute("data-state", "symbolic")
    expect(page.locator('[data-edge="0,0,0"] text.sym')).to_have_text(name)

    page.locator("[data-export-menu]").click()
    with page.expect_download() as info:
        page.locator('[data-export="Diagram (SVG)"]').click()
    download = info.value
    assert download.suggested_filename == f"kan-{created['id']}.svg"
    path = tmp_path / "diagram.svg"
    download.save_as(path)
    root = ET.fromstring(path.read_text())
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    labels = [t for t in root.iter(f"{SVG}text") if t.text == name]
    assert labels and labels[0].get("fill") == "#b91c1c"  # the snapped label, in red
    assert {"a", "b", "y"} <= {t.text for t in root.iter(f"{SVG}text")}
    boxes = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(boxes) == 9

    # the PNG and the report come from the same menu
    expect(page.locator('[data-export="Diagram (PNG)"]')).to_be_hidden()  # the menu closed
    page.locator("[data-export-menu]").click()
    with page.expect_download() as info:
        page.locator('[data-export="Diagram (PNG)"]').click()
    png = tmp_path / "diagram.png"
    info.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.locator("[data-export-menu]").click()
    with page.expect_download() as info:
        page.locator('[data-export="Report (HTML)"]').click()
    report = tmp_path / "report.html"
    info.value.save_as(report)
    text = report.read_text()
    assert "<svg" in text and "<script" not in text and f"<code>{name}</code>" in text
    # the model file opens in a notebook with the snap in it
    page.locator("[data-export-menu]").click()
    with page.expect_download() as info:
        page.locator('[data-export="Model file"]').click()
    model_path = tmp_path / "model.pt"
    info.value.save_as(model_path)
    model = kan_core.KAN.load(model_path)
    assert model.edge_state(0, 0, 0) == "symbolic" and model.symbolic_fit(0, 0, 0).name == name
    page.locator("[data-export-menu]").click()
    page.screenshot(path=str(artifacts / "20-export-menu.png"))
    problems.assert_none()

    # the report opens on its own (a file: no server, no script)
    page.goto(report.as_uri())
    expect(page.locator("h1")).to_have_text("KAN Workbench report")
    expect(page.locator(".diagram svg")).to_be_visible()
    page.screenshot(path=str(artifacts / "21-report.png"), full_page=True)


def test_importance_by_attribution_and_prune_inputs(
    page: Page, base_url, live_server, problems, artifacts
):
    created = _upload_model(live_server)
    token = created["owner_token"]
    open_as_owner(page, base_url, created, "uploaded model")
    _, scores = live_server.api("GET", f"/api/sessions/{created['id']}/attribution", token=token)
    top = scores["max_edge"]
    edge = next(e for e in scores["edges"] if e["score"] < 0.3 * top)  # one that fades
    key = f"{edge['l']},{edge['i']},{edge['j']}"
    wire = page.locator(f'[data-wire="{key}"]')

    page.locator("[data-importance-select]").select_option("attribution")
    expect(page.locator("svg.network")).to_have_attribute("data-importance", "attribution")
    want = max(0.18, math.tanh(3 * edge["score"] / top))
    assert abs(float(wire.evaluate("el => el.style.opacity")) - want) < 0.006

    inputs = {n["i"]: n["score"] for n in scores["nodes"] if n["l"] == 0}
    low = min(inputs, key=inputs.get)
    threshold = (inputs[0] + inputs[1]) / 2
    page.locator("[data-prune-threshold]").fill(f"{threshold:.6g}")
    page.locator("[data-prune-inputs]").click()
    expect(page.locator(f'[data-node="0,{low}"]')).to_have_attribute("data-state", "pruned")
    expect(page.locator("ol.history li").last).to_contain_text("pruned inputs below attribution")
    page.screenshot(path=str(artifacts / "22-attribution-pruned-input.png"))
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator(f'[data-node="0,{low}"]')).to_have_attribute("data-state", "active")
    page.locator("[data-importance-select]").select_option("activation")
    expect(page.locator("svg.network")).to_have_attribute("data-importance", "activation")
    problems.assert_none()


def test_viewer_downloads_but_cannot_prune(page: Page, base_url, live_server, problems, tmp_path):
    created = _upload_model(live_server)
    page.goto(base_url + created["viewer_url"])
    expect(page.locator("[data-edge]").first).to_be_visible()
    page.locator("[data-importance-select]").select_option("attribution")
    expect(page.locator("svg.network")).to_have_attribute("data-importance", "attribution")
    expect(page.locator("[data-prune-inputs]")).to_have_count(0)
    page.locator("[data-export-menu]").click()
    with page.expect_download() as info:
        page.locator('[data-export="Diagram (SVG)"]').click()
    path = tmp_path / "viewer.svg"
    info.value.save_as(path)
    root = ET.fromstring(path.read_text())
    # downloaded as drawn: importance by attribution (the query follows the toggle)
    wires = [p for p in root.iter(f"{SVG}path") if p.get("stroke-width") == "1.3"]
    _, scores = live_server.api(
        "GET", f"/api/sessions/{created['id']}/attribution", token=created["viewer_token"]
    )
    top = scores["max_edge"]
    want = sorted(round(max(0.18, math.tanh(3 * e["score"] / top)), 2) for e in scores["edges"])
    assert sorted(round(float(w.get("opacity", "1")), 2) for w in wires) == want
    problems.assert_none()


def test_image_link_carries_the_viewer_token(page: Page, base_url, live_server, problems):
    created = _upload_model(live_server)
    open_as_owner(page, base_url, created, "uploaded model")
    page.locator("[data-export-menu]").click()
    page.locator('[data-export="Copy image link"]').click()
    toast = page.locator(".toast", has_text="Image link")
    expect(toast).to_be_visible()
    url = toast.inner_text().split(": ", 1)[1].split()[0]
    assert url.startswith(f"{base_url}/api/sessions/{created['id']}/diagram.svg?")
    assert f"token={created['viewer_token']}" in url and created["owner_token"] not in url
    r = httpx.get(url, timeout=30)  # opens without any header: a link for a notebook
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(r.text).tag == f"{SVG}svg"
    problems.assert_none()
