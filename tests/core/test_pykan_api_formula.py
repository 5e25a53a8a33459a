"""``model.symbolic_formula()`` as pykan returns it: ``(exprs, variables)`` in plain symbols, so
``[0][0]`` is the expression and ``formula.subs('x_1', v)`` substitutes (fixture of pykan's own
values made by bench/make_pykan_api_fixtures.py); ``var``, ``normalizer``, ``output_normalizer``;
``ex_round``."""

import math
from pathlib import Path

import pytest
import sympy
import torch

from kan_core import KAN, ex_round, symbolic_formula

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_api.pt"


def _model_like_pykans(case) -> KAN:
    m = KAN([2, 1], seed=0, auto_save=False)
    layer = m.layers[0]
    with torch.no_grad():
        for (i, j, name), (_, _, affine) in zip(case["funs"], case["affine"], strict=True):
            layer.sym_mask[i, j] = 1.0
            layer.sym_funs[(i, j)] = name
            layer.affine[i, j] = torch.tensor(affine)
    layer.invalidate()
    return m


def test_formula_and_variables_as_pykan_returns_them():
    case = torch.load(FIXTURE, weights_only=True)["formula"]
    m = _model_like_pykans(case)
    exprs, variables = m.symbolic_formula()
    assert isinstance(exprs, list) and len(exprs) == 1
    assert [str(v) for v in variables] == case["variables"]
    assert variables == [sympy.Symbol("x_1"), sympy.Symbol("x_2")]  # no assumptions
    formula = m.symbolic_formula()[0][0]
    for (a, b), want in zip(case["points"], case["values"], strict=True):
        got = formula.subs("x_1", a).subs("x_2", b)  # the tutorials' way (strings)
        assert got.is_number and float(got) == pytest.approx(want, rel=1e-5)
        net = m(torch.tensor([[a, b]]))
        assert float(net.detach()) == pytest.approx(want, rel=1e-4)


def test_internal_formula_keeps_real_symbols():
    """kan_core.symbolic_formula (server, discover) is the plain list in real symbols."""
    case = torch.load(FIXTURE, weights_only=True)["formula"]
    m = _model_like_pykans(case)
    (expr,) = symbolic_formula(m)
    assert all(s.is_real for s in expr.free_symbols)
    plain = m.symbolic_formula()[0][0]
    assert (
        sympy.simplify(
            expr.subs(sympy.Symbol("x_1", real=True), sympy.Symbol("x_1")).subs(
                sympy.Symbol("x_2", real=True), sympy.Symbol("x_2")
            )
            - plain
        )
        == 0
    )


def _one_edge(name="x", affine=(2.0, 0.0, 1.0, 0.0)) -> KAN:
    m = KAN([1, 1], seed=0, auto_save=False)
    layer = m.layers[0]
    with torch.no_grad():
        layer.sym_mask[0, 0] = 1.0
        layer.sym_funs[(0, 0)] = name
        layer.affine[0, 0] = torch.tensor(affine)
    layer.invalidate()
    return m


def test_var_names_and_sympy_inputs():
    m = _one_edge("exp", (1.0, 0.0, 3.0, 0.0))  # 3·exp(x)
    (f,), (t,) = m.symbolic_formula(var=["t"])
    assert t == sympy.Symbol("t") and f.subs("t", 0) == 3
    u = sympy.Symbol("u", positive=True)
    (g,), inputs = m.symbolic_formula(var=[sympy.log(u)])
    assert inputs == [sympy.log(u)]
    assert sympy.simplify(g - 3 * u) == 0  # 3·exp(log u)
    with pytest.raises(ValueError, match="2 variables for 1 inputs"):
        m.symbolic_formula(var=["a", "b"])


def test_normalizers_undo_a_normalised_dataset():
    """pykan: the model saw (x - mean)/std and produced (y - mean)/std; the formula speaks in the
    original units."""
    m = _one_edge("x", (2.0, 0.0, 1.0, 0.0))  # y_n = 2·x_n
    (f,), (x,) = m.symbolic_formula(normalizer=[[1.0], [4.0]], output_normalizer=[[10.0], [3.0]])
    for v in (-2.0, 0.5, 7.0):
        want = 3.0 * (2.0 * (v - 1.0) / 4.0) + 10.0
        assert float(f.subs(x, v)) == pytest.approx(want)
    with pytest.raises(ValueError, match="output_normalizer"):
        m.symbolic_formula(output_normalizer=[[1.0, 2.0], [1.0, 1.0]])


def test_incomplete_formula_names_the_edge_or_gives_placeholders():
    m = KAN([2, 1], seed=0, auto_save=False)
    with pytest.raises(ValueError, match=r"edge \(0,0,0\) is not symbolic"):
        m.symbolic_formula(placeholders=False)
    (f,), _ = m.symbolic_formula()  # (pykan would count the spline edges as 0)
    assert {type(a).__name__ for a in f.atoms(sympy.Function)} == {"phi_0_0_0", "phi_0_1_0"}


def test_ex_round_rounds_every_float():
    x = sympy.Symbol("x_1")
    e = sympy.Float(1.23456) * sympy.sin(sympy.Float(3.14159) * x) + sympy.Float(0.00004)
    r = ex_round(e, 2)
    assert {float(v) for v in r.atoms(sympy.Float)} == {1.23, 3.14}
    assert float(r.subs(x, 0.5)) == pytest.approx(1.23 * math.sin(3.14 * 0.5))


def test_pykan_shaped_formula_compiles_and_prints():
    """compile_formula / to_python take the method's plain-symbol formula as well."""
    from kan_core import compile_formula, to_python

    m = _one_edge("sin", (2.0, 0.5, 1.5, -0.25))
    exprs, variables = m.symbolic_formula()
    x = torch.linspace(-1, 1, 7).unsqueeze(1)
    want = 1.5 * torch.sin(2.0 * x + 0.5) - 0.25
    torch.testing.assert_close(compile_formula(exprs, ["x_1"])(x), want, rtol=1e-5, atol=1e-6)
    ns: dict = {}
    exec(to_python(exprs, ["x_1"]), ns)  # noqa: S102 — our own generated source
    assert ns["f"](0.3)[0] == pytest.approx(float(1.5 * math.sin(0.6 + 0.5) - 0.25), rel=1e-5)


def test_fix_symbolic_without_fitting_as_pykan():
    """pykan's fit_params_bool=False: a, b, c, d = 1, 0, 1, 0 and no data needed."""
    m = KAN([2, 1], seed=0, auto_save=False)
    fit = m.fix_symbolic(0, 1, 0, "x^2", fit_params_bool=False)
    assert (fit.a, fit.b, fit.c, fit.d) == (1.0, 0.0, 1.0, 0.0) and math.isnan(fit.r2)
    assert m.edge_state(0, 1, 0) == "symbolic"
    x = torch.tensor([[0.2, -0.5], [0.7, 0.4]])
    with torch.no_grad():
        spline_part = m.layers[0].edge_activations(x)[:, 0, 0]
    torch.testing.assert_close(m(x)[:, 0].detach(), spline_part + x[:, 1] ** 2)
