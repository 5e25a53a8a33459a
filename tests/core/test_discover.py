"""``discover``: the contract (front, best, budget, determinism) and scale invariance."""

from __future__ import annotations

import time

import sympy
import torch

from kan_core import dataset_from_formula, discover, symbolic_formula

X1, X2 = sympy.symbols("x_1 x_2", real=True)


def _same(expr, truth) -> bool:
    return sympy.simplify(expr - truth) == 0


def _product(scale: float = 1.0, shift: float = 0.0) -> dict:
    ds = dataset_from_formula("x_1*x_2", ranges=[-1, 1], seed=0, train_num=500, test_num=500)
    for part in ("train", "test"):
        ds[f"{part}_input"] = ds[f"{part}_input"] + shift
        ds[f"{part}_label"] = ds[f"{part}_label"] * scale
    return ds


def test_the_contract_on_a_product():
    start = time.monotonic()
    res = discover(_product(), budget_s=30, seed=0, max_candidates=3)
    assert time.monotonic() - start < 36
    assert res.front, "no formula found"
    for c in res.front:
        assert {"formula", "test_nrmse", "complexity", "width"} <= c.keys()
        assert isinstance(c["formula"], sympy.Expr) and isinstance(c["complexity"], int)
    sizes = [c["complexity"] for c in res.front]
    assert sizes == sorted(sizes)
    errors = [c["test_nrmse"] for c in res.front]
    assert errors == sorted(errors, reverse=True)  # a Pareto front: simpler means worse
    assert res.best in res.front
    assert _same(res.best["formula"], X1 * X2), res.best["formula"]
    assert res.best["test_nrmse"] < 1e-4
    assert res.best["width"] == [[2, 0], [0, 1], [1, 0]]


def test_same_seed_same_front():
    a = discover(_product(), budget_s=60, seed=3, max_candidates=2)
    b = discover(_product(), budget_s=60, seed=3, max_candidates=2)
    assert [str(c["formula"]) for c in a.tried] == [str(c["formula"]) for c in b.tried]
    assert [c["test_nrmse"] for c in a.tried] == [c["test_nrmse"] for c in b.tried]


def test_the_budget_is_kept():
    ds = dataset_from_formula("exp(sin(pi*x_1) + x_2**2)", ranges=[-1, 1], seed=0)
    start = time.monotonic()
    res = discover(ds, budget_s=6, seed=0)
    assert time.monotonic() - start < 6 * 1.2 + 3  # + one-off compile costs
    assert res.tried  # something was tried in that time


def test_units_do_not_change_the_formula():
    """The same formula for y and 1000·y, and for x and x + 100 (the data's own units)."""
    big = discover(_product(scale=1000.0), budget_s=30, seed=0, max_candidates=3).best
    assert _same(big["formula"], 1000 * X1 * X2), big["formula"]
    moved = discover(_product(shift=100.0), budget_s=30, seed=0, max_candidates=3).best
    assert _same(moved["formula"], (X1 - 100) * (X2 - 100)), moved["formula"]


def test_progress_reports_and_can_stop_the_search():
    seen = []

    def progress(info):
        seen.append(info)
        return info["tried"] < 1  # False, stop, once one candidate is in

    res = discover(_product(), budget_s=30, seed=0, progress=progress)
    assert seen[-1]["tried"] == 1 and not seen[-1]["done"]
    assert len(res.tried) == 1  # stopped after that report
    assert all(0 <= info["elapsed_s"] < 30 for info in seen)


def test_a_formula_with_an_overflowing_constant_does_not_crash():
    """exp(800)·… cannot be a float: the formula keeps it symbolic instead of crashing."""
    from kan_core import KAN
    from kan_core.symbolic import SymbolicFit

    m = KAN(width=[1, 1], seed=0)
    m.set_reference_input(torch.linspace(0, 1, 50)[:, None])
    m.fix_symbolic(0, 0, 0, "exp", fit=SymbolicFit("exp", 1.0, 800.0, 1.0, 0.0, 1.0, 2))
    (expr,) = symbolic_formula(m)
    assert expr.has(sympy.exp) or expr.free_symbols
