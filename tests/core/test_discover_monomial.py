"""discover's "function of monomials" entry: y = v·g(u) with u, v monomials of the inputs."""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from kan_core import dataset_from_formula, discover, symbolic_formula
from kan_core.discover_monomial import directions, monomial_candidate

X1, X2 = sympy.symbols("x_1 x_2", real=True)


def _always(*_):
    return True


def _max_rel_error(expr, truth, names, ranges, n=2000):
    """Largest |expr − truth| / |truth| on fresh uniform points (NumPy, float64)."""
    rng = np.random.default_rng(7)
    cols = [rng.uniform(lo, hi, n) for lo, hi in ranges]
    syms = sympy.symbols(names, real=True)
    got = sympy.lambdify(syms, expr, "numpy")(*cols)
    want = sympy.lambdify(syms, truth, "numpy")(*cols)
    return float(np.max(np.abs(got - want) / np.abs(want)))


def test_directions_are_the_normalised_simple_ratios():
    got = {tuple(q) for q in directions(2).tolist()}
    # largest |q_i| = 1, first nonzero entry positive, halves allowed (two inputs)
    want = {(0, 1), (0.5, 1), (0.5, -1), (1, -1), (1, -0.5), (1, 0), (1, 0.5), (1, 1)}
    assert got == want
    assert set(directions(5).flatten().tolist()) == {-1.0, 0.0, 1.0}  # 5+ inputs: no halves


def test_sin_of_a_product_is_found_exactly():
    """sin(x_1·x_2) is not separable and not a power law: the entry the plan lacked."""
    ds = dataset_from_formula("sin(x_1*x_2)", ranges=[0.5, 2], seed=0, train_num=500)
    res = discover(ds, budget_s=60, seed=0)
    assert res.best["source"] == "function of monomials"
    assert sympy.simplify(res.best["formula"] - sympy.sin(X1 * X2)) == 0, res.best["formula"]
    assert res.best["test_nrmse"] < 1e-4


def test_a_cofactor_times_a_function_of_a_ratio():
    """m_0/√(1 − v²/c²): v = x_1, u = (x_2/x_3)², g = 1/√(1 − u) (I.10.7's ranges)."""
    text, ranges = "x_1/sqrt(1 - x_2**2/x_3**2)", [[1, 5], [1, 2], [3, 10]]
    ds = dataset_from_formula(text, ranges=ranges, seed=0, train_num=1000)
    m = monomial_candidate(ds, seed=0, in_time=_always)
    assert m is not None
    names = ["x_1", "x_2", "x_3"]
    (expr,) = symbolic_formula(m, names)
    truth = sympy.sympify(text, locals={n: sympy.Symbol(n, real=True) for n in names})
    assert _max_rel_error(expr, truth, names, ranges) < 1e-5, expr
    assert m.width[1] == [0, 2]  # u and v as the two mult nodes


def test_a_gaussian_with_its_width():
    """exp(−(x_2/x_1)²/2)/(√(2π)·x_1), AI Feynman I.6.20: v = 1/x_1, g a Gaussian of x_2/x_1."""
    ds = dataset_from_formula(
        "exp(-(x_2/x_1)**2/2)/(sqrt(2*pi)*x_1)", ranges=[1, 3], seed=0, train_num=1000
    )
    m = monomial_candidate(ds, seed=0, in_time=_always)
    (expr,) = symbolic_formula(m, ["x_1", "x_2"])
    truth = sympy.exp(-((X2 / X1) ** 2) / 2) / (sympy.sqrt(2 * sympy.pi) * X1)
    assert _max_rel_error(expr, truth, ["x_1", "x_2"], [[1, 3], [1, 3]]) < 1e-5, expr


def test_inputs_that_are_not_positive_are_left_to_other_entries():
    ds = dataset_from_formula("sin(x_1*x_2)", ranges=[-1, 1], seed=0, train_num=200)
    assert monomial_candidate(ds, seed=0, in_time=_always) is None
    one = dataset_from_formula("sin(x_1)", ranges=[1, 2], seed=0, train_num=200)
    assert monomial_candidate(one, seed=0, in_time=_always) is None  # one input: [1, 1] does it


def test_deterministic_for_a_seed():
    ds = dataset_from_formula("exp(-x_1/x_2)", ranges=[1, 3], seed=0, train_num=300)
    a = monomial_candidate(ds, seed=2, in_time=_always)
    b = monomial_candidate(ds, seed=2, in_time=_always)
    x = ds["test_input"]
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        got = float(a(x[:1]))
    assert math.isclose(got, math.exp(-float(x[0, 0] / x[0, 1])), rel_tol=1e-5)


def test_planck_and_bose_through_the_composite_outer_function():
    """ħω/(e^(ħω/kT) − 1) (AI Feynman III.4.33): v = x_1·x_2, u = x_1·x_2/(x_3·x_4),
    g = 1/(eᵘ − 1), built as an exp edge then a 1/x edge."""
    text, ranges = "x_1*x_2/(exp(x_1*x_2/(x_3*x_4)) - 1)", [[1, 5]] * 4
    ds = dataset_from_formula(text, ranges=ranges, seed=0, train_num=1000)
    m = monomial_candidate(ds, seed=0, in_time=_always)
    names = ["x_1", "x_2", "x_3", "x_4"]
    (expr,) = symbolic_formula(m, names)
    truth = sympy.sympify(text, locals={n: sympy.Symbol(n, real=True) for n in names})
    assert _max_rel_error(expr, truth, names, ranges) < 1e-5, expr
    assert m.width[2] == [2, 0]  # the exp edges' layer before the product
