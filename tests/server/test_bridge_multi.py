"""Opening models with several outputs (issue 16 item 2): real two-output pykan checkpoints
(tests/server/fixtures/pykan_ckpt_multi, written by bench/make_pykan_ckpt_fixture_multi.py with
pykan's saveckpt; the reference outputs are pykan's own ``loadckpt(...)(x)``): a regression of
two targets and a two-class classifier (pykan's cross-entropy setup). Every view and edit
answers with both outputs present; the classifier trains with the cross-entropy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from srv_helpers import Sess, ckpt_parts, train, upload

from kan_core import KAN

FIX = Path(__file__).parent / "fixtures" / "pykan_ckpt_multi"


@pytest.fixture(scope="module")
def expected() -> dict:
    return torch.load(FIX / "expected.pt", weights_only=True)


def ckpt(name: str, cache: bool = True) -> dict[str, bytes]:
    return ckpt_parts(FIX, name, cache)


def csv_bytes(names: list[str], x: torch.Tensor, y: torch.Tensor) -> bytes:
    y = y.reshape(len(y), -1).float()
    rows = [",".join(names)]
    rows += [",".join(map(repr, [*a, *b])) for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    return ("\n".join(rows) + "\n").encode()


def data_csv(expected: dict, name: str, names: list[str]) -> bytes:
    d = expected[name]["data"]
    x = torch.cat([d["train_input"], d["test_input"]])
    return csv_bytes(names, x, torch.cat([d["train_label"], d["test_label"]]))


def model_of(client, s: Sess) -> KAN:
    r = client.get(s.url("/model"), headers=s.viewer_headers)
    assert r.status_code == 200, r.text
    return KAN.from_bytes(r.content)


def output_labels(snap: dict) -> list[str]:
    last = max(n["l"] for n in snap["nodes"])
    return [n["label"] for n in sorted(snap["nodes"], key=lambda n: n["i"]) if n["l"] == last]


def ok(r) -> dict:
    assert 200 <= r.status_code < 300, r.text
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else {}


# --- a regression with two targets ------------------------------------------------------------
@pytest.mark.parametrize("cache", [True, False])
def test_a_two_output_checkpoint_equals_pykans_on_both_outputs(client, expected, cache):
    s = upload(client, ckpt("regress", cache))
    e = expected["regress"]
    with torch.no_grad():
        got = model_of(client, s)(e["x"])
    assert got.shape == (128, 2)
    torch.testing.assert_close(got, e["y"], rtol=1e-5, atol=1e-5)
    live = client.app.state.manager.get_live(s.id)
    assert live.spec["target"] == ["y_1", "y_2"] and live.spec["labels"] == "model"
    assert live.spec["data_origin"] == ("checkpoint" if cache else "grid")
    # without data the labels are the model's own two outputs on the reference inputs
    ds = live.dataset
    assert ds["train_label"].shape == (ds["train_input"].shape[0], 2)
    if cache:  # the cache holds pykan's training inputs; the labels track its two targets
        truth = torch.stack(
            [
                torch.sin(torch.pi * ds["train_input"][:, 0]) + ds["train_input"][:, 1] ** 2,
                ds["train_input"][:, 0] * ds["train_input"][:, 1],
            ],
            1,
        )
        assert float((ds["train_label"] - truth).pow(2).mean().sqrt()) < 0.2
    snap = client.get(s.url(), headers=s.headers).json()
    assert len(snap["edges"]) == 2 * 3 + 3 * 2 and output_labels(snap) == ["y_1", "y_2"]
    formula = ok(client.get(s.url("/formula"), headers=s.headers))
    assert len(formula["outputs"]) == 2 and not formula["complete"]
    # training needs a dataset
    r = client.post(s.url("/train"), json={"steps": 2}, headers=s.headers)
    assert r.status_code == 409 and "upload a dataset" in r.json()["detail"]


def test_every_view_and_edit_works_on_two_outputs(client, expected):
    s = upload(client, {**ckpt("regress"), "data": data_csv(expected, "regress", list("abuv"))})
    h = s.headers
    live = client.app.state.manager.get_live(s.id)
    assert live.variables == ["a", "b"] and live.spec["target"] == ["u", "v"]
    d = expected["regress"]["data"]
    # the CSV's split holds the uploaded targets (both columns, in order)
    both = torch.cat([d["train_label"], d["test_label"]])
    x_all = torch.cat([d["train_input"], d["test_input"]])
    first = live.dataset["train_input"][0]
    row = int((x_all == first).all(1).nonzero()[0])
    torch.testing.assert_close(live.dataset["train_label"][0], both[row])
    snap = client.get(s.url(), headers=h).json()
    assert output_labels(snap) == ["u", "v"]
    assert train(client, s, 3)["kind"] == "trained"
    # suggestions and a snap on an edge into each output; undo brings the spline back
    for j in (0, 1):
        cands = ok(client.get(s.url(f"/edges/1/0/{j}/suggestions"), headers=h))["candidates"]
        assert cands
    ok(client.post(s.url("/edges/1/0/1/symbolic"), json={"name": "x"}, headers=h))
    assert model_of(client, s).layers[1].sym_funs.get((0, 1)) == "x"
    ok(client.post(s.url("/undo"), headers=h))
    assert (0, 1) not in model_of(client, s).layers[1].sym_funs
    ok(client.post(s.url("/edges/0/1/2/prune"), headers=h))
    assert float(model_of(client, s).layers[0].mask[1, 2]) == 0.0
    ok(client.post(s.url("/prune"), json={"node_th": 0.0, "edge_th": 0.0}, headers=h))
    ok(client.post(s.url("/auto-symbolic"), json={}, headers=h))
    formula = ok(client.get(s.url("/formula"), headers=h))
    assert formula["complete"] and len(formula["outputs"]) == 2
    assert formula["formula_rmse"] is not None and formula["python"]
    # each formula is its own output: evaluate both and compare with the network, per output
    m = model_of(client, s)
    from kan_core import compile_formula, parse_formula

    exprs = [parse_formula(o["sympy"]).expr for o in formula["outputs"]]
    x = live.dataset["test_input"]
    with torch.no_grad():
        net = m(x).double()
    got = compile_formula(exprs, ["a", "b"])(x).double()
    assert got.shape == net.shape == (x.shape[0], 2)
    assert float((got - net).abs().max()) < 1e-2 * (1 + float(net.abs().max()))
    svg = client.get(s.url("/diagram.svg"), headers=h)
    assert svg.status_code == 200 and ">u<" in svg.text and ">v<" in svg.text
    assert client.get(s.url("/diagram.png"), headers=h).status_code == 200
    report = client.get(s.url("/report.html"), headers=h)
    assert report.status_code == 200
    assert "<code>u</code> =" in report.text and "<code>v</code> =" in report.text
    assert ok(client.get(s.url("/attribution"), headers=h))
    r = client.post(s.url("/discover"), json={}, headers=h)
    assert r.status_code == 409 and "one numeric output" in r.json()["detail"]


def test_a_csv_must_fit_two_outputs(client, expected):
    x = torch.zeros(6, 2)
    three = csv_bytes(list("abuvw"), x, torch.zeros(6, 3))
    detail = upload(client, {**ckpt("regress"), "data": three}, 422)
    assert "2 output(s)" in detail and "needs 4 columns" in detail and "has 5" in detail
    # inputs + one column: read as class indices, and 0.5 is not one
    y = torch.tensor([0, 1, 0.5, 1, 0, 1])
    detail = upload(client, {**ckpt("regress"), "data": csv_bytes(list("abc"), x, y)}, 422)
    assert "class indices 0 … 1" in detail and "row 3" in detail
    detail = upload(client, {**ckpt("regress"), "loss": b"hinge"}, 422)
    assert "loss: 'hinge'" in detail
    # the OpenAPI description says how the columns and the loss field are read
    body = client.get("/openapi.json").json()["paths"]["/api/sessions"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["loss"] == {"enum": ["mse", "cross_entropy"]}
    assert "last n_out columns are the targets" in schema["description"]


# --- a classifier ------------------------------------------------------------------------------
def test_a_classifier_checkpoint_trains_with_cross_entropy(client, expected):
    s = upload(
        client, {**ckpt("classifier"), "data": data_csv(expected, "classifier", list("abc"))}
    )
    live = client.app.state.manager.get_live(s.id)
    # inputs + one column for a two-output model: class labels, pykan's classification loss
    assert live.spec["task"] == "classification" and live.spec["train"]["loss"] == "cross_entropy"
    labels = live.dataset["train_label"]
    assert labels.dtype == torch.int64 and labels.dim() == 1 and set(labels.tolist()) == {0, 1}
    e = expected["classifier"]
    with torch.no_grad():
        torch.testing.assert_close(model_of(client, s)(e["x"]), e["y"], rtol=1e-5, atol=1e-4)

    def cross_entropy(m: KAN) -> float:
        with torch.no_grad():
            logits = m(live.dataset["train_input"])
        return float(torch.nn.functional.cross_entropy(logits, labels))

    before = cross_entropy(model_of(client, s))
    # no sparsity penalty: the steps minimise the cross-entropy alone
    ok(client.patch(s.url("/settings"), json={"lamb": 0}, headers=s.headers))
    assert train(client, s, 5)["kind"] == "trained"
    after = cross_entropy(model_of(client, s))
    assert after < before  # the steps lowered pykan's classification loss
    # the session reports √cross-entropy of the model as it is
    assert live.current_loss()["train"] == pytest.approx(after**0.5, rel=1e-3)
    regions = ok(client.get(s.url("/regions"), headers=s.headers))
    assert regions["accuracy"]["test"] > 0.8
    snap = client.get(s.url(), headers=s.headers).json()
    assert output_labels(snap) == ["c0", "c1"]
    ok(client.post(s.url("/auto-symbolic"), json={}, headers=s.headers))
    formula = ok(client.get(s.url("/formula"), headers=s.headers))
    assert formula["complete"] and len(formula["outputs"]) == 2
    assert "test accuracy: formula" in formula["message"] and formula["formula_rmse"] is not None
    report = client.get(s.url("/report.html"), headers=s.headers)
    assert report.status_code == 200 and "test accuracy: formula" in report.text


def test_a_classifier_without_data_labels_its_own_predictions(client, expected):
    s = upload(client, {**ckpt("classifier"), "loss": b"cross_entropy"})
    live = client.app.state.manager.get_live(s.id)
    assert live.spec["target"] == "class" and live.spec["labels"] == "model"
    # the cache holds the training inputs: the model's predicted classes match the true ones
    d = expected["classifier"]["data"]
    x, labels = live.dataset["train_input"], live.dataset["train_label"]
    truth = (x.pow(2).sum(1) < 0.36).long()  # the fixture's circle
    assert bool((x[:, None, :] == d["train_input"][None]).all(2).any(1).all())
    assert float((labels == truth).float().mean()) > 0.9
    assert client.post(s.url("/train"), json={"steps": 1}, headers=s.headers).status_code == 409
    # a one-output model cannot be a classifier
    one = KAN(width=[2, 2, 1], seed=0).to_bytes()
    detail = upload(client, {"model": one, "loss": b"cross_entropy"}, 422)
    assert "one output (logit) per class" in detail


def test_a_two_output_upload_survives_a_restart(settings, expected):
    from fastapi.testclient import TestClient

    from server.main import create_app

    parts = {**ckpt("regress"), "data": data_csv(expected, "regress", list("abuv"))}
    with TestClient(create_app(settings)) as c:
        s = upload(c, parts)
        saved = c.get(s.url("/model"), headers=s.headers).content
        k = upload(c, {**ckpt("classifier"), "loss": b"cross_entropy"})
        labels = c.app.state.manager.get_live(k.id).dataset["train_label"].clone()
    with TestClient(create_app(settings)) as c:
        r = c.get(s.url("/model"), headers=s.headers)
        assert r.status_code == 200 and r.content == saved
        snap = c.get(s.url(), headers=s.headers).json()
        assert output_labels(snap) == ["u", "v"]
        assert c.app.state.manager.get_live(s.id).dataset["test_label"].shape[1] == 2
        # the classifier comes back (loaded on first use) with the same class-index labels
        assert c.get(k.url(), headers=k.headers).status_code == 200
        assert torch.equal(c.app.state.manager.get_live(k.id).dataset["train_label"], labels)


# --- JSON creates from CSV text: several targets, or class labels ---------------------------------
def test_a_json_csv_create_with_a_two_output_width_takes_the_last_two_columns(client, expected):
    text = data_csv(expected, "regress", ["a", "b", "u", "v"]).decode()
    r = client.post("/api/sessions", json={"csv": text, "width": [2, 4, 2]})
    assert r.status_code == 201, r.text
    s = Sess(r.json()["id"], r.json()["owner_token"], r.json()["viewer_token"])
    live = client.app.state.manager.get_live(s.id)
    assert live.variables == ["a", "b"] and live.spec["target"] == ["u", "v"]
    d = expected["regress"]["data"]
    x_all = torch.cat([d["train_input"], d["test_input"]])
    y_all = torch.cat([d["train_label"], d["test_label"]])
    rows = (live.dataset["test_input"][:, None, :] == x_all[None]).all(2).float().argmax(1)
    torch.testing.assert_close(live.dataset["test_label"], y_all[rows])
    assert train(client, s, 2)["kind"] == "trained"
    assert len(ok(client.get(s.url("/formula"), headers=s.headers))["outputs"]) == 2
    # a single 'target' cannot name two outputs; a width that does not fit says so
    for body, message in (
        ({"csv": text, "width": [2, 4, 2], "target": "u"}, "last 2 columns"),
        ({"csv": text, "width": [2, 4, 3]}, "first layer must be 1"),  # a → b, u, v
        ({"csv": text, "width": [2, 4, 1]}, "first layer must be 3"),  # u is an input then
    ):
        r = client.post("/api/sessions", json=body)
        assert r.status_code == 422 and message in r.text, (body, r.text)


def test_a_json_csv_create_with_cross_entropy_is_a_classifier(client, expected):
    text = data_csv(expected, "classifier", ["a", "b", "label"]).decode()
    body = {"csv": text, "width": [2, 3, 2], "train": {"loss": "cross_entropy", "lamb": 0}}
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    s = Sess(r.json()["id"], r.json()["owner_token"], r.json()["viewer_token"])
    live = client.app.state.manager.get_live(s.id)
    assert (
        live.spec["task"] == "classification" and live.dataset["train_label"].dtype == torch.int64
    )
    assert train(client, s, 10)["kind"] == "trained"
    regions = ok(client.get(s.url("/regions"), headers=s.headers))
    assert regions["accuracy"]["test"] > 0.7  # a circle learned in ten steps
    # the default width ends in one logit per class the labels name
    r = client.post("/api/sessions", json={"csv": text, "train": {"loss": "cross_entropy"}})
    assert r.status_code == 201, r.text
    assert client.app.state.manager.get_live(r.json()["id"]).spec["width"] == [2, 5, 2]
    bad = text.replace(",0.0\n", ",0.5\n", 1)
    r = client.post("/api/sessions", json={"csv": bad, "train": {"loss": "cross_entropy"}})
    assert r.status_code == 422 and "class indices" in r.text
    r = client.post("/api/sessions", json={"formula": "x*y", "train": {"loss": "cross_entropy"}})
    assert r.status_code == 422 and "class labels" in r.text
