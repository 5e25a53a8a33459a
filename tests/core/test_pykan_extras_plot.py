"""model.plot() / MLP.plot() (kan_core.plot): a matplotlib figure laid out as pykan's — one
small axes per edge holding that edge's curve, labels and title where pykan puts them."""

import pytest
import sympy
import torch

from kan_core import KAN, MLP, kanpiler

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

X = torch.rand(100, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _edge_axes(fig) -> dict:
    return {ax.get_label(): ax for ax in fig.axes if ax.get_label().startswith("edge ")}


def test_one_axes_per_edge_with_its_curve_and_colours():
    m = KAN(width=[2, 3, 1], seed=0)
    m.set_reference_input(X)
    m.fix_symbolic(0, 1, 2, "sin")
    m.prune_edge(1, 0, 0)
    fig = m.plot(beta=100)
    boxes = _edge_axes(fig)
    assert set(boxes) == {f"edge {l},{i},{j}" for l, i, j in m.edges()}
    acts = m.activations(X)
    for l, i, j in m.edges():
        (line,) = boxes[f"edge {l},{i},{j}"].get_lines()
        xs, ys = line.get_data()
        assert len(xs) == X.shape[0] and (xs[1:] >= xs[:-1]).all()  # sorted by input
        want = acts[l][:, i, j][torch.argsort(m.layer_inputs(X)[l][:, i])]
        torch.testing.assert_close(torch.as_tensor(ys), want, rtol=1e-5, atol=1e-6)
    assert boxes["edge 0,1,2"].get_lines()[0].get_color() == "red"  # symbolic
    assert boxes["edge 0,0,0"].get_lines()[0].get_color() == "black"  # spline
    assert boxes["edge 1,0,0"].get_lines()[0].get_alpha() == 0  # pruned: invisible
    plt.close(fig)


def test_labels_title_mult_nodes_and_metrics():
    m = KAN(width=[2, [1, 2], 1], seed=1)
    m(X)  # pykan's way: the figure uses the last forward's data
    alpha = sympy.Symbol("alpha")
    fig = m.plot(in_vars=[alpha, "x"], out_vars=["y"], title="My KAN", scale=0.3)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"$\\alpha$", "x", "y", "My KAN", "×"} <= set(texts)
    assert texts.count("×") == 2 and texts.count("+") == m.width_out[1] + m.width_out[2]
    top = max(t.get_position()[1] for t in fig.axes[0].texts if t.get_text() == "My KAN")
    ys = {t.get_text(): t.get_position()[1] for t in fig.axes[0].texts}
    assert ys["$\\alpha$"] < 0 < ys["y"] < top  # inputs below, outputs above, title on top
    for metric in ("forward_n", "forward_u"):
        plt.close(m.plot(metric=metric))
    with pytest.raises(ValueError, match="metric"):
        m.plot(metric="sideways")
    plt.close(fig)


def test_compiled_model_and_mlp_plot():
    a, b = sympy.symbols("a b")
    m = kanpiler([a, b], a * b + sympy.sin(b))
    m(X)
    fig = m.plot(beta=10000)
    assert len(_edge_axes(fig)) == len(list(m.edges()))
    plt.close(fig)
    with pytest.raises(ValueError, match="not seen any data"):
        KAN(width=[2, 1], seed=0).plot()
    mlp = MLP([2, 3, 1], seed=0)
    mlp(X)
    for metric in ("w", "act", "fa"):
        fig = mlp.plot(metric=metric)
        assert len(fig.axes[0].get_lines()) == 2 * 3 + 3 * 1
        plt.close(fig)
