"""discover's "monomial times g(sum)" entry: y = v·g(Σ h_i(x_i) + Σ c_ij x_i x_j)."""

from __future__ import annotations

import numpy as np
import sympy
import torch

from kan_core import dataset_from_formula, symbolic_formula
from kan_core.discover_additive import additive_candidate, search


def _always(*_):
    return True


def _max_rel_error(expr, text, n, ranges, rows=2000):
    """Largest |expr − truth| / |truth| on fresh uniform points (NumPy, float64)."""
    syms = sympy.symbols([f"x_{i + 1}" for i in range(n)], real=True)
    truth = sympy.sympify(text, locals={s.name: s for s in syms})
    rng = np.random.default_rng(11)
    cols = [rng.uniform(lo, hi, rows) for lo, hi in ranges]
    got = sympy.lambdify(syms, expr, "numpy")(*cols)
    want = sympy.lambdify(syms, truth, "numpy")(*cols)
    return float(np.max(np.abs(got - want) / np.abs(want)))


def _data(text, ranges):
    return dataset_from_formula(text, ranges=ranges, seed=0, train_num=1000, test_num=200)


def test_the_search_names_the_cofactor_and_the_outer_function():
    """½·m·(v² + u² + w²) (I.13.4): v = x_1, g = x; distance (I.8.14): v = 1, g = √."""
    ds = _data("x_1*(x_2**2 + x_3**2 + x_4**2)/2", [[1, 5]] * 4)
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    _, p, g = search(x, y)
    assert p.tolist() == [1, 0, 0, 0] and g == "x"
    ds = _data("sqrt((x_2 - x_1)**2 + (x_4 - x_3)**2)", [[1, 5]] * 4)
    _, p, g = search(ds["train_input"].double(), ds["train_label"].double()[:, 0])
    assert p.tolist() == [0, 0, 0, 0] and g == "sqrt"


def test_laws_of_the_ai_feynman_table():
    for text, ranges in [
        ("x_1*(x_2**2 + x_3**2 + x_4**2)/2", [[1, 5]] * 4),  # I.13.4
        ("x_1*x_2*x_3*log(x_5/x_4)", [[1, 5]] * 5),  # I.44.4
        (
            "x_1*x_2/((x_4 - x_3)**2 + (x_6 - x_5)**2)",
            [[1, 2], [1, 2], [3, 4], [1, 2], [3, 4], [1, 2]],
        ),
        ("x_1*x_4 + x_2*x_5 + x_3*x_6", [[1, 5]] * 6),  # I.11.19
    ]:
        ds = _data(text, ranges)
        m = additive_candidate(ds, seed=0, in_time=_always)
        assert m is not None, text
        (expr,) = symbolic_formula(m, [f"x_{i + 1}" for i in range(len(ranges))])
        assert _max_rel_error(expr, text, len(ranges), ranges) < 1e-4, (text, expr)


def test_no_structure_no_candidate():
    """sin(x_1·x_2) is no v·g(sum) for g in x, √, x², 1/x: the entry declines (None)."""
    ds = _data("sin(x_1*x_2)", [[0.5, 2]] * 2)
    assert additive_candidate(ds, seed=0, in_time=_always) is None


def test_inputs_of_any_sign_take_g_of_a_sum_without_a_cofactor():
    """pykan's toy exp(sin(πx_1) + x_2²) on [−1, 1]² (g = exp, the page's first preset) and
    x_1·x_2 there (one product term): no monomial cofactor, since x^p needs x > 0."""
    for text, g in [("exp(sin(pi*x_1) + x_2**2)", "exp"), ("x_1*x_2", "x")]:
        ds = _data(text, [[-1, 1]] * 2)
        x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
        _, p, found_g = search(x, y, cofactor=False)
        assert p.tolist() == [0, 0] and found_g == g, text
        m = additive_candidate(ds, seed=0, in_time=_always)
        assert m is not None, text
        (expr,) = symbolic_formula(m, ["x_1", "x_2"])
        # relative error away from x_1·x_2's zeros: the toy is positive everywhere
        ranges = [[0.1, 1], [-1, -0.1]] if g == "x" else [[-1, 1]] * 2
        assert _max_rel_error(expr, text, 2, ranges) < 1e-4, (text, expr)


def test_deterministic_for_a_seed():
    ds = _data("x_1*x_2/(x_1 + x_2)", [[1, 5]] * 2)
    a = additive_candidate(ds, seed=1, in_time=_always)
    b = additive_candidate(ds, seed=1, in_time=_always)
    with torch.no_grad():
        assert torch.equal(a(ds["test_input"]), b(ds["test_input"]))
