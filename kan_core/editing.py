"""Structural edits of a model with pykan 0.2.8's semantics: add layers or nodes, switch edges
between their spline and symbolic forms, perturb a compiled model, remove and swap nodes.

kan_core's edge is spline *or* symbolic (``layer.sym_mask``), pykan's can be both at once; where
pykan would add a spline to a live symbolic edge, the edge stays symbolic here (see
docs/porting_pykan.md). New edges are the symbolic zero function, as pykan makes them, so every
edit except ``perturb``/``set_mode`` leaves the model's function unchanged.
"""

from __future__ import annotations

import warnings

import torch

from .layer import KANLayer
from .mult import NodeLayout
from .symbolic import symbolic_fit, unfix_symbolic

__all__ = [
    "connection_cost",
    "expand_depth",
    "expand_width",
    "perturb",
    "remove_node",
    "set_mode",
    "swap",
]


def _set_sym(layer: KANLayer, i: int, j: int, name: str, abcd=(1.0, 0.0, 1.0, 0.0), r2=1.0):
    """Make edge ``(i, j)`` of ``layer`` the symbolic ``c·name(a·x + b) + d`` (call
    ``layer.invalidate()`` after the last one)."""
    layer.sym_mask[i, j] = 1.0
    layer.sym_funs[(i, j)] = name
    layer.sym_r2[(i, j)] = float(r2)
    with torch.no_grad():
        layer.affine[i, j] = torch.tensor(abcd, dtype=layer.affine.dtype)


def _fresh(model, n_in: int, n_out: int, like: KANLayer) -> KANLayer:
    """A new layer whose every edge is the symbolic zero function."""
    cfg = model.config
    gen = torch.Generator().manual_seed(cfg.seed)
    new = KANLayer(n_in, n_out, like.num, like.k, cfg.grid_range, like.base_fun_name,
                   cfg.noise_scale, gen).to(like.packed.dtype)  # fmt: skip
    for i in range(n_in):
        for j in range(n_out):
            _set_sym(new, i, j, "0")
    new.invalidate()
    return new


def _embed(model, old: KANLayer, n_in: int, n_out: int, in_pos, out_pos) -> KANLayer:
    """``old``'s edges placed at rows ``in_pos`` / columns ``out_pos`` of a bigger layer."""
    new = _fresh(model, n_in, n_out, old)
    ii = torch.tensor(in_pos, dtype=torch.long)
    jj = torch.tensor(out_pos, dtype=torch.long)
    with torch.no_grad():
        new.grid[ii] = old.grid
        new.packed[jj[:, None, None], torch.arange(old.packed.shape[1])[None, :, None], ii] = (
            old.packed.detach()
        )
        for name in ("mask", "sym_mask"):
            getattr(new, name)[ii[:, None], jj] = getattr(old, name)
    for i, j in [(i, j) for i in in_pos for j in out_pos]:
        new.sym_funs.pop((i, j), None)
        new.sym_r2.pop((i, j), None)
    new.sym_funs.update({(in_pos[i], out_pos[j]): f for (i, j), f in old.sym_funs.items()})
    new.sym_r2.update({(in_pos[i], out_pos[j]): r for (i, j), r in old.sym_r2.items()})
    new.invalidate()
    return new


def _set_layouts(model, layouts) -> None:
    model.layouts = layouts
    arities = {a for lay in layouts for a in lay.arity}
    old = model.config.mult_arity
    if not (isinstance(old, int) and arities <= {old}):
        model.config.mult_arity = [list(lay.arity) for lay in layouts]
    if any(lay.has_mult for lay in layouts):
        model.config.width = [[lay.n_sum, len(lay.arity)] for lay in layouts]
    else:
        model.config.width = [lay.n_nodes for lay in layouts]


def expand_depth(model) -> None:
    """Append a layer of identity edges (every output ``j`` → new output ``j``), in place."""
    n = model.width_in[-1]
    layer = _fresh(model, n, n, model.layers[-1])
    for j in range(n):
        _set_sym(layer, j, j, "x")
    layer.invalidate()
    model.layers.append(layer)
    _set_layouts(model, [*model.layouts, NodeLayout(n)])


