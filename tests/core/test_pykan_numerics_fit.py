"""pykan's ``fit`` keywords and return shapes as its tutorials use them: the history's scalars,
``lamb_coef``/``lamb_coefdiff``, ``reg_metric``, ``singularity_avoiding``/``y_th``, grid-update
steps, ``batch``, ``metrics``, ``loss_fn`` and the display-only keywords — each checked against
a reference written out here from pykan's definitions."""

import json
import math
import os

import numpy as np
import pytest
import torch

from kan_core import KAN, SYMBOLIC_LIB, create_dataset
from kan_core.attribution import attribute
from kan_core.fused import regularization
from kan_core.pykan_training import REG_METRICS, avoid_singularities, soften
from kan_core.symbolic import SymbolicFit
from kan_core.train import loss_and_grads


def toy(n=200, seed=0):
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    return create_dataset(f, n_var=2, train_num=n, test_num=n, seed=seed)


# --- the history ------------------------------------------------------------------------------
def test_fit_history_entries_behave_like_pykans_scalars():
    ds = toy()
    res = KAN(width=[2, 3, 1], seed=0).fit(ds, steps=3, lamb=0.01)
    assert set(res) >= {"train_loss", "test_loss", "reg"}
    for key in ("train_loss", "test_loss", "reg"):
        assert len(res[key]) == 3
        v = res[key][-1]
        assert isinstance(v.item(), float) and v.shape == () and isinstance(v, float)
        assert math.isfinite(v)
    assert res["train_loss"][-1] < res["train_loss"][0]
    assert np.array(res["train_loss"]).shape == (3,)
    json.dumps({k: list(v) for k, v in res.items()})  # plain floats to JSON


def test_metrics_and_classification_loss_as_in_the_classification_tutorial():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=g) * 2 - 1
    label = (x[:, 0] * x[:, 1] > 0).long()
    ds = {"train_input": x, "train_label": label, "test_input": x, "test_label": label}
    model = KAN(width=[2, 2], grid=3, k=3, seed=1)

    def train_acc():
        return torch.mean((model(x).argmax(1) == label).float())

    res = model.fit(
        ds,
        steps=5,
        metrics=(train_acc,),
        loss_fn=torch.nn.CrossEntropyLoss(),
        display_metrics=["train_acc"],
    )
    assert len(res["train_acc"]) == 5 and isinstance(res["train_acc"][-1], float)
    assert res["train_acc"][-1] == pytest.approx(float(train_acc()))
    with torch.no_grad():  # train_loss is the square root of the custom loss, as pykan's
        ce = torch.nn.CrossEntropyLoss()(model(x), label)
    assert res["test_loss"][-1] == pytest.approx(math.sqrt(float(ce)), rel=1e-5)


def test_display_only_keywords_are_accepted_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = KAN(width=[2, 2, 1], seed=0).fit(
        toy(100),
        steps=2,
        log=1,
        save_fig=True,
        save_fig_freq=1,
        beta=10,
        in_vars=["a", "b"],
        out_vars=["y"],
        img_folder="./video",
        device="cpu",
    )
    assert len(res["train_loss"]) == 2
    assert os.listdir(tmp_path) == []
    with pytest.raises(TypeError, match="no_such_keyword"):
        KAN(width=[2, 2, 1]).fit(toy(100), steps=1, no_such_keyword=1)


# --- coefficient penalties --------------------------------------------------------------------
def ref_coef_penalty(model, lamb_coef, lamb_coefdiff):
    """pykan 0.2.8: Σ_layers lamb_coef·Σ(mean over outputs |coef|) + lamb_coefdiff·Σ(mean over
    outputs |diff of coef along the bases|), coef laid out (in, out, K)."""
    total = 0.0
    for layer in model.layers:
        c = layer.coef
        total = total + lamb_coef * c.abs().mean(1).sum()
        total = total + lamb_coefdiff * (c[..., 1:] - c[..., :-1]).abs().mean(1).sum()
    return total


