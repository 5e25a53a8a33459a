"""pykan notebooks port: its extra keywords are accepted (display-only ones) or refused clearly
(unimplemented features), and its helper names exist."""

import math

import pytest
import sympy
import torch

import kan_core as kc


def _dataset(**kw):
    return kc.create_dataset(
        lambda x: torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2,
        n_var=2,
        train_num=200,
        test_num=100,
        seed=0,
        **kw,
    )


def test_a_pykan_shaped_session_runs_with_its_keywords():
    ds = _dataset(device="cpu", f_mode="col", normalize_input=False, normalize_label=False)
    model = kc.KAN(width=[2, 3, 1], grid=5, k=3, seed=0, device="cpu")
    calls = []

    def train_rmse():
        calls.append(1)
        with torch.no_grad():
            return torch.sqrt(torch.mean((model(ds["train_input"]) - ds["train_label"]) ** 2))

    history = model.fit(
        ds,
        opt="LBFGS",
        steps=4,
        lamb=0.001,
        log=1,
        display_metrics=["train_loss"],
        metrics=(train_rmse,),
        save_fig=False,
        singularity_avoiding=False,
        reg_metric="edge_forward_spline_n",
    )
    assert len(calls) == 4 and len(history["train_rmse"]) == 4
    # the metric is evaluated after each step: the last one is the model's final train RMSE
    assert history["train_rmse"][-1] == pytest.approx(history["train_loss"][-1], rel=1e-5)
    assert model.speed() is model
    grid = model.layers[0].grid.clone()
    model.update_grid_from_samples(ds["train_input"] * 0.5)  # pykan 0.2's name: adapts the grid
    assert not torch.equal(model.layers[0].grid, grid)
    assert model.feature_score.shape == (2,) and bool((model.feature_score > 0).all())
    fits = model.auto_symbolic(lib=["x", "x^2", "sin"], verbose=0, a_range=(-10, 10))
    assert set(fits) == set(model.edges()) - {
        e for e in model.edges() if model.edge_state(*e) == "pruned"
    }


def test_unimplemented_pykan_features_are_refused_by_name():
    ds, model = _dataset(), kc.KAN(width=[2, 1], seed=0)
    with pytest.raises(ValueError, match="loss_fn"):
        model.fit(ds, steps=1, loss_fn="mse")
    with pytest.raises(TypeError, match="no_such_option"):
        model.fit(ds, steps=1, no_such_option=1)
    with pytest.raises(ValueError, match="CPU"):
        kc.KAN(width=[2, 1], device="cuda")
    with pytest.raises(ValueError, match="affine_trainable"):
        kc.KAN(width=[2, 1], affine_trainable=True)  # (no node affine parameters here)
    model.fit(ds, steps=1)
    with pytest.raises(ValueError, match="weight_simple"):
        model.auto_symbolic(weight_simple=0.5)
    with pytest.raises(ValueError, match="random"):
        model.fix_symbolic(0, 0, 0, "sin", random=True)
    assert model.edge_state(0, 0, 0) == "active"  # refused before anything changed


def test_start_grid_update_step_delays_the_grid_updates():
    ds = _dataset()
    late, early = kc.KAN(width=[2, 1], seed=0), kc.KAN(width=[2, 1], seed=0)
    grid0 = late.layers[0].grid.clone()
    late.fit(ds, steps=3, start_grid_update_step=10)
    early.fit(ds, steps=3)
    assert torch.equal(late.layers[0].grid, grid0)
    assert not torch.equal(early.layers[0].grid, grid0)


def test_ex_round_rounds_every_float_to_decimal_places():
    x = sympy.Symbol("x_1")
    expr = 1.23456 * sympy.sin(3.14159 * x) + 0.000049
    assert kc.ex_round(expr, 2) == sympy.Float(1.23) * sympy.sin(sympy.Float(3.14) * x)


def test_saveckpt_and_loadckpt_are_save_and_load(tmp_path):
    model = kc.KAN(width=[2, 2, 1], seed=3)
    model.saveckpt(tmp_path / "m.kan")
    back = kc.KAN.loadckpt(tmp_path / "m.kan")
    x = torch.rand(5, 2)
    assert torch.equal(back(x), model(x))


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # pykan's hellokan notebook starts with this
    yield
    torch.set_default_dtype(old)


def test_the_pipeline_runs_in_torchs_default_dtype_float64(float64_default):
    ds = kc.create_dataset(
        lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2),
        n_var=2,
        train_num=300,
        test_num=300,
        seed=0,
    )
    assert {t.dtype for t in ds.values()} == {torch.float64}
    model = kc.KAN(width=[2, 3, 1], grid=3, k=3, seed=1)
    model.fit(ds, opt="LBFGS", steps=10, lamb=0.001)
    model = model.prune()
    model.fit(ds, steps=5)
    model = model.refine(6)
    model.fit(ds, steps=5)
    model.auto_symbolic(lib=["x", "x^2", "exp", "sin"])
    model.fit(ds, steps=5)
    tensors = [*model.parameters(), *model.buffers()]
    assert {t.dtype for t in tensors} == {torch.float64}
    fidelity = kc.formula_fidelity(model, ds)
    # a formula came out and, evaluated in float64, is as good as the network (target std 1.4)
    assert fidelity["formula_rmse"] < 0.1
    assert fidelity["formula_rmse"] < 2 * fidelity["network_rmse"] + 1e-3
    assert len(model.edge_curve(0, 0, 0)["x"]) == 128


def test_classification_with_pykans_loss_fn_and_metrics():
    """pykan's classification recipe: class-index labels, loss_fn=CrossEntropyLoss(), accuracy
    metrics; the history records the loss's square root, as pykan's."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 2, generator=g) * 2 - 1
    labels = (x[:, 0] ** 2 + x[:, 1] ** 2 < 0.5).long()  # inside / outside a circle
    ds = {
        "train_input": x[:300],
        "train_label": labels[:300],
        "test_input": x[300:],
        "test_label": labels[300:],
    }
    model = kc.KAN(width=[2, 2, 2], grid=5, k=3, seed=0)

    def test_acc():
        with torch.no_grad():
            return (model(ds["test_input"]).argmax(1) == ds["test_label"]).float().mean()

    history = model.fit(
        ds, opt="LBFGS", steps=10, loss_fn=torch.nn.CrossEntropyLoss(), metrics=(test_acc,)
    )
    assert history["test_acc"][-1] > 0.9
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(model(ds["test_input"]), ds["test_label"])
    assert history["test_loss"][-1] == pytest.approx(float(ce) ** 0.5, rel=1e-5)
    with pytest.raises(ValueError, match="shapes"):  # class indices need a loss that takes them
        model.fit(ds, steps=1)


def test_data_in_another_float_dtype_trains_in_the_models_dtype():
    """float64 data (from NumPy, say) and a float32 model: training casts the data, not crash."""
    ds = {k: v.double() for k, v in _dataset().items()}
    model = kc.KAN(width=[2, 2, 1], seed=0)
    history = model.fit(ds, steps=3)
    assert len(history["train_loss"]) == 3 and all(map(math.isfinite, history["test_loss"]))
    assert ds["train_input"].dtype == torch.float64  # the caller's dict is left as it was
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_a_loss_fn_that_returns_no_scalar_is_a_usage_error_not_a_divergence():
    model = kc.KAN(width=[2, 1], seed=0)
    with pytest.raises(TypeError, match="scalar"):
        model.fit(_dataset(), steps=1, loss_fn=lambda pred, y: (pred - y) ** 2)