def expand_width(model, layer_id, n_added_nodes, sum_bool=True, mult_arity=2) -> None:
    """Add ``n_added_nodes`` nodes to hidden node layer ``layer_id``, in place: sum nodes first
    (before the existing ones, as pykan), mult nodes of ``mult_arity`` (an int, or one per new
    node) last. Their edges are the symbolic zero function."""
    l = int(layer_id)
    if not 0 < l < model.depth:
        raise IndexError(f"layer_id must be a hidden node layer (1 … {model.depth - 1}), got {l}")
    n = int(n_added_nodes)
    if n < 1:
        raise ValueError(f"n_added_nodes must be ≥ 1, got {n_added_nodes!r}")
    lay = model.layouts[l]
    if sum_bool:
        new_lay = NodeLayout(lay.n_sum + n, lay.arity)
        node_pos = [n + i for i in range(lay.n_nodes)]
        sub_pos = [n + s for s in range(lay.n_sub)]
    else:
        arity = [mult_arity] * n if isinstance(mult_arity, int) else list(mult_arity)
        if len(arity) != n:
            raise ValueError(f"mult_arity must give {n} arities, got {mult_arity!r}")
        new_lay = NodeLayout(lay.n_sum, (*lay.arity, *(int(a) for a in arity)))
        node_pos, sub_pos = list(range(lay.n_nodes)), list(range(lay.n_sub))
    before, after = model.layers[l - 1], model.layers[l]
    model.layers[l - 1] = _embed(
        model, before, before.in_dim, new_lay.n_sub, list(range(before.in_dim)), sub_pos
    )
    model.layers[l] = _embed(
        model, after, new_lay.n_nodes, after.out_dim, node_pos, list(range(after.out_dim))
    )
    layouts = list(model.layouts)
    layouts[l] = new_lay
    _set_layouts(model, layouts)
    model.pruned_nodes = {}


_PERTURB = {  # pykan's modes: which edge types get a spline, by (input, output) activity
    "all": {"aa_a", "aa_i", "ai", "ia", "ii"},
    "non-intrusive": {"ai", "ii"},
    "minimal": {"aa_a"},
}


def _active(layer: KANLayer) -> torch.Tensor:
    """``(in, out)`` bool: the edge is a symbolic function other than zero."""
    out = torch.zeros(layer.in_dim, layer.out_dim, dtype=torch.bool)
    for (i, j), name in layer.sym_funs.items():
        out[i, j] = name != "0" and bool(layer.sym_mask[i, j] > 0) and bool(layer.mask[i, j] > 0)
    return out


def _to_spline(layer: KANLayer, i: int, j: int, mask: float, zero: bool = False) -> None:
    if (i, j) in layer.sym_funs:
        layer.sym_mask[i, j] = 0.0
        layer.sym_funs.pop((i, j))
        layer.sym_r2.pop((i, j), None)
    layer.mask[i, j] = mask
    if zero:
        with torch.no_grad():
            layer.scale_base[i, j] = 0.0
            layer.scale_sp[i, j] = 0.0


def perturb(model, mag=1.0, mode="non-intrusive") -> None:
    """pykan's ``perturb`` of a (compiled) model: switch the spline on, at ``mag``, on the edges
    ``mode`` picks among those that are zero or missing; in ``non-intrusive`` mode the last
    layer's such edges get a spline that starts at zero. A live symbolic edge stays as it is."""
    if mode not in _PERTURB:
        raise ValueError(f"mode must be one of {sorted(_PERTURB)}, got {mode!r}")
    for l, layer in enumerate(model.layers):
        active = _active(layer)
        in_act, out_act = active.any(1), active.any(0)
        last = l == model.depth - 1 and mode == "non-intrusive"
        for i in range(layer.in_dim):
            for j in range(layer.out_dim):
                kind = ("a" if in_act[i] else "i") + ("a" if out_act[j] else "i")
                if kind == "aa":
                    kind += "_a" if active[i, j] else "_i"
                if active[i, j]:
                    continue  # (pykan adds a spline of magnitude mag to it)
                if last:
                    _to_spline(layer, i, j, 1.0, zero=True)
                elif kind in _PERTURB[mode]:
                    _to_spline(layer, i, j, float(mag))
        layer.invalidate()


