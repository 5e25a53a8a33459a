"""auto_symbolic's near-ties decided by the data: on [1, 5] a shifted ``1/sqrt`` fits ``log``'s
samples nearly as well per edge, but only ``log`` makes ``exp(log x₁ + log x₂)`` the product."""

import sympy
import torch

from kan_core import KAN, symbolic_formula
from kan_core.symbolic import SymbolicFit, fits_for_samples, fix_symbolic, symbolic_fit
from kan_core.symbolic_lib import SYMBOLIC_LIB
from kan_core.ties import settle_ties

X1, X2 = sympy.symbols("x_1 x_2", real=True)


def _product_model():
    """[2, 1, 1] computing x₁·x₂ exactly: log, log into the hidden node, exp out."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 2, generator=g) * 4 + 1  # [1, 5]²
    m = KAN(width=[2, 1, 1], seed=0)
    m(x)  # the reference input
    for name, (l, i) in (("log", (0, 0)), ("log", (0, 1)), ("exp", (1, 0))):
        fix_symbolic(m, l, i, 0, name, fit=SymbolicFit(name, 1.0, 0.0, 1.0, 0.0, 1.0, 2))
    with torch.no_grad():
        y = m(x)
    assert torch.allclose(y[:, 0], x[:, 0] * x[:, 1], rtol=1e-3)  # the premise
    return m, x, y


def _fits_of_log(x2: torch.Tensor, names):
    """Fits of each named function to log's samples on x₂ (independent of any network)."""
    row = x2.double().unsqueeze(0)
    fits = fits_for_samples(row, row.log(), [SYMBOLIC_LIB[n] for n in names])[0]
    return {f.name: f for f in fits}


def test_a_near_tie_that_makes_the_product_exact_wins():
    m, x, y = _product_model()
    fits = _fits_of_log(x[:, 1], ["1/sqrt(x)", "log"])
    assert fits["1/sqrt(x)"].r2 > 0.999  # a near-tie per edge
    fix_symbolic(m, 0, 1, 0, "1/sqrt(x)", fit=fits["1/sqrt(x)"])  # what per-edge R² chose
    swapped = settle_ties(m, {(0, 1, 0): [fits["1/sqrt(x)"], fits["log"]]}, x, (x, y))
    assert set(swapped) == {(0, 1, 0)} and swapped[(0, 1, 0)].name == "log"
    assert symbolic_fit(m, 0, 1, 0).name == "log"
    assert sympy.simplify(symbolic_formula(m)[0] - X1 * X2) == 0


def test_tied_edges_of_one_node_are_swapped_together():
    m, x, y = _product_model()
    ties = {}
    for i in (0, 1):
        fits = _fits_of_log(x[:, i], ["1/sqrt(x)", "log"])
        fix_symbolic(m, 0, i, 0, "1/sqrt(x)", fit=fits["1/sqrt(x)"])
        ties[(0, i, 0)] = [fits["1/sqrt(x)"], fits["log"]]
    swapped = settle_ties(m, ties, x, (x, y))
    assert {e: f.name for e, f in swapped.items()} == {(0, 0, 0): "log", (0, 1, 0): "log"}
    assert sympy.simplify(symbolic_formula(m)[0] - X1 * X2) == 0


def test_an_exact_edge_is_not_swapped_for_a_near_tie():
    m, x, y = _product_model()
    fits = _fits_of_log(x[:, 1], ["log", "x^3"])
    # the exact log edge stays: a cubic cannot cut a refit error of ~0 by 1 %
    assert settle_ties(m, {(0, 1, 0): [fits["log"], fits["x^3"]]}, x, (x, y)) == {}
    assert symbolic_fit(m, 0, 1, 0).name == "log"


def test_auto_symbolic_leaves_the_network_unchanged_apart_from_the_snapped_edges():
    # the trials run on copies: the model's spline coefficients are what they were
    g = torch.Generator().manual_seed(1)
    x = torch.rand(300, 2, generator=g) * 4 + 1
    m = KAN(width=[2, 1, 1], seed=0)
    m(x)
    coef = [layer.coef.detach().clone() for layer in m.layers]
    done = m.auto_symbolic()
    assert set(done) == set(m.edges())
    assert all(torch.equal(c, layer.coef) for c, layer in zip(coef, m.layers, strict=True))
