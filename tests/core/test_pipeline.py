"""The paper's toy pipeline end to end: the formula is recovered exactly."""

import sympy
import torch

from kan_core import (
    KAN,
    dataset_from_formula,
    formula_fidelity,
    symbolic_formula,
    to_latex,
    to_mathml,
    to_python,
)


def test_toy_pipeline_recovers_exp_sin_plus_square():
    torch.set_num_threads(1)
    ds = dataset_from_formula("exp(sin(pi*x_1) + x_2**2)", ranges=[-1, 1], seed=1)
    model = KAN([2, 5, 1], grid=5, k=3, seed=1)
    model.fit(ds, opt="LBFGS", steps=50, lamb=0.002)
    model = model.prune()
    assert model.width == [2, 1, 1]
    model.fit(ds, opt="LBFGS", steps=50)
    model = model.refine(10)
    model.fit(ds, opt="LBFGS", steps=50)
    fits = model.auto_symbolic()
    assert sorted(f.name for f in fits.values()) == ["exp", "sin", "x^2"]
    model.fit(ds, opt="LBFGS", steps=50)
    (expr,) = symbolic_formula(model)
    x1, x2 = sympy.symbols("x_1 x_2", real=True)
    assert expr == sympy.exp(sympy.sin(sympy.pi * x1) + x2**2)
    fid = formula_fidelity(model, ds)
    assert fid["formula_rmse"] < 1e-3
    assert "sin" in to_latex(expr) and to_mathml(expr).startswith("<math")
    namespace = {}
    exec(to_python([expr], ["x_1", "x_2"]), namespace)  # our own generated source
    assert abs(namespace["f"](0.5, 0.5)[0] - float(expr.subs({x1: 0.5, x2: 0.5}))) < 1e-12
