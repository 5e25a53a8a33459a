"""Taking results out: GET diagram.svg / diagram.png / report.html (issue 16, part 4)."""

from __future__ import annotations

import io
import math
import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image
from srv_helpers import create
from test_security import HOSTILE, _hostile_csv

import kan_core
from server import export
from server.security import redact

SVG = "{http://www.w3.org/2000/svg}"


def _snap(client, s) -> dict:
    r = client.get(s.url(), headers=s.viewer_headers)
    assert r.status_code == 200, r.text
    return r.json()


def _fix(client, s, l, i, j, name):
    r = client.post(s.url(f"/edges/{l}/{i}/{j}/symbolic"), json={"name": name}, headers=s.headers)
    assert r.status_code == 200, r.text


def _svg(client, s, **params) -> ET.Element:
    r = client.get(s.url("/diagram.svg"), params=params, headers=s.viewer_headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["cache-control"] == "no-store"
    return ET.fromstring(r.text)  # well-formed XML, or this raises


@pytest.fixture
def snapped(client):
    """[2, 5, 1] with edge (0,0,0) snapped to sin and edge (0,1,2) pruned."""
    s = create(client, preset="toy")
    _fix(client, s, 0, 0, 0, "sin")
    r = client.post(s.url("/edges/0/1/2/prune"), headers=s.headers)
    assert r.status_code == 200, r.text
    return s


def test_svg_is_standalone_and_draws_every_edge(client, snapped):
    snap = _snap(client, snapped)
    root = _svg(client, snapped)
    assert root.tag == f"{SVG}svg"
    w, h = (float(v) for v in root.get("viewBox").split()[2:])
    assert w > 100 and h > 100 and float(root.get("width")) == w
    # one box (rect with a tooltip) per edge, one circle per node
    boxes = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(boxes) == len(snap["edges"]) == 2 * 5 + 5 * 1
    assert len(list(root.iter(f"{SVG}circle"))) == len(snap["nodes"])
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "sin" in texts  # the snapped edge's label, drawn red
    red = [t for t in root.iter(f"{SVG}text") if t.text == "sin"]
    assert red[0].get("fill") == export.SYMBOLIC
    for name in (*snap["variables"], "y"):  # input and output names
        assert name in texts
    # the pruned edge's wire is dashed; hidden, it is gone (one wire and one box fewer)
    dashed = [p for p in root.iter(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(dashed) == 1
    hidden = _svg(client, snapped, pruned="hide")
    hidden_boxes = [r for r in hidden.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(hidden_boxes) == len(boxes) - 1
    assert not [p for p in hidden.iter(f"{SVG}path") if p.get("stroke-dasharray")]


def test_svg_curve_follows_the_edge_samples(client, snapped):
    """The mini curve of an edge is its samples (thinned to what the box can show, ends kept)
    mapped into its box by one affine map per axis, y flipped (SVG y grows downward)."""
    snap = _snap(client, snapped)
    edge = next(e for e in snap["edges"] if (e["l"], e["i"], e["j"]) == (0, 0, 0))
    sc = export.scene(snap)
    curves = [sh for sh in sc.shapes if sh.kind == "path" and sh.stroke == export.SYMBOLIC]
    pts = np.array(next(c.points for c in curves if None not in c.points))
    xs, ys = np.array(edge["curve"]["x"]), np.array(edge["curve"]["y"])
    assert 8 <= len(pts) <= len(xs)
    # which samples were kept: the x map is affine and the ends are kept
    sx = (pts[-1, 0] - pts[0, 0]) / (xs[-1] - xs[0])
    idx = [int(np.argmin(abs(xs - (xs[0] + (px - pts[0, 0]) / sx)))) for px in pts[:, 0]]
    assert idx[0] == 0 and idx[-1] == len(xs) - 1 and np.all(np.diff(idx) > 0)
    slope, icpt = np.polyfit(ys[idx], pts[:, 1], 1)
    assert slope < 0 and np.allclose(slope * ys[idx] + icpt, pts[:, 1], atol=1e-6)


@pytest.mark.parametrize("name", [*HOSTILE, "a\x01b\x0bc\ufffe" * 20])
def test_hostile_column_names_are_text(client, name):
    """A CSV column name never becomes markup in the SVG or the report."""
    r = client.post("/api/sessions", json={"csv": _hostile_csv(name), "target": "y"})
    assert r.status_code == 201, r.text
    body = r.json()
    headers = {"Authorization": f"Bearer {body['viewer_token']}"}
    url = f"/api/sessions/{body['id']}"
    svg = client.get(f"{url}/diagram.svg", headers=headers)
    assert svg.status_code == 200, svg.text
    root = ET.fromstring(svg.text)
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert tags <= {"svg", "title", "rect", "circle", "path", "text"}
    assert not [a for el in root.iter() for a in el.attrib if a.lower().startswith("on")]
    label = export.clean(name)
    assert label in [t.text for t in root.iter(f"{SVG}text")]
    page = client.get(f"{url}/report.html", headers=headers)
    assert page.status_code == 200, page.text
    for raw in ("<iframe", "<img", "<script", "<svg onload"):
        assert raw not in page.text
    if "<" in name:
        assert "&lt;" in page.text


def test_tokens_by_header_or_link(client, snapped):
    url = snapped.url("/diagram.svg")
    assert client.get(url).status_code == 401
    assert client.get(url, params={"token": "nope"}).status_code == 403
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 403
    for token in (snapped.owner, snapped.viewer):
        assert client.get(url, params={"token": token}).status_code == 200
    assert client.get("/api/sessions/nope/diagram.png", params={"token": "x"}).status_code == 404
    bad = client.get(url, params={"token": snapped.viewer, "pruned": "maybe"})
    assert bad.status_code == 422 and "pruned" in bad.text
    line = f'"GET {url}?token={snapped.viewer}&pruned=hide HTTP/1.1" 200'
    assert snapped.viewer not in redact(line)  # the access log never shows a link's token


def _red_pixels(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 150) & (g < 80) & (b < 80)).sum())


def test_png_is_the_same_picture(client):
    s = create(client, preset="toy")
    before = client.get(s.url("/diagram.png"), headers=s.viewer_headers)
    assert before.status_code == 200 and before.headers["content-type"] == "image/png"
    png = before.content
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    w, h = struct.unpack(">II", png[16:24])
    root = _svg(client, s)
    vw, vh = (float(v) for v in root.get("viewBox").split()[2:])
    assert (w, h) == (round(2 * vw), round(2 * vh))
    assert _red_pixels(png) == 0  # nothing symbolic yet
    _fix(client, s, 0, 0, 0, "x^2")
    after = client.get(s.url("/diagram.png"), params={"token": s.owner}).content
    assert _red_pixels(after) > 200  # the snapped edge: red box, curve and wire


def test_report_is_one_self_contained_page(client):
    s = create(client, preset="toy")
    _fix(client, s, 0, 0, 0, "sin")
    r = client.post(s.url("/auto-symbolic"), json={}, headers=s.headers)
    assert r.status_code == 200, r.text
    page = client.get(s.url("/report.html"), headers=s.viewer_headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    text = page.text
    assert "<script" not in text and not re.search(r"(?i)<[^>]*\son\w+\s*=", text)
    assert "src=" not in text and "href=" not in text  # nothing to fetch
    assert text.count("<svg") == 1 and "<math" in text
    formula = client.get(s.url("/formula"), headers=s.viewer_headers).json()
    assert formula["complete"] and formula["outputs"][0]["mathml"] in text
    rmse = formula["formula_rmse"]
    assert f"{rmse:.4g}" in text  # the formula's test error
    snap = _snap(client, s)
    snapped = [e for e in snap["edges"] if e["state"] == "symbolic"]
    # every edge snapped, but those of hidden nodes auto-symbolic merged away (pruned)
    assert snapped and len(snapped) == sum(e["state"] != "pruned" for e in snap["edges"])
    assert text.count("<tr>") - 2 == len(snapped) + len(snap["variables"]) + 1  # + target
    for h in snap["history"]:
        assert h["summary"] in text
    assert "<code>sin</code>" in text


# --- attribution (KAN 2.0) ----------------------------------------------------------------------
def _hand_attribution(model, x):
    """pykan's backward attribution written out for a [n, m, 1] sum network: an edge's score is
    its output's std times its end node's score over that node's std (+1e-4)."""
    with torch.no_grad():
        h = model.layers[0].edge_activations(x)  # (batch, in, out)
        hidden = h.sum(1)
        o = model.layers[1].edge_activations(hidden)
        out = o.sum(1)
    e1 = o.std(0).T / (out.std(0)[:, None] + 1e-4)  # (1, m): the output's score is 1
    s1 = e1.sum(0)
    e0 = h.std(0).T * s1[:, None] / (hidden.std(0)[:, None] + 1e-4)  # (m, n)
    return [e0.sum(0), s1, torch.ones(1)], [e0, e1]


def test_attribution_read_matches_the_definition(client):
    s = create(client, preset="toy")
    r = client.get(s.url("/attribution"), headers=s.viewer_headers)
    assert r.status_code == 200, r.text
    got = r.json()
    sess = client.app.state.manager.get_live(s.id)
    nodes, edges = _hand_attribution(sess.model, sess.dataset["train_input"])
    for n in got["nodes"]:
        assert n["score"] == pytest.approx(float(nodes[n["l"]][n["i"]]), rel=2e-3, abs=1e-6)
    assert len(got["edges"]) == 2 * 5 + 5
    for e in got["edges"]:
        assert e["score"] == pytest.approx(float(edges[e["l"]][e["j"], e["i"]]), rel=2e-3)
    assert got["max_edge"] == max(e["score"] for e in got["edges"])
    # the diagram drawn by attribution: each wire's opacity is tanh(3 · score / max)
    root = _svg(client, s, importance="attribution")
    wires = [p for p in root.iter(f"{SVG}path") if p.get("stroke-width") == "1.3"]
    assert len(wires) == len(got["edges"])
    snap_order = [(e["l"], e["i"], e["j"]) for e in _snap(client, s)["edges"]]
    by_key = {(e["l"], e["i"], e["j"]): e["score"] for e in got["edges"]}
    for wire, key in zip(wires, snap_order, strict=True):
        want = max(0.18, math.tanh(3 * by_key[key] / got["max_edge"]))
        assert float(wire.get("opacity", "1")) == pytest.approx(want, abs=0.006)


def test_prune_inputs_below_a_threshold_is_an_undoable_edit(client):
    s = create(client, preset="toy")
    scores = {
        n["i"]: n["score"]
        for n in client.get(s.url("/attribution"), headers=s.headers).json()["nodes"]
        if n["l"] == 0
    }
    low, high = sorted(scores, key=scores.get)
    threshold = (scores[low] + scores[high]) / 2
    url = s.url("/prune-inputs")
    assert (
        client.post(url, json={"threshold": threshold}, headers=s.viewer_headers).status_code == 403
    )
    none = client.post(url, json={"threshold": 0.0}, headers=s.headers)
    assert none.status_code == 409 and "below 0" in none.json()["detail"]
    every = client.post(url, json={"threshold": 1e5}, headers=s.headers)
    assert every.status_code == 409 and "every live input" in every.json()["detail"]
    assert client.post(url, json={"threshold": -1}, headers=s.headers).status_code == 422
    r = client.post(url, json={"threshold": threshold}, headers=s.headers)
    assert r.status_code == 200, r.text
    name = _snap(client, s)["variables"][low]
    assert r.json()["kind"] == "prune_inputs" and name in r.json()["summary"]
    assert r.json()["warnings"] == []  # cutting that input was asked for
    snap = _snap(client, s)
    states = {(e["i"], e["state"]) for e in snap["edges"] if e["l"] == 0}
    assert states == {(low, "pruned"), (high, "active")}
    assert snap["history"][-1]["kind"] == "prune_inputs"
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200
    assert {e["state"] for e in _snap(client, s)["edges"]} == {"active"}


def test_report_of_a_partial_formula_and_the_loss_now(client, snapped):
    """Placeholders read φ with the subscript l,i,j (as on the page); the loss is the model's
    after the last edit, as the edit events report it."""
    text = client.get(snapped.url("/report.html"), params={"token": snapped.viewer}).text
    assert "phi_" not in text and "<msub><mi>φ</mi><mrow><mn>1,0,0</mn>" in text
    sess = client.app.state.manager.get_live(snapped.id)
    loss = sess.submit(lambda s: s.current_loss(), sess).result(10)
    assert f"train loss {loss['train']:.4g}, test loss {loss['test']:.4g}" in text
    assert "<code>sin</code>" in text and "pruned edge (0, 1, 2)" in text


def test_mult_nodes_drawn_with_their_factors(client):
    """KAN 2.0 multiplication nodes: a larger circle with a ×, and every factor's wire ends at
    the mult node's centre (the edges' ``to``)."""
    s = create(client, formula="x_1*x_2", width=[2, [1, 1], 1])
    snap = _snap(client, s)
    mult = next(n for n in snap["nodes"] if n.get("kind") == "mult")
    sc = export.scene(snap)
    circles = {(sh.box[0], sh.box[1]): sh.box[2] for sh in sc.shapes if sh.kind == "circle"}
    geo = export.layout(
        export.node_counts(snap["width"]),
        [2, 3, 1],  # subnodes: one sum node, a mult node of two factors
        sc.width,
        sc.height,
    )
    centre = geo["nodes"][(mult["l"], mult["i"])]
    assert circles[centre] == pytest.approx(geo["node_r"] * 1.35)
    crosses = [sh for sh in sc.shapes if sh.kind == "path" and sh.stroke == export.INK]
    assert len(crosses) == 1 and None in crosses[0].points
    factors = [e for e in snap["edges"] if e["l"] == 0 and e.get("to") == mult["i"]]
    assert len(factors) == 2 * 2  # two inputs × two factors
    wires = [sh for sh in sc.shapes if sh.kind == "path" and sh.width == 1.3]
    ends = [w.points[-1] for w in wires[: len(snap["edges"])]]
    assert sum(1 for p in ends if p == centre) == len(factors)
    root = _svg(client, s)
    assert len([r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == len(
        snap["edges"]
    )


def test_hidden_pruned_parts_give_the_compact_network(client):
    """pruned=hide draws the live network at its live width, as the page's compact view: a
    pruned hidden node and its edges are gone and the others close ranks."""
    s = create(client, preset="toy")
    r = client.post(s.url("/nodes/1/2/prune"), headers=s.headers)
    assert r.status_code == 200, r.text
    full, compact = _svg(client, s), _svg(client, s, pruned="hide")

    def boxes(root):
        return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]

    assert (len(boxes(full)), len(list(full.iter(f"{SVG}circle")))) == (15, 8)
    assert (len(boxes(compact)), len(list(compact.iter(f"{SVG}circle")))) == (8 + 4, 7)
    width = float(compact.get("viewBox").split()[2])
    hidden = sorted(
        float(c.get("cx"))
        for c in compact.iter(f"{SVG}circle")
        if c.get("cy") == _middle_row(compact)
    )
    assert len(hidden) == 4
    gaps = np.diff(hidden)
    assert np.allclose(gaps, gaps[0], atol=0.2)  # evenly spaced: no hole where node 2 was
    assert abs((hidden[0] + hidden[-1]) / 2 - width / 2) < 0.2
    assert "(1,2," not in ET.tostring(compact, encoding="unicode")  # none of its edges


def _middle_row(root) -> str:
    rows = sorted({c.get("cy") for c in root.iter(f"{SVG}circle")}, key=float)
    return rows[1]


def test_attribution_samples_are_bounded(monkeypatch):
    """A wide layer on many rows is scored on evenly spaced rows (memory stays bounded)."""
    from server import attribution

    model = kan_core.KAN(width=[3, 4, 1], grid=3, k=3, seed=0)
    x = torch.arange(3000.0).reshape(1000, 3) / 3000
    assert attribution.samples(model, x) is x  # small enough: every row
    monkeypatch.setattr(attribution, "MAX_VALUES", 12 * 100)  # widest layer: 3 × 4 edges
    rows = attribution.samples(model, x)
    assert rows.shape == (100, 3)
    assert torch.equal(rows[0], x[0]) and torch.equal(rows[-1], x[-1])
    assert (rows[1:, 0] > rows[:-1, 0]).all()  # distinct rows in order
    monkeypatch.setattr(attribution, "MAX_VALUES", 12)
    assert attribution.samples(model, x).shape[0] == attribution.MIN_ROWS


def test_hostile_target_name_is_text(client):
    name = HOSTILE[2]  # <img src=x onerror=alert(1)>
    rows = [f"{0.05 * k:.3f},{0.1 * k:.3f}" for k in range(-20, 21)]
    csv = "\n".join([f'a,"{name}"', *rows])
    r = client.post("/api/sessions", json={"csv": csv, "target": name})
    assert r.status_code == 201, r.text
    body = r.json()
    url, auth = f"/api/sessions/{body['id']}", {"token": body["viewer_token"]}
    root = ET.fromstring(client.get(f"{url}/diagram.svg", params=auth).text)
    assert name in [t.text for t in root.iter(f"{SVG}text")]  # the output's label, as text
    page = client.get(f"{url}/report.html", params=auth).text
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