def set_mode(model, l, i, j, mode, mask_n=None) -> None:
    """pykan's ``set_mode``: ``"s"`` symbolic (the edge's last symbolic function, else zero),
    ``"n"`` spline (its symbolic function is remembered for a later ``"s"``), ``"ns"``/``"sn"``
    both — not possible in kan_core (a warning; the edge stays as it is); anything else removes
    the edge (mask 0)."""
    l, i, j = model._edge(l, i, j)
    layer = model.layers[l]
    parked = model.__dict__.setdefault("_parked_symbolic", {})
    if mode == "s":
        fit = symbolic_fit(model, l, i, j) or parked.pop((l, i, j), None)
        if fit is None:
            _set_sym(layer, i, j, "0")
        else:
            _set_sym(layer, i, j, fit.name, (fit.a, fit.b, fit.c, fit.d), fit.r2)
        layer.mask[i, j] = 1.0
    elif mode == "n":
        fit = symbolic_fit(model, l, i, j)
        if fit is not None:
            parked[(l, i, j)] = fit
            unfix_symbolic(model, l, i, j)
        layer.mask[i, j] = 1.0 if mask_n is None else float(mask_n)
    elif mode in ("ns", "sn"):
        warnings.warn(
            f"set_mode({l},{i},{j}, {mode!r}): a kan_core edge is either a spline or a symbolic "
            "function, not both; the edge is left as it is",
            stacklevel=3,
        )
    else:
        layer.mask[i, j] = 0.0
    layer.invalidate()


def remove_node(model, l, i, mode="all") -> None:
    """pykan's ``remove_node``: mask the edges into node ``(l, i)`` (``"down"``), out of it
    (``"up"``) or both (``"all"``, ``prune_node`` where the node can be pruned)."""
    if mode not in ("all", "up", "down"):
        raise ValueError(f"mode must be 'all', 'up' or 'down', got {mode!r}")
    l, i = int(l), int(i)
    if not (0 <= l <= model.depth and 0 <= i < model.width_in[l]):
        raise IndexError(f"node ({l},{i}) out of range for width {model.width}")
    if mode == "all" and l < model.depth:
        model.prune_node(l, i)
        return
    if mode in ("up", "all") and l < model.depth:
        model.layers[l].mask[i, :] = 0.0
    if mode in ("down", "all") and l > 0:
        model.layers[l - 1].mask[:, model.layouts[l].subnodes(i)] = 0.0


def swap(model, l, i1, i2) -> None:
    """Exchange nodes ``i1`` and ``i2`` of hidden node layer ``l`` (the function is unchanged):
    two sum nodes, or two mult nodes of the same arity."""
    l, i1, i2 = int(l), int(i1), int(i2)
    if not 0 < l < model.depth:
        raise IndexError(f"l must be a hidden node layer (1 … {model.depth - 1}), got {l}")
    lay = model.layouts[l]
    if not (0 <= i1 < lay.n_nodes and 0 <= i2 < lay.n_nodes):
        raise IndexError(f"nodes {i1}, {i2} out of range (layer {l} has {lay.n_nodes})")
    s1, s2 = lay.subnodes(i1), lay.subnodes(i2)
    if lay.is_mult(i1) != lay.is_mult(i2) or len(s1) != len(s2):
        raise ValueError(f"nodes {i1} and {i2} of layer {l} differ in kind or arity")
    if i1 == i2:
        return
    subs, nodes = list(range(lay.n_sub)), list(range(lay.n_nodes))
    for a, b in zip(s1, s2, strict=True):
        subs[a], subs[b] = b, a
    nodes[i1], nodes[i2] = i2, i1
    before, after = model.layers[l - 1], model.layers[l]
    model.layers[l - 1] = before.subset(list(range(before.in_dim)), subs)
    model.layers[l] = after.subset(nodes, list(range(after.out_dim)))


