"""A challenge from a CSV (docs/classes.md, issue 15 item 5): students get the training rows
only; the leaderboard ranks on the held-out rows, whose labels only the server holds; the
optional answer is revealed at the end. (What never reaches a student: test_class_leak.py.)"""

from __future__ import annotations

import math
import time

import torch
from srv_helpers import Sess, train

import kan_core
from server.data import build_dataset


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def table(rows: int = 120, seed: int = 3) -> str:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(2 * x[:, 0]) + x[:, 1] ** 2
    pairs = zip(x.tolist(), y.tolist(), strict=True)
    return "a,b,out\n" + "".join(f"{p:.6f},{q:.6f},{v:.6f}\n" for (p, q), v in pairs)


def make(client, **extra) -> dict:
    body = {"csv": table(), "target": "out", "width": [2, 2, 1], "test_fraction": 0.25, **extra}
    r = client.post("/api/classes", json={"challenge": body})
    assert r.status_code == 201, r.text
    return r.json()


def copy_of(client, cl: dict, name: str) -> tuple[dict, Sess]:
    st = client.post("/api/classes/join", json={"code": cl["code"], "name": name}).json()
    client.post(f"/api/classes/{cl['id']}/handout", headers=bearer(cl["teacher_token"]))
    me = client.get(f"/api/classes/{cl['id']}/me", headers=bearer(st["student_token"])).json()
    s = me["session"]
    return st, Sess(s["id"], s["owner_token"], s["viewer_token"])


def test_the_leaderboard_ranks_on_the_held_out_rows(client, settings):
    cl = make(client, seed=5)
    st, copy = copy_of(client, cl, "Ana")
    # The held-out rows, rebuilt independently: the CSV split as data.build_dataset makes it.
    spec = {"kind": "csv", "target": "out", "seed": 5, "test_fraction": 0.25}
    split = build_dataset(spec, table(), settings)
    mine = client.app.state.manager.get(copy.id)
    assert mine.dataset["train_input"].shape[0] + mine.dataset["test_input"].shape[0] == 90
    assert mine.spec["variables"] == ["a", "b"] and mine.spec["target"] == "out"
    assert train(client, copy, 5)["kind"] == "trained"

    model = client.app.state.manager.get(copy.id).model
    with torch.no_grad():
        x, y = split["test_input"], split["test_label"]
        ref = float(torch.sqrt(torch.mean((model(x) - y) ** 2)) / y.double().std())
        own = mine.dataset["test_label"]
        own_ref = float(
            torch.sqrt(torch.mean((model(mine.dataset["test_input"]) - own) ** 2)) / own.std()
        )
    assert abs(ref - own_ref) > 1e-3  # the two figures can be told apart

    def board() -> list[dict]:
        r = client.get(f"/api/classes/{cl['id']}/leaderboard", headers=bearer(st["student_token"]))
        assert r.status_code == 200, r.text
        return r.json()

    end = time.monotonic() + 30
    while time.monotonic() < end:
        got = board()[0]["test_nrmse"]
        if got is not None and math.isclose(got, ref, rel_tol=1e-4, abs_tol=1e-6):
            break
        time.sleep(0.1)
    assert got is not None and math.isclose(got, ref, rel_tol=1e-4, abs_tol=1e-6), (got, ref)


def test_a_complete_formula_is_ranked_by_its_own_held_out_error(client, settings):
    cl = make(client, width=[2, 1])
    st, copy = copy_of(client, cl, "Bo")
    for i, name in ((0, "sin"), (1, "x^2")):
        r = client.post(
            copy.url(f"/edges/0/{i}/0/symbolic"), json={"name": name}, headers=copy.headers
        )
        assert r.status_code == 200, r.text
    model = client.app.state.manager.get(copy.id).model
    assert kan_core.formula_complete(model)
    split = build_dataset(
        {"kind": "csv", "target": "out", "seed": 0, "test_fraction": 0.25}, table(), settings
    )
    fid = kan_core.formula_fidelity(model, split, ["a", "b"])
    ref = fid["formula_rmse"] / float(split["test_label"].double().std())
    end = time.monotonic() + 30
    row = None
    while time.monotonic() < end:
        rows = client.get(
            f"/api/classes/{cl['id']}/leaderboard", headers=bearer(st["student_token"])
        )
        row = rows.json()[0]
        if row["complete"] and row["test_nrmse"] is not None:
            break
        time.sleep(0.1)
    assert row["complete"] and math.isclose(row["test_nrmse"], ref, rel_tol=1e-4), (row, ref)


def test_bad_csv_challenges_are_refused(client):
    def post(challenge: dict):
        return client.post("/api/classes", json={"challenge": challenge})

    both = post({"csv": table(), "formula": "x_1"})
    assert both.status_code == 422 and "exactly one of formula or csv" in both.text
    assert post({"csv": table(), "ranges": [-1, 1]}).status_code == 422
    assert post({"formula": "x_1", "answer": "x_1"}).status_code == 422
    r = post({"csv": table(), "target": "nope"})
    assert r.status_code == 422 and "no column 'nope'" in r.text, r.text
    r = post({"csv": "a,b\n1,2\n"})
    assert r.status_code == 422 and "csv:" in r.text, r.text
    for bad in ({"width": [2, 2, 2]}, {"train": {"loss": "cross_entropy"}}):
        r = post({"csv": table(), **bad})
        assert r.status_code == 422 and "one numeric target" in r.text, r.text
    r = post({"csv": table(), "width": [3, 2, 1]})
    assert r.status_code == 422 and "width:" in r.text, r.text


def test_a_csv_challenge_without_an_answer_has_nothing_to_reveal(client):
    cl = make(client)
    r = client.post(f"/api/classes/{cl['id']}/reveal", headers=bearer(cl["teacher_token"]))
    assert r.status_code == 409 and "answer" in r.json()["detail"]
    view = client.get(f"/api/classes/{cl['id']}", headers=bearer(cl["teacher_token"])).json()
    assert view["challenge"] and view["source"]["formula"] is None and view["revealed"] is None
