"""``model.tree()``: the modular structure of a function read off its gradients (KAN 2.0 §4.3,
pykan 0.2.8's ``plot_tree``), as data plus an optional matplotlib drawing.

A group of inputs ``A`` is a *module* when ``f`` depends on ``x_A`` only through one function
``g(x_A)``: then the direction of ``∇_A f`` does not change with the other inputs ``x_B``. The
test: the median over the samples of ``|∂(∇_A f / |∇_A f|)/∂x_B| · σ_A · σ_B`` stays below
``sym_th``. Inputs are merged greedily, level by level, into ever larger modules (pykan's
agglomeration), and each top-level split is tested for being additive (``∂²f/∂x_A∂x_B = 0``) or
multiplicative (the same for ``log|f|``). pykan also tests "general separability" (``GS``);
kan_core does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Tree", "tree"]


@dataclass
class Tree:
    """``levels[0]`` the single inputs, each next level their groups (in input order), the last
    all inputs; ``arities[l][k]``: how many groups of level ``l`` make group ``k`` of level
    ``l + 1``; ``properties[l][k]``: ``"Id"`` (one part), ``"Add"``, ``"Mul"`` or ``""``."""

    levels: list[list[list[int]]]
    arities: list[list[int]] = field(default_factory=list)
    properties: list[list[str]] = field(default_factory=list)
    figure: object = None  # the drawing (matplotlib), when matplotlib is installed


def _grad(f, x, create_graph=True) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = f(x)
        (g,) = torch.autograd.grad(y.sum(), x, create_graph=create_graph)
    return x, y, g


def _dependence(f, x, group: list[int]) -> float:
    """Largest median of ``|∂(normalised ∇_A f)/∂x_B| σ_A σ_B`` over ``a ∈ A, b ∈ B``."""
    rest = [i for i in range(x.shape[1]) if i not in group]
    if not rest or not group:
        return 0.0
    xg, _, g = _grad(f, x)
    with torch.enable_grad():
        ga = g[:, group]
        gn = ga / (ga.norm(dim=1, keepdim=True) + 1e-6)
        std = x.std(0)
        worst = 0.0
        for n, a in enumerate(group):
            (h,) = torch.autograd.grad(gn[:, n].sum(), xg, retain_graph=True, allow_unused=True)
            if h is None:
                continue
            d = (h.detach()[:, rest] * std[a] * std[rest]).abs().median(0).values
            worst = max(worst, float(d.max()))
    return worst


def _cross(f, x, a: list[int], b: list[int], log: bool) -> float:
    """Median ``|∂²F/∂x_a∂x_b| σ_a σ_b`` (largest over the pairs), ``F = f`` or ``log|f|``,
    relative to the spread of ``F``'s first derivatives."""
    g_of = (lambda z: torch.log(f(z).abs() + 1e-12)) if log else f
    xg, _, g = _grad(g_of, x)
    std = x.std(0)
    scale = float((g.detach().abs() * std).median(0).values.max()) + 1e-12
    worst = 0.0
    with torch.enable_grad():
        for i in a:
            (h,) = torch.autograd.grad(g[:, i].sum(), xg, retain_graph=True, allow_unused=True)
            if h is not None:
                d = (h.detach()[:, b] * std[i] * std[b]).abs().median(0).values
                worst = max(worst, float(d.max()))
    return worst / scale


def _levels(f, x, sym_th: float) -> list[list[list[int]]]:
    n = x.shape[1]
    levels = [[[i] for i in range(n)]]
    while len(levels[-1]) > 1:
        atoms, merged = list(levels[-1]), []
        while atoms:
            group = list(atoms.pop(0))
            for atom in list(atoms):
                if len(group) + len(atom) < n and _dependence(f, x, group + atom) < sym_th:
                    group += atom
                    atoms.remove(atom)
            merged.append(sorted(group))
        if len(merged) == len(levels[-1]):  # nothing merged: the rest meet at the top
            merged = [sorted(i for g in merged for i in g)]
        levels.append(sorted(merged))
    return levels


def tree(f, x, in_var=None, style="tree", sym_th=1e-3, sep_th=1e-1, skip_sep_test=False) -> Tree:
    """The module tree of ``f`` (a model or any differentiable ``(batch, n) → (batch, 1)``
    function) on the samples ``x``; drawn when matplotlib is installed."""
    if style not in ("tree", "box"):
        raise ValueError(f"style must be 'tree' or 'box', got {style!r}")
    levels = _levels(f, x, sym_th)
    out = Tree(levels)
    for l in range(len(levels) - 1):
        arity = [sum(1 for g in levels[l] if set(g) <= set(parent)) for parent in levels[l + 1]]
        props = []
        for parent, k in zip(levels[l + 1], arity, strict=True):
            prop = "Id" if k == 1 else ""
            if k == 2 and l == len(levels) - 2 and not skip_sep_test:
                a, b = [g for g in levels[l] if set(g) <= set(parent)]
                if _cross(f, x, a, b, log=False) < sep_th:
                    prop = "Add"
                elif _cross(f, x, a, b, log=True) < sep_th:
                    prop = "Mul"
            props.append(prop)
        out.arities.append(arity)
        out.properties.append(props)
    out.figure = _draw(out, in_var, style)
    return out


def _draw(t: Tree, in_var, style):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = (
        [str(v) for v in in_var] if in_var is not None else [f"x_{i + 1}" for (i,) in t.levels[0]]
    )
    n, depth = len(t.levels[0]), len(t.levels) - 1
    fig, ax = plt.subplots(figsize=(max(3, 0.8 * n), 1.2 * depth + 1))
    pos = {i: (i + 0.5) / n for i in range(n)}

    def centre(group):
        return sum(pos[i] for i in group) / len(group)

    for l, level in enumerate(t.levels):
        for k, group in enumerate(level):
            cx = centre(group)
            if l == 0:
                ax.text(cx, -0.3, f"${names[group[0]]}$", ha="center", va="center")
            else:
                label = t.properties[l - 1][k] if l - 1 < len(t.properties) else ""
                if style == "box":
                    lo, hi = min(pos[i] for i in group), max(pos[i] for i in group)
                    ax.add_patch(plt.Rectangle((lo - 0.4 / n, l - 0.2), hi - lo + 0.8 / n, 0.4,
                                               fill=False))  # fmt: skip
                ax.text(cx, l, label, ha="center", va="center", fontsize=8)
                for child in t.levels[l - 1]:
                    if set(child) <= set(group):
                        ax.plot([centre(child), cx], [l - 1, l], color="black", lw=1)
            ax.scatter([cx], [l], color="black", s=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, depth + 0.4)
    ax.axis("off")
    return fig