def connection_cost(edge_scores) -> torch.Tensor:
    """pykan's ``connection_cost``: Σ score × |position of input − position of output| over
    every layer of edges, nodes placed evenly on [0, 1]; ``edge_scores[l]`` ``(out, in)``."""
    cost = torch.zeros(())
    for t in edge_scores:
        n_out, n_in = t.shape
        pos_out = (torch.arange(n_out, dtype=t.dtype) + 0.5) / n_out
        pos_in = (torch.arange(n_in, dtype=t.dtype) + 0.5) / n_in
        cost = cost + ((pos_out[:, None] - pos_in[None, :]).abs() * t).sum()
    return cost


def auto_swap(model, x=None) -> None:
    """pykan's ``auto_swap``: in each hidden layer, node by node, the swap that lowers the
    connection cost of the attribution scores most (the scores permute with the nodes)."""
    from .attribution import attribute

    for l in range(1, model.depth):
        for i in range(model.width_in[l]):
            edges = attribute(model, x)[1]
            costs = []
            for j in range(model.width_in[l]):
                if not _swappable(model.layouts[l], i, j):
                    costs.append(float("inf"))
                    continue
                costs.append(float(connection_cost(_swapped(edges, model.layouts[l], l, i, j))))
            j = min(range(len(costs)), key=costs.__getitem__)
            if j != i:
                swap(model, l, i, j)


def _swappable(lay: NodeLayout, i: int, j: int) -> bool:
    return lay.is_mult(i) == lay.is_mult(j) and len(lay.subnodes(i)) == len(lay.subnodes(j))


def _swapped(edges, lay: NodeLayout, l: int, i: int, j: int) -> list[torch.Tensor]:
    subs, nodes = list(range(lay.n_sub)), list(range(lay.n_nodes))
    for a, b in zip(lay.subnodes(i), lay.subnodes(j), strict=True):
        subs[a], subs[b] = b, a
    nodes[i], nodes[j] = j, i
    out = list(edges)
    out[l - 1] = edges[l - 1][subs]  # (out subnodes, in)
    out[l] = edges[l][:, nodes]
    return out


def module(model, start_layer, chain: str) -> None:
    """pykan's ``module``: isolate a module. ``chain`` like ``"[0,1]->[2]->[2]->[0]"`` lists, per
    layer of edges from ``start_layer`` on, its input nodes and output subnodes (negative indices
    count from the end); edges between the module and the rest are masked both ways."""
    groups = str(chain).split("->")
    if len(groups) < 2 or len(groups) % 2:
        raise ValueError(f"chain must be '[ins]->[outs]' pairs joined by '->', got {chain!r}")
    for n in range(len(groups) // 2):
        l = int(start_layer) + n
        if not 0 <= l < model.depth:
            raise IndexError(f"the chain runs past the last layer of edges ({model.depth - 1})")
        layer = model.layers[l]
        ins = _ids(groups[2 * n], layer.in_dim, chain)
        outs = _ids(groups[2 * n + 1], layer.out_dim, chain)
        other_in = [i for i in range(layer.in_dim) if i not in ins]
        other_out = [j for j in range(layer.out_dim) if j not in outs]
        layer.mask[torch.tensor(other_in, dtype=torch.long)[:, None], outs] = 0.0
        layer.mask[torch.tensor(ins, dtype=torch.long)[:, None], other_out] = 0.0
        layer.invalidate()


def _ids(text: str, n: int, chain) -> list[int]:
    text = text.strip()
    try:
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError
        ids = [int(v) for v in text[1:-1].split(",")]
    except ValueError:
        raise ValueError(f"chain {chain!r}: {text!r} is not a list of node indices") from None
    if not all(-n <= i < n for i in ids):
        raise IndexError(f"chain {chain!r}: {text} out of range for {n} nodes")
    return sorted({i % n for i in ids})
