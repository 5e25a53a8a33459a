"""Lessons: honest readouts after edits (the current model's loss with every edit, undo and
reset event), un-rejecting a candidate, classification sessions and their reads."""

from __future__ import annotations

import math

import pytest
import torch
from srv_helpers import create, is_event, read_until, train

import kan_core
import kan_core.classification


def _loss_of(client, s, kind: str, send) -> dict:
    """Send an edit; return the ``loss`` its stream event carries."""
    with client.websocket_connect(s.url(f"/stream?token={s.viewer}")) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        r = send()
        assert r.status_code == 200, r.text
        ev = read_until(ws, is_event(kind))
    return ev["data"]["loss"]


def _rmse(model, x, y) -> float:
    with torch.no_grad():
        return math.sqrt(float(torch.mean((model(x) - y) ** 2)))


def test_undo_and_reset_events_carry_the_current_models_loss(client):
    s = create(client, preset="sum_of_squares")
    trained = train(client, s, 5)
    last = client.get(s.url(), headers=s.headers).json()["metrics"][-1]
    assert trained["kind"] == "trained"
    # prune, then undo: the undo event's loss is the restored model's, recomputed here
    # independently from its stored bytes and the preset's dataset
    pruned = _loss_of(
        client, s, "prune_edge", lambda: client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    )
    undone = _loss_of(client, s, "undo", lambda: client.post(s.url("/undo"), headers=s.headers))
    ds = kan_core.dataset_from_formula(
        "x_1**2 + x_2**2", ranges=[(-1, 1), (-1, 1)], train_num=200, test_num=100, seed=0
    )
    # the trained model before the prune is the undone one: its loss is the last step's
    assert undone["train"] == pytest_approx(last["train_loss"], rel=1e-3)
    assert pruned["train"] > undone["train"]  # the pruned model lost an input's parabola
    reset = _loss_of(client, s, "reset", lambda: client.post(s.url("/reset"), headers=s.headers))
    fresh = kan_core.KAN(width=[2, 1], grid=5, k=3, seed=0)
    fresh.set_reference_input(ds["train_input"])
    assert reset["train"] == pytest_approx(
        _rmse(fresh, ds["train_input"], ds["train_label"]), rel=1e-4
    )
    assert reset["train"] > 3 * undone["train"]


def pytest_approx(v, rel=1e-4):
    return pytest.approx(v, rel=rel, abs=1e-6)


def test_a_rejected_candidate_can_be_unrejected(client):
    s = create(client, preset="toy")
    r = client.post(s.url("/edges/0/0/0/reject"), json={"name": "sin"}, headers=s.headers)
    assert r.status_code == 200, r.text
    sugg = client.get(s.url("/edges/0/0/0/suggestions?topk=30"), headers=s.headers).json()
    assert "sin" in sugg["rejected"] and "sin" not in [c["name"] for c in sugg["candidates"]]
    # a viewer cannot; an unknown name is a 422 naming it; a name never rejected is a 409
    assert (
        client.post(
            s.url("/edges/0/0/0/unreject"), json={"name": "sin"}, headers=s.viewer_headers
        ).status_code
        == 403
    )
    bad = client.post(s.url("/edges/0/0/0/unreject"), json={"name": "nope"}, headers=s.headers)
    assert bad.status_code == 422 and "nope" in bad.text
    assert (
        client.post(
            s.url("/edges/0/0/0/unreject"), json={"name": "exp"}, headers=s.headers
        ).status_code
        == 409
    )
    r = client.post(s.url("/edges/0/0/0/unreject"), json={"name": "sin"}, headers=s.headers)
    assert r.status_code == 200, r.text
    assert r.json()["detail"] == {"rejected": []}
    sugg = client.get(s.url("/edges/0/0/0/suggestions?topk=30"), headers=s.headers).json()
    assert sugg["rejected"] == [] and "sin" in [c["name"] for c in sugg["candidates"]]
    assert client.get(s.url(), headers=s.headers).json()["rejects"] == {}


# --- classification sessions ----------------------------------------------------------------
def test_presets_list_the_classification_problems_with_what_to_look_for(client):
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    for name in ("circle", "xor", "gaussians", "spiral"):
        p = presets[name]
        assert p["task"] == "classification" and p["width"][-1] == 2
        assert len(p["look_for"]) > 40
    assert presets["toy"]["task"] == "regression"
    assert all(len(p["look_for"]) > 40 for p in presets.values())  # every preset says it
    prev = client.get("/api/presets/circle/preview?n=21").json()
    z = prev["z"]
    assert z[10][10] == 1 and z[0][0] == 0 and z[20][20] == 0  # inside / corners outside


