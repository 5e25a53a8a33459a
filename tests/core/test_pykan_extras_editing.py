"""Structural edits with pykan's names (kan_core.editing): expand_depth/expand_width keep the
function, perturb switches on the edges pykan does (fixture from pykan 0.2.8), set_mode,
remove_node/remove_edge, swap/auto_swap."""

from pathlib import Path

import pytest
import sympy
import torch

from kan_core import KAN, kanpiler
from kan_core.editing import connection_cost

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_mlp_extras.pt"
GEN = torch.Generator().manual_seed(3)
X = torch.rand(200, 2, generator=GEN) * 2 - 1
a, b = sympy.symbols("a b")


def _trained(width=(2, 4, 3, 1), seed=1):
    m = KAN(width=list(width), grid=5, k=3, seed=seed, noise_scale=1.0)
    with torch.no_grad():  # non-trivial splines without training
        for layer in m.layers:
            layer.coef.add_(torch.randn(layer.coef.shape, generator=GEN) * 0.5)
            layer.invalidate()
    m.set_reference_input(X)
    return m


def _out(m, x=X):
    with torch.no_grad():
        return m(x)


def test_expand_keeps_the_function_and_places_nodes_as_pykan():
    m = _trained()
    y = _out(m)
    m.expand_width(1, 2)  # two sum nodes, in front
    assert m.width == [2, 6, 3, 1]
    torch.testing.assert_close(_out(m), y)
    assert m.edge_state(0, 0, 2) == "active"  # the old node 0 is node 2 now, spline kept
    assert m.layers[0].sym_funs[(0, 0)] == "0"  # new edges: the symbolic zero
    m.expand_width(2, 2, sum_bool=False, mult_arity=[2, 3])  # mult nodes, at the end
    assert m.width == [[2, 0], [6, 0], [3, 2], [1, 0]] and m.width_out[2] == 8
    torch.testing.assert_close(_out(m), y)
    m.expand_depth()
    assert m.width[-1] == [1, 0] and m.depth == 4
    torch.testing.assert_close(_out(m), y)
    assert m.symbolic_fit(3, 0, 0).name == "x"
    with pytest.raises(IndexError, match="hidden node layer"):
        m.expand_width(0, 1)
    with pytest.raises(ValueError, match="arities"):
        m.expand_width(1, 2, sum_bool=False, mult_arity=[2])


@pytest.mark.parametrize("mode", ["all", "non-intrusive", "minimal"])
def test_perturb_switches_on_pykans_edges(mode):
    want = torch.load(FIXTURE, weights_only=True)
    m = kanpiler([a, b], sympy.exp(sympy.sin(sympy.pi * a) + b**2))
    m.expand_width(1, 1)
    assert [w if isinstance(w, list) else [w, 0] for w in m.width] == want["perturb_width"]
    live = [
        {(i, j) for (i, j), f in layer.sym_funs.items() if f != "0"} for layer in m.layers
    ]  # the compiled tree's edges
    y = _out(m)
    m.perturb(mag=0.1, mode=mode)
    for l, (layer, masks) in enumerate(zip(m.layers, want["perturb"][mode], strict=True)):
        for i, j in ((i, j) for i in range(layer.in_dim) for j in range(layer.out_dim)):
            if (i, j) in live[l] or masks[i, j] == 0:  # live symbolic edges stay as they are
                assert m.edge_state(l, i, j) == "symbolic", (mode, l, i, j)
            else:
                assert m.edge_state(l, i, j) == "active" and layer.mask[i, j] == masks[i, j]
    if mode == "minimal":
        torch.testing.assert_close(_out(m), y)  # (pykan's minimal only touches live edges)
    with pytest.raises(ValueError, match="mode must be one of"):
        m.perturb(mode="some")


