"""discover's "quotient of quadratic forms" entry: y = N(x)/D(x)."""

from __future__ import annotations

import sympy
import torch

from kan_core import dataset_from_formula, symbolic_formula
from kan_core.discover_rational import fit, rational_candidate


def _always(*_):
    return True


def test_the_weighted_mean_exactly():
    """(m₁r₁ + m₂r₂)/(m₁ + m₂), AI Feynman I.18.4 (U(1, 5)): N quadratic, D linear."""
    text = "(x_1*x_3 + x_2*x_4)/(x_1 + x_2)"
    ds = dataset_from_formula(text, ranges=[1, 5], seed=0, train_num=800, test_num=200)
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    ln, a, ld, b = fit(x, y)
    num = {lb: round(float(c), 4) for lb, c in zip(ln, a, strict=True) if c != 0}
    den = {lb: round(float(c), 4) for lb, c in zip(ld, b, strict=True) if c != 0}
    assert num == {(0, 2): 1.0, (1, 3): 1.0} and den == {(0,): 1.0, (1,): 1.0}
    m = rational_candidate(ds, seed=0, in_time=_always)
    syms = sympy.symbols("x_1:5", real=True)
    (expr,) = symbolic_formula(m, [s.name for s in syms], placeholders=True)
    truth = (syms[0] * syms[2] + syms[1] * syms[3]) / (syms[0] + syms[1])
    xt = ds["test_input"].double()
    got = sympy.lambdify(syms, expr)(*xt.T.numpy())
    want = sympy.lambdify(syms, truth)(*xt.T.numpy())
    assert float(abs(torch.as_tensor(got - want)).max()) < 1e-5, expr


def test_lower_degrees_first_so_the_quotient_is_unique():
    """x₁x₂/(x₁ + x₂) is also x₁²x₂/(x₁² + x₁x₂); degree (2, 1) is tried first and wins."""
    ds = dataset_from_formula("x_1*x_2/(x_1 + x_2)", ranges=[0.5, 2], seed=0, train_num=500)
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    ln, a, ld, b = fit(x, y)
    assert max(len(lb) for lb, c in zip(ld, b, strict=True) if c != 0) == 1  # D linear


def test_no_quotient_no_candidate():
    ds = dataset_from_formula("sin(x_1*x_2)", ranges=[0.5, 2], seed=0, train_num=500)
    assert rational_candidate(ds, seed=0, in_time=_always) is None
