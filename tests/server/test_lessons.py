"""Lessons: honest readouts after edits (the current model's loss with every edit, undo and
reset event), un-rejecting a candidate, classification sessions and their reads."""

from __future__ import annotations

import math

import pytest
import torch
from srv_helpers import create, is_event, read_until, train

import kan_core


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
