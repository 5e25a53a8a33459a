"""``model.plot()``: the network drawn as pykan 0.2.8 draws it, as a matplotlib figure.

Nodes are dots on rows (inputs at the bottom); every edge gets a small axes half-way up its layer
with the edge's function on the data (red: symbolic, black: spline), joined by lines to its input
node and to the sum (``+``) where it ends; a mult node (``×``) joins its factors. Each edge's
opacity is ``tanh(beta · score)``. pykan renders each curve to a PNG in ``folder`` and pastes the
images; here the curves are drawn straight into the figure and nothing is written. matplotlib is
optional: it is imported only here.
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

__all__ = ["plot", "plot_mlp"]

_Y0, _Z0 = 0.3, 0.1  # a layer's height: input → sum, sum → next layer's nodes


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plot() needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    return plt


@torch.no_grad()
def _edge_data(model, x):
    """Per layer: node inputs ``(batch, in)``, edge values ``(batch, in, out)``, and the scores
    ``(out, in)`` of pykan's three metrics."""
    from .attribution import attribute

    nodes = model.layer_inputs(x)
    acts = [layer.edge_activations(nodes[l]) for l, layer in enumerate(model.layers)]
    edge_std = [a.std(0).T for a in acts]
    scores = {
        "backward": attribute(model, x)[1],
        "forward_u": edge_std,
        "forward_n": [s / (nodes[l].std(0)[None, :] + 0.1) for l, s in enumerate(edge_std)],
    }
    return nodes, acts, scores


def _label(v) -> str:
    return f"${sympy.latex(v)}$" if isinstance(v, sympy.Basic) else str(v)


def plot(model, folder="./figures", beta=3, metric="backward", scale=0.5, tick=False,
         sample=False, in_vars=None, out_vars=None, title=None, varscale=1.0, x=None):  # fmt: skip
    """The figure (``folder`` is accepted and unused: nothing is written). ``x``: the data the
    curves and scores are computed on (default: the reference input, else the last forward's)."""
    del folder
    plt = _plt()
    try:
        x = model._x(x)
    except ValueError:
        raise ValueError("the model has not seen any data yet: run model(x) or pass x") from None
    nodes, acts, scores = _edge_data(model, x)
    if metric not in scores:
        raise ValueError(f"metric must be one of {sorted(scores)}, got {metric!r}")
    alpha = [np.tanh(beta * s.detach().cpu().numpy()) for s in scores[metric]]
    w_in, w_out, depth = model.width_in, model.width_out, model.depth
    y1 = 0.4 / max(max(a * b for a, b in zip(w_in[:-1], w_out[1:], strict=True)), 5)
    y2 = 0.15 / max(max(w_out), 5)
    spacing = 1.0 / max(max(w_out), 5)
    fig, ax = plt.subplots(figsize=(10 * scale, 10 * scale * depth * (_Y0 + _Z0)))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.1 * (_Y0 + _Z0), (depth + 0.1) * (_Y0 + _Z0))
    ax.axis("off")
    for l in range(depth + 1):
        n = w_in[l]
        ax.scatter([(i + 0.5) / n for i in range(n)], [l * (_Y0 + _Z0)] * n,
                   s=spacing**2 * 10000 * scale**2, color="black")  # fmt: skip
    to_fig = fig.transFigure.inverted().transform
    for l, layer in enumerate(model.layers):
        _draw_layer(model, fig, ax, to_fig, l, layer, nodes[l], acts[l], alpha[l], y1, y2, scale,
                    tick, sample)  # fmt: skip
    top = (_Y0 + _Z0) * depth
    size = 40 * scale * varscale
    for names, y in ((in_vars, -0.1), (out_vars, top + 0.15)):
        if names is not None:
            n = len(names)
            for i, v in enumerate(names):
                ax.text((i + 0.5) / n, y, _label(v), fontsize=size, ha="center", va="center")
    if title is not None:
        ax.text(0.5, top + 0.3, str(title), fontsize=40 * scale, ha="center", va="center")
    return fig


