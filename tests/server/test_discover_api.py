"""Discover over REST and the stream: 202 at once, the front streams, apply is one undoable
edit, viewers cannot start or apply."""

from __future__ import annotations

import time

import sympy
from srv_helpers import create, read_until


def test_discover_streams_a_front_and_applies_as_an_edit(client):
    s = create(client, formula="x_1*x_2", ranges=[-1, 1], width=[2, 5, 1])
    with client.websocket_connect(
        s.url("/stream"), subprotocols=["kanwb", f"bearer.{s.viewer}"]
    ) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        start = time.monotonic()
        r = client.post(s.url("/discover"), json={"budget_s": 25}, headers=s.headers)
        assert r.status_code == 202, r.text
        assert time.monotonic() - start < 2  # answered at once; the search runs on
        assert r.json()["done"] is False
        final = read_until(ws, lambda m: m["type"] == "discover" and m["done"], limit=100000)
    assert final["front"] and final["best"] is not None
    best = final["front"][final["best"]]
    x1, x2 = sympy.symbols("x_1 x_2")
    assert sympy.simplify(sympy.sympify(best["formula"]) - x1 * x2) == 0, best
    assert "<math" in best["mathml"] and best["test_nrmse"] < 1e-3
    got = client.get(s.url("/discover"), headers=s.viewer_headers).json()
    assert got["front"] == final["front"] and got["done"]

    # viewers can read but not start or apply
    assert client.post(s.url("/discover"), json={}, headers=s.viewer_headers).status_code == 403
    bad = client.post(s.url(f"/discover/{best['k']}/apply"), headers=s.viewer_headers)
    assert bad.status_code == 403
    assert client.post(s.url("/discover/99/apply"), headers=s.headers).status_code == 404

    r = client.post(s.url(f"/discover/{best['k']}/apply"), headers=s.headers)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "discover"
    f = client.get(s.url("/formula"), headers=s.headers).json()
    assert f["complete"] and sympy.simplify(sympy.sympify(f["outputs"][0]["sympy"]) - x1 * x2) == 0
    assert f["complexity"] == 3 and f["test_nrmse"] < 1e-3  # its point on Discover's plot
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["width"] == best["width"]
    assert any(n.get("kind") == "mult" for n in snap["nodes"]) == (best["width"] != [2, 1])
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200
    assert client.get(s.url(), headers=s.headers).json()["width"] == [2, 5, 1]


def test_discover_body_is_checked(client):
    s = create(client, preset="toy")
    for body in ({"budget_s": 0}, {"budget_s": 10_000}, {"budget_s": "NaN"}, {"seed": -1}):
        r = client.post(s.url("/discover"), json=body, headers=s.headers)
        assert r.status_code == 422, (body, r.text)


def test_mult_widths_are_accepted_and_drawn_as_mult_nodes(client):
    s = create(client, formula="x_1*x_2", ranges=[-1, 1], width=[2, [1, 1], 1])
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["width"] == [[2, 0], [1, 1], [1, 0]]
    kinds = [n.get("kind", "sum") for n in snap["nodes"] if n["l"] == 1]
    assert kinds == ["sum", "mult"]
    into = [e for e in snap["edges"] if e["l"] == 0]
    assert len(into) == 2 * 3 and {e["to"] for e in into} == {0, 1}
    r = client.post(s.url("/nodes/1/1/prune"), headers=s.headers)
    assert r.status_code == 200, r.text
    r = client.post("/api/sessions", json={"preset": "toy", "width": [2, [0, 0], 1]})
    assert r.status_code == 422


def test_pruning_a_pruned_node_is_a_conflict_not_a_second_edit(client):
    s = create(client, preset="toy")
    assert client.post(s.url("/nodes/1/0/prune"), headers=s.headers).status_code == 200
    again = client.post(s.url("/nodes/1/0/prune"), headers=s.headers)
    assert again.status_code == 409 and "already pruned" in again.text
    assert client.post(s.url("/nodes/1/1/restore"), headers=s.headers).status_code == 409
    history = client.get(s.url(), headers=s.headers).json()["history"]
    assert [h["kind"] for h in history] == ["prune_node"]


def test_suggestions_of_a_small_model_are_ordered_by_a_refit(client):
    s = create(client, formula="exp(x_1)", ranges=[0, 0.5], width=[1, 1])
    r = client.post(s.url("/train"), json={"steps": 30}, headers=s.headers)
    assert r.status_code == 200
    deadline = time.monotonic() + 60
    while client.get(s.url(), headers=s.headers).json()["status"] != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cands = client.get(s.url("/edges/0/0/0/suggestions"), headers=s.headers).json()["candidates"]
    tried = [c for c in cands if c["refit_rmse"] is not None]
    assert len(tried) >= 2 and cands[: len(tried)] == tried
    assert cands[0]["name"] == "exp"


def test_the_toy_with_the_pages_defaults_reads_as_its_formula(client):
    """A new user: Play, Auto-prune, Play, Auto-symbolic, Play with the defaults. The first phase
    trains with λ > 0, Auto-prune switches it off for fine-tuning, and the formula is exact."""
    from srv_helpers import train

    s = create(client, preset="toy", train_num=1000, test_num=1000)
    train(client, s, 50)
    r = client.post(s.url("/prune"), json={}, headers=s.headers).json()
    assert any("λ set to 0" in w for w in r["warnings"])
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["train"]["lamb"] == 0 and snap["width"] == [2, 5, 1]
    train(client, s, 50)
    client.post(s.url("/auto-symbolic"), json={}, headers=s.headers)
    train(client, s, 30)
    f = client.get(s.url("/formula"), headers=s.headers).json()
    x1, x2 = sympy.symbols("x_1 x_2")
    truth = sympy.exp(sympy.sin(sympy.pi * x1) + x2**2)
    assert sympy.simplify(sympy.sympify(f["outputs"][0]["sympy"]) - truth) == 0, f["outputs"]
