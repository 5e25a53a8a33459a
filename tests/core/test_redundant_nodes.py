"""Hidden nodes that share one job are merged before snapping (kan_core.redundant): the node goes
when a refit of the rest reproduces the network; a node doing a real second term stays."""

import pytest
import sympy
import torch

from kan_core import KAN, dataset_from_formula, symbolic_formula
from kan_core.prune import node_scores
from kan_core.redundant import (
    NODE_DROP_NRMSE,
    _live_hidden_nodes,
    _refit_error,
    drop_redundant_nodes,
)
from kan_core.ties import network_target


def _fitted(width, fn, lo, hi, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(512, width[0], generator=g) * (hi - lo) + lo
    ds = {"train_input": x, "train_label": fn(x), "test_input": x, "test_label": fn(x)}
    m = KAN(width=width, grid=5, k=3, seed=seed)
    m.fit(ds, opt="LBFGS", steps=40)
    return m, x


def test_a_node_sharing_the_job_is_dropped_and_the_network_unchanged():
    m, x = _fitted([1, 2, 1], lambda x: torch.sin(2 * x), -1, 1)
    scores = node_scores(m, x)[1]
    assert float(scores.min()) > 0.05  # the premise: both nodes carry weight
    target = network_target(m, x)
    dropped = drop_redundant_nodes(m, target)
    assert len(dropped) == 1
    assert len(_live_hidden_nodes(m)) == 1
    with torch.no_grad():
        err = (m(target[0]) - target[1]).pow(2).mean().sqrt() / target[1].std()
    assert float(err) < NODE_DROP_NRMSE
    assert (1, dropped[0][1]) in m.pruned_nodes  # as prune_node records it (restorable)


def test_a_node_doing_a_real_second_term_stays():
    # x₁x₂ on [-1, 1]² is not a function of one sum: a sum-KAN needs two hidden nodes
    m, x = _fitted([2, 2, 1], lambda x: x[:, :1] * x[:, 1:], -1, 1)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    assert drop_redundant_nodes(m, network_target(m, x)) == []
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_a_node_with_an_edge_left_numeric_or_snapped_stays():
    m, x = _fitted([1, 2, 1], lambda x: torch.sin(2 * x), -1, 1)
    both = m.copy()
    both.fix_symbolic(0, 0, 0, "x")  # someone's choice on node (1, 0)
    m.auto_symbolic(r2_threshold=0.0, exclude=[(1, 1, 0)])  # node (1, 1) left numeric
    assert _live_hidden_nodes(m) == [(1, 1)]  # the other one may go, and does
    both.auto_symbolic(exclude=[(1, 1, 0)])
    assert len(_live_hidden_nodes(both)) == 2


def test_merge_nodes_false_keeps_every_node_as_pykan():
    m, x = _fitted([1, 2, 1], lambda x: torch.sin(2 * x), -1, 1)
    with pytest.raises(TypeError, match="merge_nodes"):
        m.auto_symbolic(merge_nodes="no")
    m.auto_symbolic(merge_nodes=False)
    assert len(_live_hidden_nodes(m)) == 2


def test_auto_symbolic_with_a_threshold_still_merges():
    m, x = _fitted([1, 2, 1], lambda x: torch.sin(2 * x), -1, 1)
    m.auto_symbolic(r2_threshold=0.9)
    assert len(_live_hidden_nodes(m)) == 1


def test_the_recipe_reads_a_product_split_over_two_nodes_as_one():
    # bench_feynman case 18: after the first fit two hidden nodes share sqrt(x₁/x₂) (node
    # scores 0.41 and 0.80); without the merge the formula was a tan/tanh mixture
    ds = dataset_from_formula(
        "sqrt(x_1/x_2)", ranges=[[1, 5], [1, 5]], train_num=1000, test_num=1000, seed=0
    )
    m = KAN([2, 2, 1], grid=5, k=3, seed=1)
    m.fit(ds, opt="LBFGS", steps=50, lamb=0.002, scale_aware=True)
    m = m.prune()
    assert m.width == [2, 2, 1]  # the premise: pruning keeps both
    m.fit(ds, opt="LBFGS", steps=50, scale_aware=True)
    m = m.refine(10)
    m.fit(ds, opt="LBFGS", steps=50, scale_aware=True)
    m.auto_symbolic()
    m.fit(ds, opt="LBFGS", steps=50, scale_aware=True)
    x1, x2 = sympy.symbols("x_1 x_2", real=True, positive=True)
    expr = symbolic_formula(m)[0]
    expr = expr.subs({s: {"x_1": x1, "x_2": x2}[s.name] for s in expr.free_symbols})
    assert sympy.simplify(expr - sympy.sqrt(x1 / x2)) == 0, expr


def test_each_output_is_judged_on_its_own_spread():
    # output 0 large and easy, output 1 tiny and beyond the model (a fast wiggle): together the
    # error is ~1e-4 of the spread, but output 1 alone is not reproduced at all
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    y = torch.cat([100 * x, 1e-3 * torch.sin(60 * x)], 1)
    m = KAN(width=[1, 1, 2], grid=3, k=3, seed=0)
    data = {"train_input": x, "train_label": y, "test_input": x, "test_label": y}
    assert float((y[:, 1] - y[:, 1].mean()).norm() / (y - y.mean()).norm()) < 1e-4  # premise
    assert _refit_error(m, data, y.std(0)) > NODE_DROP_NRMSE