def _draw_layer(model, fig, ax, to_fig, l, layer, h, act, alpha, y1, y2, scale, tick, sample):
    n, n_next = layer.in_dim, layer.out_dim
    base = l * (_Y0 + _Z0)
    N = n * n_next
    lay = model.layouts[l + 1]
    order = torch.argsort(h, dim=0)
    for i in range(n):
        for j in range(n_next):
            slot = (i * n_next + j + 0.5) / N
            live = bool(layer.mask[i, j] > 0)
            color = ("red" if layer.sym_mask[i, j] > 0 else "black") if live else "white"
            a = float(np.clip(alpha[j, i], 0, 1)) if live else 0.0
            ax.plot([(i + 0.5) / n, slot], [base, base + _Y0 / 2 - y1], color=color,
                    lw=2 * scale, alpha=a)  # fmt: skip
            ax.plot([slot, (j + 0.5) / n_next], [base + _Y0 / 2 + y1, base + _Y0], color=color,
                    lw=2 * scale, alpha=a)  # fmt: skip
            (left, bottom), (right, up) = (
                to_fig(ax.transData.transform(p))
                for p in ((slot - y1, base + _Y0 / 2 - y1), (slot + y1, base + _Y0 / 2 + y1))
            )
            box = fig.add_axes((left, bottom, right - left, up - bottom))
            box.set_label(f"edge {l},{i},{j}")
            xs, ys = h[order[:, i], i].numpy(), act[order[:, i], i, j].numpy()
            box.plot(xs, ys, color=color, lw=5 * scale, alpha=a)
            if sample:
                box.scatter(xs, ys, color=color, s=400 * scale**2, alpha=a)
            if tick:
                box.set_xticks([xs.min(), xs.max()])
                box.set_yticks([ys.min(), ys.max()])
            else:
                box.set_xticks([])
                box.set_yticks([])
            box.patch.set_alpha(0)
            for spine in box.spines.values():
                spine.set_alpha(a)
    subs = lay.sub_to_node()
    for s in range(n_next):  # each subnode (a sum) to its node
        px = (s + 0.5) / n_next
        ax.text(px, base + _Y0, "+", ha="center", va="center", fontsize=max(6, 400 * y2 * scale))
        ax.plot([px, (subs[s] + 0.5) / lay.n_nodes], [base + _Y0, base + _Y0 + _Z0],
                color="black", lw=2 * scale)  # fmt: skip
    for m in range(lay.n_sum, lay.n_nodes):
        ax.text((m + 0.5) / lay.n_nodes, base + _Y0 + _Z0, "×", ha="center", va="center",
                fontsize=max(6, 600 * y2 * scale), color="white",
                bbox={"boxstyle": "circle", "fc": "black"})  # fmt: skip


def plot_mlp(model, beta=3, scale=1.0, metric="w"):
    """pykan's ``MLP.plot``: nodes as dots, each weight a line (blue positive, red negative)
    with opacity ``tanh(beta·|w|)`` (``metric``: ``"w"`` weights, ``"act"`` weights × input
    std, ``"fa"`` attribution)."""
    plt = _plt()
    if metric == "fa":
        model.attribute()
    sources = {"w": "w", "act": "wa_forward", "fa": "wa_backward"}
    if metric not in sources:
        raise ValueError(f"metric must be one of {sorted(sources)}, got {metric!r}")
    if metric != "w" and model.acts is None:
        model.get_act()
    mats = getattr(model, sources[metric])
    y0, width = 0.5, model.width
    fig, ax = plt.subplots(figsize=(3 * scale, 3 * y0 * model.depth * scale))
    spacing = 1 / max(width)
    for l, n in enumerate(width):
        ax.scatter([(i + 0.5) / n for i in range(n)], [l * y0] * n,
                   s=spacing**2 * 5000 * scale**2, color="black")  # fmt: skip
    for l, p in enumerate(mats):
        p = p.detach().cpu().numpy()
        n_out, n_in = p.shape
        for i in range(n_out):
            for j in range(n_in):
                ax.plot([(i + 0.5) / n_out, (j + 0.5) / n_in], [y0 * (l + 1), y0 * l],
                        lw=0.5 * scale, alpha=float(np.tanh(beta * abs(p[i, j]))),
                        color="blue" if p[i, j] > 0 else "red")  # fmt: skip
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.1 * y0, y0 * model.depth + 0.1 * y0)
    ax.axis("off")
    return fig