def test_a_classification_session_trains_with_cross_entropy(client):
    s = create(client, preset="circle")
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["train"]["loss"] == "cross_entropy" and snap["width"] == [2, 2]
    assert [n["label"] for n in snap["nodes"] if n["l"] == 1] == ["class0", "class1"]
    before = client.get(s.url("/regions?n=12"), headers=s.viewer_headers).json()
    ev = train(client, s, 15)
    assert ev["kind"] == "trained"
    metrics = client.get(s.url(), headers=s.headers).json()["metrics"]
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    reg = client.get(s.url("/regions?n=12"), headers=s.viewer_headers).json()
    assert len(reg["x"]) == 12 and len(reg["p"]) == 12 and len(reg["p"][0]) == 12
    assert reg["accuracy"]["test"] > 0.9 > before["accuracy"]["test"] - 0.2
    # independent check: the centre is class 1, the corners class 0, with the data's own rule
    ds = kan_core.classification.classification_dataset("circle", 200, 100, seed=0)
    assert reg["points"]["label"][:50] == ds["train_label"][:50].tolist()
    assert reg["p"][6][6] > 0.5 > reg["p"][0][0]
    # the √cross-entropy readout after an edit matches a recomputation
    loss = _loss_of(
        client, s, "prune_edge", lambda: client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    )
    assert loss["train"] > 0 and loss["test"] > 0


def test_classification_requests_are_checked(client):
    r = client.post("/api/sessions", json={"formula": "x_1", "train": {"loss": "cross_entropy"}})
    assert r.status_code == 422 and "classification preset" in r.text
    r = client.post("/api/sessions", json={"preset": "xor", "width": [2, 3, 1]})
    assert r.status_code == 422 and "one logit per class" in r.text
    c = create(client, preset="circle")  # Discover searches numeric formulas, not classes
    r = client.post(c.url("/discover"), json={"budget_s": 5}, headers=c.headers)
    assert r.status_code == 409 and "not classes" in r.text
    s = create(client, preset="toy")
    r = client.get(s.url("/regions"), headers=s.headers)
    assert r.status_code == 409 and "classification" in r.text
    assert client.get(s.url("/regions?n=500"), headers=s.headers).status_code == 422


# --- trace one input ------------------------------------------------------------------------
def test_trace_follows_one_input_through_every_edge(client):
    s = create(client, preset="toy")
    train(client, s, 3)
    t = client.get(s.url("/trace?x=0.3&x=-0.5"), headers=s.viewer_headers).json()
    assert t["x"] == [0.3, -0.5] and t["variables"] == ["x_1", "x_2"]
    assert [len(v) for v in t["nodes"]] == [2, 5, 1] and len(t["edges"]) == 2 * 5 + 5
    assert all(-1.01 <= lo and hi <= 1.01 for lo, hi in t["ranges"])
    # each node is the sum of its incoming edges' y; each edge's x is its input node's value
    for l in (1, 2):
        for j, value in enumerate(t["nodes"][l]):
            incoming = sum(e["y"] for e in t["edges"] if e["l"] == l - 1 and e["j"] == j)
            assert value == pytest.approx(incoming, rel=2e-3, abs=2e-3)  # 4-digit values
    for e in t["edges"]:
        assert e["x"] == pytest.approx(t["nodes"][e["l"]][e["i"]], rel=1e-3)
    assert t["nodes"][0] == pytest.approx([0.3, -0.5])
    # a pruned edge adds nothing
    client.post(s.url("/edges/0/1/2/prune"), headers=s.headers)
    t2 = client.get(s.url("/trace?x=0.3&x=-0.5"), headers=s.headers).json()
    assert next(e["y"] for e in t2["edges"] if (e["l"], e["i"], e["j"]) == (0, 1, 2)) == 0
    # the default is the middle of the data; bad input is a 422 naming the problem
    mid = client.get(s.url("/trace"), headers=s.headers).json()
    assert mid["x"] == pytest.approx([(lo + hi) / 2 for lo, hi in mid["ranges"]], abs=1e-3)
    r = client.get(s.url("/trace?x=1"), headers=s.headers)
    assert r.status_code == 422 and "give 2 value" in r.text
    r = client.get(s.url("/trace?x=1&x=1e9"), headers=s.headers)
    assert r.status_code == 422 and "finite" in r.text
    assert client.get(s.url("/trace?x=a&x=1"), headers=s.headers).status_code == 422
    big = create(client, formula="x_1 + x_2", width=[2, 64, 64, 1])  # 4,288 edges
    r = client.get(big.url("/trace"), headers=big.headers)
    assert r.status_code == 409 and "4096 edges" in r.text


# --- compare with an MLP --------------------------------------------------------------------
def _compare_done(client, s, limit_s: float = 60.0) -> dict:
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        job = client.get(s.url("/compare"), headers=s.viewer_headers).json()["job"]
        if job["done"]:
            return job
        time.sleep(0.1)
    raise AssertionError("the comparison did not finish")


def test_parameter_counts_match_and_the_mlp_is_built_as_said():
    from server import compare

    model = kan_core.KAN(width=[2, 5, 1], grid=5, k=3, seed=0)
    assert compare.kan_parameters(model) == 15 * (5 + 3 + 2)
    width = compare.mlp_width(2, 1, 1, 150)
    assert width == [2, 37, 1] and compare.mlp_parameters(width) == 149  # 2·37+37 + 37+1
    mlp = compare.build_mlp([2, 4, 3, 1], seed=1)
    assert sum(p.numel() for p in mlp.parameters()) == compare.mlp_parameters([2, 4, 3, 1])
    same = compare.build_mlp([2, 4, 3, 1], seed=1)
    assert all(torch.equal(a, b) for a, b in zip(mlp.parameters(), same.parameters(), strict=True))


