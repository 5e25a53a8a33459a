"""discover's "separable product + sum" entry: y = Π h_i(x_i) + Σ a_j(x_j) + Σ c_jk x_j x_k."""

from __future__ import annotations

import numpy as np
import sympy
import torch

from kan_core import dataset_from_formula, discover, symbolic_formula
from kan_core.discover_sum import fit, sum_candidate


def _always(*_):
    return True


def _max_rel_error(expr, text, ranges, rows=2000):
    """Largest |expr − truth| / spread of the truth on fresh uniform points (NumPy, float64)."""
    syms = sympy.symbols([f"x_{i + 1}" for i in range(len(ranges))], real=True)
    truth = sympy.sympify(text, locals={s.name: s for s in syms})
    rng = np.random.default_rng(5)
    cols = [rng.uniform(lo, hi, rows) for lo, hi in ranges]
    got = sympy.lambdify(syms, expr, "numpy")(*cols)
    want = sympy.lambdify(syms, truth, "numpy")(*cols)
    return float(np.max(np.abs(got - want)) / np.std(want))


def test_the_block_fit_is_exact_for_a_product_plus_a_term():
    ds = dataset_from_formula("x_1*sin(x_2) + x_3", ranges=[0.5, 2], seed=0, train_num=800)
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    rel, h, _ = fit(x, y, [])
    assert rel < 1e-5
    # the product's factors: h_1 ∝ x_1 up to an offset the sum absorbs, h_3 constant
    assert abs(float(torch.corrcoef(torch.stack([h[0], x[:, 0]]))[0, 1])) > 1 - 1e-6
    assert float(h[2].std()) < 1e-4 * float(h[2].abs().mean())


def test_interference_of_two_beams():
    """I₁ + I₂ + 2√(I₁I₂)·cos δ (AI Feynman I.37.4, ranges U(1, 5)): end to end."""
    text, ranges = "x_1 + x_2 + 2*sqrt(x_1*x_2)*cos(x_3)", [[1, 5]] * 3
    ds = dataset_from_formula(text, ranges=ranges, seed=0, train_num=1000, test_num=500)
    res = discover(ds, budget_s=60, seed=0)
    assert res.best["source"] == "separable product + sum"
    assert res.best["test_nrmse"] < 1e-4
    assert _max_rel_error(res.best["formula"], text, ranges) < 1e-4, res.best["formula"]


def test_a_product_term_beside_the_product():
    """q·E + q·v·B·sin θ (I.12.11): the product x_1·x_2 goes to its own mult node."""
    text, ranges = "x_1*(x_2 + x_3*x_4*sin(x_5))", [[1, 5]] * 5
    ds = dataset_from_formula(text, ranges=ranges, seed=0, train_num=1000, test_num=200)
    m = sum_candidate(ds, seed=0, in_time=_always)
    assert m is not None
    (expr,) = symbolic_formula(m, [f"x_{i + 1}" for i in range(5)], placeholders=True)
    assert _max_rel_error(expr, text, ranges) < 1e-4, expr
    assert m.width[1] == [1, 2]  # the sum node, x_1·x_2, the product


def test_no_structure_no_candidate():
    """exp(x_1·x_2·x_3) on [0.5, 2]³ is no product plus a sum: the entry declines."""
    ds = dataset_from_formula("exp(x_1*x_2*x_3)", ranges=[0.5, 2], seed=0, train_num=500)
    assert sum_candidate(ds, seed=0, in_time=_always) is None