@pytest.mark.parametrize("symbolic", [False, True])
def test_lamb_coef_and_coefdiff_match_the_reference_loss_and_gradient(symbolic):
    ds = toy(100)
    m = KAN(width=[2, 3, 1], seed=0).double()
    if symbolic:  # the autograd path
        m.fix_symbolic(0, 0, 0, "sin", fit=SymbolicFit("sin", 3.1, 0.0, 1.0, 0.0, 1.0, 2))
    x, y = ds["train_input"].double(), ds["train_label"].double()
    lamb, lc, lcd = 0.01, 1.0, 0.5
    loss, mse, reg = loss_and_grads(m, x, y, lamb, 1.0, 2.0, lamb_coef=lc, lamb_coefdiff=lcd)
    ours = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    pred, scales = m.forward_with_reg(x)
    ref_reg = regularization(scales, 1.0, 2.0) + ref_coef_penalty(m, lc, lcd)
    ref = torch.mean((pred - y) ** 2) + lamb * ref_reg
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    assert reg == pytest.approx(ref_reg.item(), rel=1e-10)
    for a, p in zip(ours, m.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-12)
    # pykan adds the coefficient terms to the regulariser: nothing without lamb
    assert loss_and_grads(m, x, y, 0.0, lamb_coef=lc)[0] == pytest.approx(mse, rel=1e-12)


def test_lamb_coef_shrinks_coefficients_in_training():
    ds = toy(150)
    norms = {}
    for lc in (0.0, 1.0):
        m = KAN(width=[2, 3, 1], seed=0)
        m.fit(ds, steps=5, lamb=0.01, lamb_coef=lc)
        norms[lc] = sum(float(layer.coef.abs().sum()) for layer in m.layers)
    assert norms[1.0] < 0.8 * norms[0.0], norms


# --- regularisation metrics -------------------------------------------------------------------
def _ref_penalty(scales, l1=1.0, ent=2.0):
    total = 0.0
    for s in scales:
        p_row, p_col = s / (s.sum(1, keepdim=True) + 1), s / (s.sum(0, keepdim=True) + 1)
        e_row = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
        e_col = -(p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
        total = total + l1 * s.sum() + ent * (e_row + e_col)
    return float(total)


def _ref_scales(m, x, metric):
    """pykan's per-edge scores from every edge's activation (batch, in, out), written out."""
    out, h = [], x
    for l, layer in enumerate(m.layers):
        live = layer.mask * (1 - layer.sym_mask)
        numeric = (layer.numeric_activations(h) * live).std(0)  # (in, out)
        acts = layer.edge_activations(h)
        in_sd = h.std(0).unsqueeze(1) + 0.1
        out.append(
            {
                "edge_forward_spline_n": numeric / in_sd,
                "edge_forward_spline_u": numeric,
                "edge_forward_sum": acts.std(0) / in_sd,
            }.get(metric)
        )
        h = m.combine(l + 1, acts.sum(1))
    return out


@pytest.mark.parametrize("metric", ["edge_forward_spline_u", "edge_forward_sum"])
def test_forward_reg_metrics_match_pykans_definitions(metric):
    m, x = KAN(width=[2, 3, 1], seed=0, noise_scale=1.0).double(), toy(100)["train_input"].double()
    y = torch.zeros(100, 1, dtype=torch.float64)
    _, mse, reg = loss_and_grads(m, x, y, 0.1, reg_metric=metric)
    with torch.no_grad():
        assert reg == pytest.approx(_ref_penalty(_ref_scales(m, x, metric)), rel=1e-6)
    grads = [p.grad for p in m.parameters()]
    if metric == "edge_forward_sum":  # pykan detaches these scores: only the MSE trains
        loss_and_grads(m, x, y, 0.0)
        assert all(torch.allclose(a, p.grad) for a, p in zip(grads, m.parameters(), strict=True))


def test_backward_reg_metrics_use_attribution_scores():
    m, x = KAN(width=[2, 3, 1], seed=0, noise_scale=1.0).double(), toy(100)["train_input"].double()
    y = torch.zeros(100, 1, dtype=torch.float64)
    _, _, reg = loss_and_grads(m, x, y, 0.1, reg_metric="edge_backward")
    _, edge_scores = attribute(m, x)
    assert reg == pytest.approx(_ref_penalty(edge_scores), rel=1e-6)
    assert m.layers[0].packed.grad.abs().max() > 0
    _, _, reg_node = loss_and_grads(m, x, y, 0.1, reg_metric="node_backward")
    assert math.isfinite(reg_node) and reg_node > 0


@pytest.mark.parametrize("metric", REG_METRICS)
def test_every_reg_metric_trains(metric):
    ds, m = toy(100), KAN(width=[2, 3, 1], seed=0)
    with torch.no_grad():
        before = float(torch.sqrt(torch.mean((m(ds["train_input"]) - ds["train_label"]) ** 2)))
    res = m.fit(ds, steps=2, lamb=0.01, reg_metric=metric)
    assert res["train_loss"][-1] < 0.5 * before and all(map(math.isfinite, res["reg"]))


def test_unknown_reg_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="reg_metric"):
        KAN(width=[2, 2, 1]).fit(toy(50), steps=1, lamb=0.01, reg_metric="w")


