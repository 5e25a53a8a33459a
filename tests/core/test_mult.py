"""Multiplication nodes (pykan 0.2.8 MultKAN semantics): forward against pykan's own outputs,
gradients, the x_1·x_2 contract, pruning, grids, formulas and files."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy
import torch

from kan_core import KAN, dataset_from_formula, symbolic_formula
from kan_core.train import _loss_and_grads_autograd, loss_and_grads

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_multkan.pt"


def _from_pykan(case: dict) -> KAN:
    m = KAN(width=case["width"], mult_arity=case["mult_arity"], grid=5, k=3, seed=0)
    with torch.no_grad():
        for layer, t in zip(m.layers, case["layers"], strict=True):
            layer.grid.copy_(t["grid"])
            layer.mask.copy_(t["mask"])
            layer.coef.copy_(t["coef"])
            layer.scale_base.copy_(t["scale_base"])
            layer.scale_sp.copy_(t["scale_sp"])
            layer.invalidate()
    return m


@pytest.mark.parametrize("k", range(3))
def test_forward_matches_pykans_multkan(k):
    """bench/make_pykan_fixtures.py saved pykan's weights, input and output."""
    case = torch.load(FIXTURE, weights_only=True)[k]
    m = _from_pykan(case)
    assert m.width == [[w, 0] if isinstance(w, int) else w for w in case["width"]]
    x, want = case["x"], case["y"]
    assert want.std() > 0.05  # the fixture is not a near-constant
    torch.testing.assert_close(m(x), want, rtol=1e-4, atol=1e-5)  # fused training path
    with torch.no_grad():
        torch.testing.assert_close(m(x), want, rtol=1e-4, atol=1e-5)  # layer-by-layer path


def test_hand_written_gradients_match_autograd_with_mult_nodes():
    case = torch.load(FIXTURE, weights_only=True)[2]
    m = _from_pykan(case)
    x = case["x"]
    y = torch.sin(x.sum(1, keepdim=True))
    loss, mse, reg = loss_and_grads(m, x, y, lamb=0.01)
    fast = [layer.packed.grad.clone() for layer in m.layers]
    loss2, mse2, reg2 = _loss_and_grads_autograd(m, x, y, 0.01, 1.0, 2.0)
    assert abs(loss - loss2) < 1e-5 * max(1.0, abs(loss))
    for g, layer in zip(fast, m.layers, strict=True):
        torch.testing.assert_close(g, layer.packed.grad, rtol=1e-4, atol=1e-6)


def test_widths_and_arities_as_pykan():
    m = KAN(width=[2, [3, 2], 1], mult_arity=2)
    assert m.width == [[2, 0], [3, 2], [1, 0]]
    assert m.width_in == [2, 5, 1] and m.width_out == [2, 7, 1]
    assert [(layer.in_dim, layer.out_dim) for layer in m.layers] == [(2, 7), (5, 1)]
    m = KAN(width=[2, [1, 2], 1], mult_arity=[[], [2, 3], []])
    assert m.width_out == [2, 6, 1]
    assert KAN(width=[2, 5, 1]).width == [2, 5, 1]  # plain models keep the flat form


def _product_dataset():
    return dataset_from_formula("x_1*x_2", ranges=[-1, 1], seed=0, train_num=400, test_num=400)


def test_x1_times_x2_snaps_to_the_exact_product():
    """The contract: a [2, [0, 1], 1] model fitted to x_1·x_2, auto_symbolic → x_1*x_2."""
    ds = _product_dataset()
    m = KAN(width=[2, [0, 1], 1], grid=5, k=3, seed=0)
    m.fit(ds, opt="LBFGS", steps=50)
    m.auto_symbolic()
    m.fit(ds, opt="LBFGS", steps=50)
    x1, x2 = sympy.symbols("x_1 x_2", real=True)
    (expr,) = symbolic_formula(m)
    assert sympy.simplify(expr - x1 * x2) == 0, expr
    assert expr.count_ops() <= 2


def test_mult_nodes_prune_shrink_and_restore():
    ds = _product_dataset()
    m = KAN(width=[2, [2, 2], 1], grid=5, k=3, seed=1)
    m.fit(ds, opt="LBFGS", steps=30, lamb=0.01)
    x = ds["test_input"]
    # a mult node is prunable: its factors' edges go, restore brings exactly them back
    before = [layer.mask.clone() for layer in m.layers]
    m.prune_node(1, 2)
    assert m.node_state(1, 2) == "pruned"
    assert m.layers[0].mask[:, 2:4].sum() == 0 and m.layers[1].mask[2].sum() == 0
    m.restore_node(1, 2)
    for a, b in zip(before, m.layers, strict=True):
        assert torch.equal(a, b.mask)
    # shrinking removes whole mult nodes and keeps the function of what stays
    m.prune_node(1, 0)
    m.prune_node(1, 3)
    with torch.no_grad():
        want = m(x)
    small = m.prune(node_th=0.0, edge_th=0.0)
    assert small.width == [[2, 0], [1, 1], [1, 0]], small.width
    assert small.width_out == [2, 3, 1]
    with torch.no_grad():
        torch.testing.assert_close(small(x), want, rtol=1e-5, atol=1e-6)


def test_refine_and_update_grid_keep_the_function_with_mult_nodes():
    case = torch.load(FIXTURE, weights_only=True)[0]
    m = _from_pykan(case)
    x = case["x"]
    m.set_reference_input(x)
    with torch.no_grad():
        want = m(x)
        fine = m.refine(10)
        assert fine.grid == 10
        torch.testing.assert_close(fine(x), want, rtol=2e-2, atol=2e-2)
    m.update_grid(x)  # grids adapt to the node values each layer reads (not subnodes)
    assert m.layers[1].grid.shape[0] == 5


def test_save_load_and_formula_with_mult_nodes(tmp_path):
    m = KAN(width=[2, [1, 1], 1], mult_arity=2, seed=2)
    x = torch.rand(50, 2) * 2 - 1
    m.set_reference_input(x)
    for i, j in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]:
        m.fix_symbolic(0, i, j, "x")
    for i in range(2):
        m.fix_symbolic(1, i, 0, "x")
    path = tmp_path / "m.kan"
    m.save(path)
    back = KAN.load(path)
    assert back.width == m.width and back.width_out == m.width_out
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x))
    (expr,) = symbolic_formula(back)
    # a product of two sums appears: the mult node's value times its output edge
    assert any(
        isinstance(t, sympy.Mul) and len(t.atoms(sympy.Add)) >= 1
        for t in sympy.Add.make_args(sympy.expand(expr, mul=False))
    )
    f = sympy.lambdify(sympy.symbols("x_1 x_2", real=True), expr)
    got = torch.tensor([float(f(*row)) for row in x.tolist()])
    with torch.no_grad():
        torch.testing.assert_close(got, m(x).flatten().double().float(), rtol=1e-3, atol=1e-3)
