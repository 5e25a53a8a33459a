"""pykan's activation cache: after a plain ``model(x)`` the attributes its tutorials and plots read
(``acts``, ``spline_preacts``, ``spline_postacts``, ``acts_scale``, …), ``get_act``, ``get_fun``,
``get_range``, ``act_fun``/``symbolic_fun``, with pykan's shapes and pykan's numbers (fixture made
by bench/make_pykan_api_fixtures.py), and the cached input standing in for ``x``."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kan_core import KAN, create_dataset

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_api.pt"
CACHE = (
    "acts",
    "acts_premult",
    "spline_preacts",
    "spline_postacts",
    "spline_postsplines",
    "acts_scale",
    "acts_scale_spline",
    "edge_actscale",
    "subnode_actscale",
)


def _from_pykan(case: dict) -> KAN:
    """kan_core model with pykan's weights; pykan's symbolic edge has its spline mask at 0."""
    m = KAN(width=case["width"], grid=5, k=3, seed=0, auto_save=False)
    l, i, j, name, affine = case["sym"]
    with torch.no_grad():
        for layer, t in zip(m.layers, case["layers"], strict=True):
            for n in ("grid", "mask", "coef", "scale_base", "scale_sp"):
                getattr(layer, n).copy_(t[n])
        layer = m.layers[l]
        layer.mask[i, j] = 1.0
        layer.sym_mask[i, j] = 1.0
        layer.sym_funs[(i, j)] = name
        layer.affine[i, j] = torch.tensor(affine)
        for layer in m.layers:
            layer.invalidate()
    return m


@pytest.mark.parametrize("k", range(2))
def test_forward_fills_pykans_cache_with_pykans_numbers(k):
    case = torch.load(FIXTURE, weights_only=True)["activations"][k]
    m = _from_pykan(case)
    assert m.acts is None  # as pykan's, before any forward pass
    m(case["x"])
    for name in CACHE:
        ours, theirs = getattr(m, name), case["cache"][name]
        assert len(ours) == len(theirs), name
        for a, b in zip(ours, theirs, strict=True):
            assert a.shape == b.shape, name
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    lo_hi = [float(v) for v in m.get_range(0, 0, 1)]
    assert lo_hi == pytest.approx(case["range_0_0_1"], rel=1e-4, abs=1e-5)
    x, y = m.get_fun(0, 1, 1)
    assert isinstance(x, np.ndarray) and bool((np.diff(x) >= 0).all())  # sorted by input
    np.testing.assert_allclose(x, case["fun_0_1_1"][0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y, case["fun_0_1_1"][1].numpy(), rtol=1e-4, atol=1e-5)


def test_cache_follows_the_model_and_the_input():
    m = KAN([2, 3, 1], seed=0, auto_save=False)
    x = torch.rand(40, 2, generator=torch.Generator().manual_seed(0))
    m(x)
    first = m.spline_postacts
    assert m.spline_postacts is first  # computed once per (input, model state)
    with torch.no_grad():
        m.layers[0].coef.mul_(2.0)  # the optimiser writes in place
    changed = m.spline_postacts
    assert changed is not first
    torch.testing.assert_close(
        changed[0], m.layers[0].edge_activations(x).permute(0, 2, 1), rtol=0, atol=0
    )
    x2 = x[:10] * 0.5
    m(x2)
    assert m.acts[0].shape == (10, 2) and torch.equal(m.acts[0], x2)
    # the output layer's node values are the model's output
    torch.testing.assert_close(m.acts[-1], m(x2).detach())


def test_get_act_takes_a_tensor_a_dataset_or_nothing():
    ds = create_dataset(lambda x: x[:, :1] * x[:, 1:], n_var=2, train_num=30, test_num=5)
    m = KAN([2, 2, 1], seed=1, auto_save=False)
    with pytest.raises(ValueError, match="missing input data"):
        m.get_act()
    assert m.get_act(ds) is None
    assert torch.equal(m.cache_data, ds["train_input"])
    m.get_act(ds["test_input"])
    assert m.acts[0].shape == (5, 2)
    m.get_act()  # the last input again
    assert m.acts[0].shape == (5, 2)


def test_symbolic_fits_and_pruning_use_the_cached_input():
    """pykan: fix_symbolic / suggest_symbolic / prune after a plain forward pass, no x given."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(100, 2, generator=g) * 2 - 1
    m = KAN([2, 3, 1], seed=2, auto_save=False)
    assert m.reference_input is None
    with pytest.raises(ValueError, match="no data"):
        m.suggest_symbolic(0, 0, 0)
    m(x)
    fit = m.fix_symbolic(0, 0, 0, "x^2")
    explicit = KAN([2, 3, 1], seed=2, auto_save=False).fix_symbolic(0, 0, 0, "x^2", x=x)
    assert (fit.a, fit.b, fit.c, fit.d) == pytest.approx(
        (explicit.a, explicit.b, explicit.c, explicit.d), rel=1e-5, abs=1e-6
    )
    assert m.suggest_symbolic(0, 1, 0, topk=2)[0].name
    assert m.prune().width == m.prune(x=x).width


def test_act_fun_and_symbolic_fun_are_pykans_views():
    m = KAN([2, 3, 5, 1], seed=0, auto_save=False)
    assert [(a.in_dim, a.out_dim) for a in m.act_fun] == [(2, 3), (3, 5), (5, 1)]
    assert [(s.in_dim, s.out_dim) for s in m.symbolic_fun] == [(2, 3), (3, 5), (5, 1)]
    assert m.act_fun[0].coef.shape == (2, 3, 5 + 3)  # (in, out, G + k), pykan's
    assert m.act_fun[0].grid.shape == (2, 5 + 2 * 3 + 1)
    m.fix_symbolic(1, 2, 4, "sin", fit=None, x=torch.rand(20, 2) * 2 - 1)
    sym = m.symbolic_fun[1]
    assert sym.funs_name[4][2] == "sin" and sym.funs_name[0][0] == "0"  # [out][in]
    assert sym.mask.shape == (5, 3) and sym.mask[4, 2] == 1 and sym.mask.sum() == 1
    assert torch.equal(sym.affine[4, 2], m.layers[1].affine[2, 4])
    assert m.n_edge == 2 * 3 + 3 * 5 + 5 * 1


def test_training_does_not_build_the_cache():
    """fit runs forward passes (test loss): they only keep the input, nothing is computed."""
    ds = create_dataset(lambda x: x[:, :1] ** 2, n_var=1, train_num=50, test_num=20)
    m = KAN([1, 2, 1], seed=0, auto_save=False)
    m.fit(ds, steps=2)
    assert m._act_memo is None
    assert m.cache_data is not None and m.cache_data.shape == (20, 1)
    assert m.acts_scale[0].shape == (2, 1) and m._act_memo is not None


def test_evaluate_device_and_unfix_symbolic_all():
    ds = create_dataset(lambda x: x[:, :1] ** 2, n_var=1, train_num=40, test_num=30, seed=1)
    m = KAN([1, 2, 1], seed=0, auto_save=False)
    ev = m.evaluate(ds)
    with torch.no_grad():
        want = torch.sqrt(torch.mean((m(ds["test_input"]) - ds["test_label"]) ** 2))
    assert ev == {"test_loss": pytest.approx(float(want)), "n_edge": 4, "n_grid": 5}
    assert m.device == torch.device("cpu")
    m.fix_symbolic(0, 0, 1, "x^2", x=ds["train_input"])
    m.fix_symbolic(1, 1, 0, "x", x=ds["train_input"])
    m.unfix_symbolic_all()
    assert {m.edge_state(*e) for e in m.edges()} == {"active"}
