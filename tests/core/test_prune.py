"""Pruning: scores, the pruned model keeps the output on the kept subnetwork, and the safety net."""

import torch

from kan_core import KAN, create_dataset


def sparse_model():
    """[2,3,1] where only hidden node 0 matters: the others' output edges are ~zero."""
    m = KAN([2, 3, 1], seed=0)
    with torch.no_grad():
        m.layers[1].coef[1:] *= 1e-4
        m.layers[1].scale_base[1:] *= 1e-4
    return m


def test_prune_shrinks_and_keeps_output_on_kept_subnetwork():
    m = sparse_model()
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    m.set_reference_input(x)
    pruned = m.prune()
    assert pruned.width == [2, 1, 1]
    # identical to the original with the pruned edges masked out
    masked = m.apply_prune(m.prune_plan(), shrink=False)
    assert torch.allclose(pruned(x), masked(x), atol=1e-6)
    assert (pruned(x) - m(x)).abs().max() < 1e-3


def test_scores_follow_pykan_attribution():
    m = KAN([2, 3, 1], seed=0)
    x = torch.rand(100, 2, generator=torch.Generator().manual_seed(0))
    edges, nodes = m.edge_scores(x), m.node_scores(x)
    assert torch.allclose(nodes[-1], torch.ones(1))
    acts1 = m.layers[1].edge_activations(m.layer_inputs(x)[1])
    expect = acts1.std(0) / (m(x).std(0) + 1e-4)
    assert torch.allclose(edges[1], expect, atol=1e-6)
    assert torch.allclose(nodes[1], edges[1].sum(1))


def test_prune_never_silently_cuts_a_useful_input():
    # y depends on both inputs, but x_2's edges get scores just under the threshold
    ds = create_dataset(lambda x: x[:, :1] + 0.05 * x[:, 1:], 2, (-1, 1), 200, 10, 0)
    m = KAN([2, 2, 1], seed=0)
    m.fit(ds, steps=10)
    plan = m.prune_plan(node_th=1e-2, edge_th=0.5)
    reach = plan.edge_masks
    from kan_core.prune import reachability

    r = reachability(reach)
    assert r[0].any() and r[1].any(), "both inputs must keep a path"
    assert any("x_2" in w for w in plan.warnings)


def test_manual_prune_warns_on_last_path_and_restore_undoes():
    m = KAN([2, 1], seed=0)
    assert m.prune_edge(0, 0, 0) == ["x_1 no longer reaches the output"]
    assert m.edge_state(0, 0, 0) == "pruned"
    m.restore_edge(0, 0, 0)
    assert m.edge_state(0, 0, 0) == "active"
    warnings = m.prune_node(0, 1)
    assert "x_2 no longer reaches the output" in warnings
    m.restore_node(0, 1)
    assert m.edge_state(0, 1, 0) == "active"


def _masks(m):
    return [layer.mask.clone() for layer in m.layers]


def test_restore_node_brings_back_only_what_prune_node_masked():
    m = KAN([2, 3, 1], seed=0)
    m.prune_edge(0, 0, 0)  # pruned on its own: stays pruned
    m.prune_node(1, 0)
    m.restore_node(1, 0)
    assert m.edge_state(0, 0, 0) == "pruned"
    assert [m.edge_state(0, 1, 0), m.edge_state(1, 0, 0)] == ["active", "active"]
    # neighbours pruned by prune_node stay pruned until restored themselves, then come back whole
    full = KAN([2, 3, 1], seed=0)
    m.restore_edge(0, 0, 0)
    m.prune_node(0, 0)
    m.prune_node(1, 0)
    m.restore_node(1, 0)
    assert m.node_state(0, 0) == "pruned" and m.edge_state(0, 0, 0) == "pruned"
    assert m.edge_state(0, 1, 0) == "active"
    m.prune_node(1, 0)
    m = KAN.from_bytes(m.to_bytes())  # the record travels with the file (the server reloads)
    m.restore_node(1, 0)
    assert m.node_state(0, 0) == "pruned" and m.edge_state(0, 1, 0) == "active"
    m.restore_node(0, 0)
    assert all(bool((a == b).all()) for a, b in zip(_masks(m), _masks(full), strict=True))


def test_pruned_edge_contributes_nothing():
    m = KAN([2, 2, 1], seed=0)
    x = torch.rand(20, 2)
    m.prune_edge(0, 0, 1)
    assert torch.all(m.layers[0].edge_activations(x)[:, 0, 1] == 0)