# --- singularity avoidance --------------------------------------------------------------------
def test_softened_functions_bound_values_near_singularities():
    z = torch.tensor([-2.0, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.5, 2.0], dtype=torch.float64)
    y_th = 10.0
    for name in ("1/x", "1/x^2", "1/x^3", "log", "sqrt", "1/sqrt(x)", "exp"):
        f = soften(name, SYMBOLIC_LIB[name].torch_fn, y_th)
        v = f(z)
        assert bool(torch.isfinite(v).all()), name
        assert float(v.abs().max()) <= y_th + 1e-9 or name == "exp", (name, v)
    assert torch.allclose(soften("1/x", None, y_th)(z[[0, 6, 7]]), 1 / z[[0, 6, 7]])
    assert float(soften("log", None, y_th)(torch.tensor(1e-9))) == pytest.approx(-y_th)
    assert float(soften("log", None, y_th)(torch.tensor(0.5))) == pytest.approx(math.log(0.5))
    assert float(soften("1/x^2", None, y_th)(torch.tensor(1e-4))) == pytest.approx(y_th)
    assert float(soften("exp", None, y_th)(torch.tensor(50.0))) == pytest.approx(y_th)
    # continuous at the thresholds: 1/x at x_th = 1/y_th, sqrt at 1/y_th²
    for name, x_th in (("1/x", 1 / y_th), ("sqrt", 1 / y_th**2)):
        f = soften(name, None, y_th)
        below, above = f(torch.tensor(x_th * (1 - 1e-9))), f(torch.tensor(x_th * (1 + 1e-9)))
        assert float(below) == pytest.approx(float(above), rel=1e-6), name
    assert soften("sin", torch.sin, y_th) is torch.sin