def test_set_mode_switches_and_remembers_the_symbolic_function():
    m = _trained((2, 3, 1))
    m.fix_symbolic(0, 1, 0, "x^2")
    fit = m.symbolic_fit(0, 1, 0)
    m.set_mode(0, 1, 0, "n")
    assert m.edge_state(0, 1, 0) == "active"
    m.set_mode(0, 1, 0, "s")
    assert m.symbolic_fit(0, 1, 0) == fit
    m.set_mode(0, 0, 0, "s")  # never symbolic: pykan's default symbolic function, zero
    assert m.symbolic_fit(0, 0, 0).name == "0"
    with pytest.warns(UserWarning, match="not both"):
        m.set_mode(0, 1, 0, "ns")
    assert m.symbolic_fit(0, 1, 0) == fit
    m.set_mode(0, 1, 0, "off")
    assert m.edge_state(0, 1, 0) == "pruned"


def test_remove_node_and_edge():
    m = _trained()
    m.remove_edge(0, 0, 1)
    assert m.edge_state(0, 0, 1) == "pruned"
    m.remove_node(1, 2, mode="up")
    assert all(m.edge_state(1, 2, j) == "pruned" for j in range(3))
    assert m.edge_state(0, 1, 2) == "active"
    m.remove_node(2, 0, mode="down")
    assert all(m.edge_state(1, i, 0) == "pruned" for i in range(4))
    m.remove_node(1, 3)
    assert m.node_state(1, 3) == "pruned"
    m.restore_node(1, 3)  # "all" goes through prune_node: restorable
    assert m.node_state(1, 3) == "active"
    with pytest.raises(ValueError, match="mode"):
        m.remove_node(1, 0, mode="sideways")


def test_swap_and_auto_swap_keep_the_function():
    m = _trained((2, 5, 4, 1))
    y = _out(m)
    before = [layer.coef.clone() for layer in m.layers]
    m.swap(1, 0, 3)
    torch.testing.assert_close(_out(m), y)
    torch.testing.assert_close(m.layers[0].coef[:, 0], before[0][:, 3])
    torch.testing.assert_close(m.layers[1].coef[3], before[1][0])
    cost = float(m.connection_cost)
    m.auto_swap()
    torch.testing.assert_close(_out(m), y, rtol=1e-5, atol=1e-6)
    assert float(m.connection_cost) <= cost + 1e-9
    mm = KAN(width=[2, [1, 2], 1], seed=0)
    mm.set_reference_input(X)
    y = _out(mm)
    mm.swap(1, 1, 2)  # two mult nodes of arity 2
    torch.testing.assert_close(_out(mm), y)
    with pytest.raises(ValueError, match="kind or arity"):
        mm.swap(1, 0, 1)


def test_connection_cost_by_hand():
    t = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])  # (out 3, in 2)
    pos_out, pos_in = [1 / 6, 1 / 2, 5 / 6], [1 / 4, 3 / 4]
    want = 1 * abs(pos_out[0] - pos_in[0]) + 2 * abs(pos_out[1] - pos_in[1])
    want += 3 * abs(pos_out[2] - pos_in[0])
    assert float(connection_cost([t])) == pytest.approx(want)


def test_module_masks_the_edges_between_a_module_and_the_rest():
    m = _trained((2, 4, 3, 1))
    m.module(0, "[0]->[1,-1]->[1,3]->[2]")
    m0, m1 = m.layers[0].mask, m.layers[1].mask
    assert m0[1, 1] == 0 and m0[1, 3] == 0 and m0[0, 0] == 0 and m0[0, 2] == 0  # crossing
    assert m0[0, 1] == 1 and m0[0, 3] == 1 and m0[1, 0] == 1  # inside, or outside both ways
    assert m1[0, 2] == 0 and m1[1, 0] == 0 and m1[1, 2] == 1 and m1[0, 0] == 1
    with pytest.raises(ValueError, match="pairs"):
        m.module(0, "[0]->[1]->[2]")
    with pytest.raises(IndexError, match="out of range"):
        m.module(0, "[5]->[1]")