def test_an_equal_parameter_mlp_trains_beside_the_kan(client):
    s = create(client, preset="sum_of_squares")
    assert client.get(s.url("/compare"), headers=s.headers).json() == {"job": None}
    train(client, s, 4)
    assert client.post(s.url("/compare"), headers=s.viewer_headers).status_code == 403
    r = client.post(s.url("/compare"), json={"steps": 6}, headers=s.headers)
    assert r.status_code == 202, r.text
    job = _compare_done(client, s)
    assert job["error"] is None and job["steps"] == 6 and job["opt"] == "LBFGS"
    assert job["accuracy"] is None  # a regression has no accuracy
    assert job["kan_params"] == 2 * (5 + 3 + 2)  # [2, 1]: two edges
    assert job["mlp_width"] == [2, 5, 1] and job["mlp_params"] == 21  # 4H + 1, nearest to 20
    steps = [p["step"] for p in job["points"]]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert job["points"][-1]["train_loss"] < job["points"][0]["train_loss"]
    # the loss is the RMSE on the session's data: recompute the first point independently
    from server import compare

    ds = kan_core.dataset_from_formula(
        "x_1**2 + x_2**2", ranges=[(-1, 1), (-1, 1)], train_num=200, test_num=100, seed=0
    )
    mlp = compare.build_mlp([2, 5, 1], seed=0)
    opt = torch.optim.LBFGS(
        mlp.parameters(),
        lr=1.0,
        max_iter=5,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-32,
        tolerance_change=1e-32,
    )

    def closure():
        opt.zero_grad()
        loss = torch.mean((mlp(ds["train_input"]) - ds["train_label"]) ** 2)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        rmse = float(torch.mean((mlp(ds["test_input"]) - ds["test_label"]) ** 2)) ** 0.5
    assert job["points"][0]["test_loss"] == pytest.approx(rmse, rel=1e-3)
    bad = client.post(s.url("/compare"), json={"steps": 10_000}, headers=s.headers)
    assert bad.status_code == 422


def test_a_classifier_is_compared_with_cross_entropy(client):
    s = create(client, preset="circle")
    r = client.post(s.url("/compare"), json={"steps": 3}, headers=s.headers)
    assert r.status_code == 202, r.text
    job = _compare_done(client, s)
    assert job["error"] is None and job["mlp_width"][-1] == 2 and len(job["points"]) == 3
    assert 0 <= job["accuracy"]["test"] <= 1 and set(job["accuracy"]) == {"train", "test"}
    # √cross-entropy of a 2-class guess starts near √ln 2
    assert 0.3 < job["points"][0]["train_loss"] < 1.0


def test_viewers_share_one_regions_computation(client, monkeypatch):
    from server import lessons

    calls = []
    real = lessons.regions
    monkeypatch.setattr(lessons, "regions", lambda *a: calls.append(1) or real(*a))
    s = create(client, preset="gaussians")
    first = [client.get(s.url("/regions?n=10"), headers=s.viewer_headers).json() for _ in range(5)]
    assert len(calls) == 1 and all(r == first[0] for r in first)
    before = client.get(s.url("/regions?n=12"), headers=s.viewer_headers).json()
    assert len(calls) == 2  # another size: computed
    client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)  # an edit: computed again
    after = client.get(s.url("/regions?n=12"), headers=s.viewer_headers).json()
    assert len(calls) == 3 and after["p"] != before["p"]  # the pruned edge changed the map


def test_a_classification_session_survives_a_restart(settings):
    from fastapi.testclient import TestClient

    from server.main import create_app

    with TestClient(create_app(settings)) as c:
        s = create(c, preset="xor")
        train(c, s, 8)
        before = c.get(s.url("/regions?n=10"), headers=s.headers).json()
    with TestClient(create_app(settings)) as c:  # a new process on the same data dir
        snap = c.get(s.url(), headers=s.headers).json()
        assert snap["step"] == 8 and snap["train"]["loss"] == "cross_entropy"
        after = c.get(s.url("/regions?n=10"), headers=s.headers).json()
        assert after == before  # same dataset (seeded), same model
        assert train(c, s, 2)["kind"] == "trained"


def test_regions_of_a_classifier_with_three_inputs_are_refused_by_name(client):
    # a CSV classifier over three inputs: the plane of regions does not exist, say so (not a 500)
    rows = [
        f"{a / 7:.3f},{b / 5:.3f},{(a * b) % 3 / 3:.3f},{(a + b) % 2}"
        for a in range(7)
        for b in range(5)
    ]
    body = {
        "csv": "a,b,c,k\n" + "\n".join(rows),
        "width": [3, 3, 2],
        "train": {"loss": "cross_entropy"},
    }
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    s = r.json()
    r = client.get(
        f"/api/sessions/{s['id']}/regions", headers={"Authorization": f"Bearer {s['owner_token']}"}
    )
    assert r.status_code == 409 and "two inputs" in r.text and "has 3" in r.text