def test_singularity_avoiding_changes_symbolic_edges_only_inside_the_block():
    m = KAN(width=[1, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "1/x", fit=SymbolicFit("1/x", 1.0, 0.0, 1.0, 0.0, 1.0, 2))
    x = torch.tensor([[1e-3], [0.5]])
    plain = m(x)
    with avoid_singularities(m, y_th=5.0):
        soft = m(x)
    assert float(soft[0]) == pytest.approx(5.0 * 1e-3 / 0.2, rel=1e-4)  # the line inside |x|<0.2
    assert float(soft[1]) == pytest.approx(2.0, rel=1e-5) and float(plain[1]) == pytest.approx(2.0)
    assert torch.equal(m(x), plain)
    with pytest.raises(ValueError, match="y_th"):
        with avoid_singularities(m, y_th=-1):
            pass


def test_fit_with_singularity_avoiding_as_in_the_singularity_tutorial():
    f = lambda x: torch.sqrt(x[:, [0]] ** 2 + x[:, [1]] ** 2)  # noqa: E731
    ds = create_dataset(f, n_var=2, train_num=200, test_num=200, seed=0)
    m = KAN(width=[2, 1, 1], grid=5, k=3, seed=0)
    m.fit(ds, steps=3)
    m.fix_symbolic(0, 0, 0, "x^2")
    m.fix_symbolic(0, 1, 0, "x^2")
    m.fix_symbolic(1, 0, 0, "sqrt")
    res = m.fit(ds, opt="Adam", steps=20, lr=1e-3, update_grid=False, singularity_avoiding=True)
    assert all(map(math.isfinite, res["train_loss"]))
    assert res["train_loss"][-1] < res["train_loss"][0]
    assert all(layer.y_th is None for layer in m.layers)  # restored after fit
    with pytest.raises(ValueError, match="y_th"):
        m.fit(ds, steps=1, singularity_avoiding=True, y_th=0.0)


# --- steps and batches ------------------------------------------------------------------------
def _grid_update_steps(**kw):
    """The steps (0-based) at whose start ``fit`` updated the grids."""
    m, calls, steps = KAN(width=[2, 2, 1], seed=0), [], []
    update = m.update_grid
    m.update_grid = lambda x: (calls.append(1), update(x))  # (an instance attribute)

    def callback(result, trainer):
        steps.append(len(calls))  # updates so far, after each step

    m.fit(toy(100), steps=8, callback=callback, **kw)
    counts = [0, *steps]
    return [n for n in range(8) if counts[n + 1] > counts[n]]


def test_grid_update_schedule_keywords():
    # pykan: an update every stop_grid_update_step // grid_update_num steps, from
    # start_grid_update_step, before stop_grid_update_step
    assert _grid_update_steps(grid_update_num=4, stop_grid_update_step=8) == [0, 2, 4, 6]
    assert _grid_update_steps(grid_update_num=2, stop_grid_update_step=4) == [0, 2]
    assert _grid_update_steps(
        grid_update_num=4, stop_grid_update_step=8, start_grid_update_step=3
    ) == [4, 6]
    assert _grid_update_steps(update_grid=False) == []


def test_batch_trains_on_seeded_minibatches():
    ds = toy(200)
    runs = [
        KAN(width=[2, 2, 1], seed=0).fit(ds, opt="Adam", lr=0.01, steps=4, batch=16) for _ in "ab"
    ]
    full = KAN(width=[2, 2, 1], seed=0).fit(ds, opt="Adam", lr=0.01, steps=4)
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["train_loss"] != full["train_loss"]


def test_symbolic_fine_tuning_reaches_pykans_accuracy():
    """The tutorial's toy after snapping (hellokan, float64 there): pykan's L-BFGS tolerances
    (1e-32) take the snapped constants to RMSE ~1e-10; at 1e-9/1e-12 it stalled at 5e-6."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1000, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)  # labels in float64
    ds = {
        "train_input": x[:500],
        "train_label": y[:500],
        "test_input": x[500:],
        "test_label": y[500:],
    }
    m = KAN(width=[2, 1, 1], seed=0).double()
    m.fix_symbolic(0, 0, 0, "sin", fit=SymbolicFit("sin", 3.1, 0.02, 1.01, 0.01, 1.0, 2))
    m.fix_symbolic(0, 1, 0, "x^2", fit=SymbolicFit("x^2", 0.98, 0.01, 1.02, -0.01, 1.0, 2))
    m.fix_symbolic(1, 0, 0, "exp", fit=SymbolicFit("exp", 1.01, 0.0, 0.99, 0.01, 1.0, 2))
    res = m.fit(ds, steps=15, update_grid=False)
    assert res["train_loss"][-1] < 1e-8, res["train_loss"][-1]
    a, b, c, d = m.layers[0].affine[0, 0].tolist()
    assert a == pytest.approx(math.pi, abs=1e-6)
