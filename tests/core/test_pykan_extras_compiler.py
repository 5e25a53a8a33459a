"""kanpiler (kan_core.compiler) and get_feynman_dataset: the compiled model's output equals the
expression, evaluated independently by sympy in float64."""

import math

import numpy as np
import pytest
import sympy
import torch

from kan_core import KAN, create_dataset, get_feynman_dataset, kanpiler

a, b, c = sympy.symbols("a b c")


def _check(variables, expr, x, tol=1e-5):
    model = kanpiler(variables, expr)
    want = sympy.lambdify(variables, expr, "numpy")(*x.double().numpy().T)
    with torch.no_grad():
        got = model(x)[:, 0].double().numpy()
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=tol, atol=tol)
    return model


@pytest.mark.parametrize(
    ("expr", "width"),
    [
        (sympy.exp(sympy.sin(sympy.pi * a) + b**2), [2, 1, 1]),  # pykan's tutorial: its width too
        (a * b, [[2, 0], [0, 1], [1, 0]]),  # a product on top: one identity layer more
        (3 * a * b - 2, [[2, 0], [0, 1], [1, 0]]),
        (a + sympy.sin(a), [2, 2, 1]),  # two terms reading one input: one layer more
        (sympy.sin(2 * a * b + 1) / (1 + a**2), None),
        (2**a + sympy.Abs(b) - sympy.tanh(a - b), None),
        ((a + b) ** 2 * sympy.cos(b), None),
    ],
)
def test_compiled_model_computes_the_expression(expr, width):
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    model = _check([a, b], expr, x)
    if width is not None:
        assert model.width == width
    states = {model.edge_state(*e) for e in model.edges()}
    assert states == {"symbolic"}  # every edge: a tree edge or the symbolic zero
    if expr.func == sympy.exp:  # the tutorial's: sin and x^2 into a node, exp out of it
        names = sorted(model.layers[l].sym_funs[(i, j)] for l, i, j in model.edges())
        assert names == ["exp", "sin", "x^2"]
        assert model.symbolic_fit(0, 0, 0).a == pytest.approx(math.pi)


def test_formula_reads_back_and_training_starts_from_it():
    x = torch.rand(300, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    expr = sympy.exp(sympy.sin(sympy.pi * a) + b**2)
    model = kanpiler([a, b], expr)
    got = model.symbolic_formula()[0][0]
    x1, x2 = sympy.symbols("x_1 x_2")
    assert sympy.simplify(got - expr.subs({a: x1, b: x2})) == 0
    y = torch.exp(torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2)
    hist = model.fit(
        {"train_input": x, "train_label": y, "test_input": x, "test_label": y}, steps=2
    )
    assert float(hist["train_loss"][-1]) < 1e-4


def test_feynman_problems_compile_exactly():
    for name in (36, "I.6.20", 4, 7):
        variables, expr, f, ranges = get_feynman_dataset(name)
        ds = create_dataset(f, n_var=len(variables), ranges=ranges, train_num=200, seed=0)
        model = kanpiler(variables, expr)
        with torch.no_grad():
            err = (model(ds["train_input"]) - ds["train_label"]).abs().max()
        assert float(err) < 1e-4 * max(1.0, float(ds["train_label"].abs().max()))
    variables, expr, f, ranges = get_feynman_dataset("I.34.14")
    assert [str(v) for v in variables] == ["omega_0", "v", "c"] and ranges[1] == [-0.9, 0.9]
    x = torch.tensor([[0.5, 0.3, 1.5]])
    want = 0.5 * (1 + 0.3 / 1.5) / math.sqrt(1 - 0.3**2 / 1.5**2)
    assert float(f(x)) == pytest.approx(want, rel=1e-6)
    with pytest.raises(KeyError, match="not in kan_core's set"):
        get_feynman_dataset(99)


def test_expressions_that_cannot_be_compiled_are_refused_by_name():
    with pytest.raises(ValueError, match="not one of the input variables"):
        kanpiler([a], a + c)
    with pytest.raises(ValueError, match="no edge function for the power"):
        kanpiler([a], a**7)
    with pytest.raises(ValueError, match="no edge function for"):
        kanpiler([a, b], sympy.Max(a, b))
    with pytest.raises(ValueError, match="constant"):
        kanpiler([a], sympy.sin(sympy.Integer(2)) + sympy.pi)
    with pytest.raises(ValueError, match="sympy symbols"):
        kanpiler(["a + 1"], a)
    assert isinstance(kanpiler([a], a), KAN)


def test_star_import_gives_pykans_extras():
    import kan_core

    names = {"kanpiler", "MLP", "add_symbolic", "get_feynman_dataset"}
    assert names <= set(kan_core.__all__)
    assert all(callable(getattr(kan_core, n)) for n in names)
