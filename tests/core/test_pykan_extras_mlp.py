"""MLP (pykan's baseline, kan_core.mlp) against pykan 0.2.8's numbers on the same weights, and
add_symbolic."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kan_core import KAN, MLP, SYMBOLIC_LIB, add_symbolic
from kan_core.symbolic import SymbolicFit, fits_for_samples

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_mlp_extras.pt"
CLOSE = {"rtol": 1e-4, "atol": 1e-6}


def _from_pykan(case) -> MLP:
    m = MLP(width=[3, 4, 2], seed=0)
    with torch.no_grad():
        for lin, (w, bias) in zip(m.linears, case["weights"], strict=True):
            lin.weight.copy_(w)
            lin.bias.copy_(bias)
    return m


def test_mlp_matches_pykans_attribution_regularisers_and_cost():
    case = torch.load(FIXTURE, weights_only=True)["mlp"]
    m = _from_pykan(case)
    with torch.no_grad():
        torch.testing.assert_close(m(case["x"]), case["y"], **CLOSE)
    nodes, edges = m.attribute()
    for got, want in zip(nodes, case["node_scores"], strict=True):
        torch.testing.assert_close(got, want, **CLOSE)
    for got, want in zip(edges, case["edge_scores"], strict=True):
        torch.testing.assert_close(got, want, **CLOSE)
    for metric, want in case["reg"].items():
        assert m.reg(metric, 1.0, 2.0).item() == pytest.approx(want, rel=1e-4), metric
    assert float(m.connection_cost) == pytest.approx(case["cost"], rel=1e-5)
    assert m.feature_score.shape == (3,)


def test_mlp_fit_learns_and_returns_pykans_history():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, 2, generator=gen) * 2 - 1
    y = torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2
    ds = {"train_input": x, "train_label": y, "test_input": x[:64], "test_label": y[:64]}
    m = MLP(width=[2, 8, 1], seed=1)
    calls = []

    def rmse():
        calls.append(1)
        return torch.sqrt(((m(x) - y) ** 2).mean())

    start = rmse().item()
    h = m.fit(ds, steps=15, lamb=1e-4, metrics=[rmse], display_metrics=["train_loss"], log=1)
    assert set(h) == {"train_loss", "test_loss", "reg", "rmse"} and len(calls) == 16
    assert isinstance(h["train_loss"][-1], np.ndarray) and h["train_loss"][-1].shape == ()
    assert h["train_loss"][-1].item() < 0.5 * start and h["reg"][-1].item() > 0
    h = MLP(width=[2, 8, 1], seed=1).fit(ds, opt="Adam", steps=3, lr=0.01)
    # lamb = 0: no regulariser, except on the last step (pykan records it there)
    assert h["reg"][0].item() == 0 and h["reg"][-1].item() > 0
    with pytest.raises(ValueError, match="opt"):
        m.fit(ds, opt="SGD", steps=1)


def test_mlp_seed_swap_and_auto_swap():
    a, b = MLP([3, 5, 4, 1], seed=3), MLP([3, 5, 4, 1], seed=3)
    state = torch.random.get_rng_state()
    MLP([3, 5, 1], seed=9)
    assert torch.equal(state, torch.random.get_rng_state())  # its own generator
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    x = torch.rand(40, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = a(x)
    cost = float(a.connection_cost)
    a.swap(1, 0, 4)
    with torch.no_grad():
        torch.testing.assert_close(a(x), y)
    a.auto_swap()
    with torch.no_grad():
        torch.testing.assert_close(a(x), y)
    assert float(a.connection_cost) <= cost
    with pytest.raises(IndexError):
        a.swap(0, 0, 1)
    with pytest.raises(ValueError, match="width"):
        MLP([3])


@pytest.fixture
def restore_library():
    """add_symbolic changes the process-wide library (as pykan's): put it back after the test."""
    from kan_core import pykan_extras

    saved, added = dict(SYMBOLIC_LIB), set(pykan_extras._ADDED)
    yield
    SYMBOLIC_LIB.clear()
    SYMBOLIC_LIB.update(saved)
    pykan_extras._ADDED.clear()
    pykan_extras._ADDED.update(added)


def test_add_symbolic_function_is_fitted_and_trained(restore_library):
    add_symbolic("Jzero", torch.special.bessel_j0, c=2)  # torch has no derivative for it
    assert SYMBOLIC_LIB["Jzero"].complexity == 2
    x = torch.linspace(-1, 1, 200).unsqueeze(1)
    y = 2 * torch.special.bessel_j0(3 * x + 0.5) + 1
    best = fits_for_samples(x.T.double(), y.T.double(), [SYMBOLIC_LIB["Jzero"], SYMBOLIC_LIB["x"]])
    assert best[0][0].name == "Jzero" and best[0][0].r2 > 0.999  # the search finds it
    m = KAN(width=[1, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "Jzero", fit=SymbolicFit("Jzero", 2.5, 0.4, 1.5, 0.8, 1.0, 2))
    ds = {"train_input": x, "train_label": y, "test_input": x, "test_label": y}
    h = m.fit(ds, steps=20)
    assert float(h["train_loss"][-1]) < 1e-3  # gradients flow through the added function
    assert "Jzero" in str(m.symbolic_formula()[0][0])
    with pytest.raises(ValueError, match="built-in"):
        add_symbolic("sin", torch.sin)
    with pytest.raises(ValueError, match="identifier"):
        add_symbolic("a b", torch.sin)
