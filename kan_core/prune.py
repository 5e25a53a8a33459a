"""Importance scores and pruning, with a safety net: a useful input never loses its last path to
the output silently, and no output is left constant.

Scores follow pykan's attribution: with ``σ`` the std over the data,
``edge(l,i,j) = σ(φ_lij) · node(l+1, j) / σ(h_{l+1,j})`` and ``node(l, i) = Σ_j edge(l, i, j)``,
starting from ``node(L, ·) = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .config import is_real
from .mult import NodeLayout

__all__ = [
    "PrunePlan",
    "apply_prune",
    "edge_scores",
    "node_scores",
    "prune_edge",
    "prune_edges_below",
    "prune_node",
    "prune_nodes",
    "prune_plan",
    "reachability",
    "restore_node",
]


@dataclass
class PrunePlan:
    edge_masks: list[torch.Tensor]  # per layer, (in, out) bool: keep
    node_masks: list[torch.Tensor]  # per node layer, (width,) bool: keep
    warnings: list[str] = field(default_factory=list)


@torch.no_grad()
def _scores(model, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    hs, subs = model.layer_values(x)
    edge_std = [layer.edge_activations(hs[l]).std(0) for l, layer in enumerate(model.layers)]
    nodes = [torch.ones(model.width_in[-1])]
    edges: list[torch.Tensor] = []
    for l in range(model.depth - 1, -1, -1):
        # an edge ends at a subnode: each factor of a mult node inherits the node's score
        sub_score = nodes[0][model.layouts[l + 1].sub_to_node()]
        e = edge_std[l] * (sub_score / (subs[l + 1].std(0) + 1e-4)).unsqueeze(0)
        edges.insert(0, e)
        nodes.insert(0, e.sum(1))
    return edges, nodes


def edge_scores(model, x: torch.Tensor) -> list[torch.Tensor]:
    """Per layer ``(in, out)`` importance of every edge (0 for pruned edges)."""
    return _scores(model, x)[0]


def node_scores(model, x: torch.Tensor) -> list[torch.Tensor]:
    """Per node layer ``(width[l],)`` importance; outputs are 1."""
    return _scores(model, x)[1]


def reachability(masks: list[torch.Tensor], layouts=None) -> torch.Tensor:
    """``(n_in, n_out)`` bool: whether input ``i`` has an active path to output ``j``
    (through any factor of a mult node)."""
    if layouts is not None:
        masks = node_level(masks, layouts)
    r = torch.eye(masks[0].shape[0])
    for m in masks:
        r = ((r @ m.to(r.dtype)) > 0).to(r.dtype)
    return r > 0


def node_level(masks: list[torch.Tensor], layouts) -> list[torch.Tensor]:
    """Edge masks ``(nodes, subnodes)`` → ``(nodes, nodes)``: any live edge into any factor."""
    out = []
    for l, m in enumerate(masks):
        lay = layouts[l + 1]
        if not lay.has_mult:
            out.append(m)
            continue
        cols = [m[:, lay.subnodes(n)].any(1) for n in range(lay.n_nodes)]
        out.append(torch.stack(cols, 1))
    return out


def _has_in(mask: torch.Tensor, layout) -> torch.Tensor:
    """Per node of ``layout``: a live edge arrives (at every factor, for a mult node: a factor
    with none is 0, and so is the product)."""
    return torch.stack(
        [
            mask[:, layout.subnodes(n)].any(0).all() if layout.is_mult(n) else mask[:, n].any()
            for n in range(layout.n_nodes)
        ]
    )


def _var(i: int) -> str:
    return f"x_{i + 1}"


def _strongest_path(scores, allowed, start: int, layouts, end=None):
    """Edges of the path from input ``start`` maximising its weakest edge score (to output ``end``,
    or to whichever output is best). Returns ``(min score, [(l, i, j), ...])`` or ``(0, [])``.
    A path enters a mult node through its best factor."""
    best = torch.full((scores[0].shape[0],), -1.0)
    best[start] = float("inf")
    back = []
    for l, (s, ok) in enumerate(zip(scores, allowed, strict=True)):
        cand = torch.minimum(best.unsqueeze(1), s.clamp_min(0))  # (in, subnodes)
        cand = torch.where(ok & (best.unsqueeze(1) >= 0), cand, torch.full_like(cand, -1.0))
        best_sub, arg = cand.max(0)
        lay = layouts[l + 1]
        pick = [max(lay.subnodes(n), key=lambda c: float(best_sub[c])) for n in range(lay.n_nodes)]
        best = best_sub[pick]
        back.append((arg, pick))
    j = int(best.argmax()) if end is None else end
    if best[j] < 0:
        return 0.0, []
    value, path = float(best[j]), []
    for l in range(len(scores) - 1, -1, -1):
        arg, pick = back[l]
        sub = pick[j]
        i = int(arg[sub])
        path.insert(0, (l, i, sub))
        j = i
    return value, path


def _drop_dangling(masks: list[torch.Tensor], layouts) -> None:
    """Unmask edges into hidden nodes with no way out, and out of hidden nodes with no way in."""
    changed = True
    while changed:
        changed = False
        for l in range(1, len(masks)):
            dead = ~(_has_in(masks[l - 1], layouts[l]) & masks[l].any(1))
            dead_sub = dead[layouts[l].sub_to_node()]
            if (masks[l - 1][:, dead_sub].any()) or (masks[l][dead].any()):
                masks[l - 1][:, dead_sub] = False
                masks[l][dead] = False
                changed = True


@torch.no_grad()
def prune_plan(model, node_th: float, edge_th: float, x: torch.Tensor) -> PrunePlan:
    """pykan's two passes (hidden nodes below ``node_th``, then edges below ``edge_th`` with scores
    recomputed), then the safety net. Nothing is changed on ``model``."""
    before = [layer.mask > 0 for layer in model.layers]
    edges, nodes = _scores(model, x)
    masks = [m.clone() for m in before]
    layouts = model.layouts
    for l in range(1, model.depth):
        weak = nodes[l] < node_th
        masks[l - 1][:, weak[layouts[l].sub_to_node()]] = False
        masks[l][weak] = False
    trial = model.copy()
    for layer, m in zip(trial.layers, masks, strict=True):
        layer.mask.copy_(m.float())
    edges2, _ = _scores(trial, x)
    masks = [m & (e >= edge_th) for m, e in zip(masks, edges2, strict=True)]
    _drop_dangling(masks, layouts)

    warnings: list[str] = []
    reach_before, reach = reachability(before, layouts), reachability(masks, layouts)
    for i in range(model.width_in[0]):
        if not reach_before[i].any() or reach[i].any():
            continue
        if nodes[0][i] >= node_th:
            value, path = _strongest_path(edges, before, i, layouts)
            for l, a, b in path:
                masks[l][a, b] = True
            warnings.append(
                f"kept the strongest path from {_var(i)} (weakest edge score "
                f"{value:.3g}) so this input is not cut off"
            )
        else:
            warnings.append(f"{_var(i)} no longer reaches the output (score {nodes[0][i]:.3g})")
    reach = reachability(masks, layouts)
    for j in range(model.width_in[-1]):
        if reach_before[:, j].any() and not reach[:, j].any():
            i = int((nodes[0] * reach_before[:, j]).argmax())
            _, path = _strongest_path(edges, before, i, layouts, end=j)
            for l, a, b in path:
                masks[l][a, b] = True
            warnings.append(f"kept the path {_var(i)} → output {j + 1} so it is not constant")
    node_masks = [torch.ones(model.width_in[0], dtype=torch.bool)]  # inputs always stay
    node_masks += [
        _has_in(masks[l - 1], layouts[l]) & masks[l].any(1) for l in range(1, model.depth)
    ]
    node_masks.append(torch.ones(model.width_in[-1], dtype=torch.bool))
    return PrunePlan(masks, node_masks, warnings)


def apply_prune(model, plan: PrunePlan, shrink: bool):
    """A copy of ``model`` with ``plan``'s masks; with ``shrink``, dead hidden nodes removed."""
    new = model.copy()
    for layer, m in zip(new.layers, plan.edge_masks, strict=True):
        layer.mask.copy_(m.float())
    new.prune_warnings = list(plan.warnings)
    new.pruned_nodes = {}  # (the plan's masks replace whatever prune_node did)
    if not shrink:
        return new
    keep = [torch.nonzero(m).flatten().tolist() for m in plan.node_masks]
    for l in range(1, model.depth):
        if not keep[l]:  # keep one node so the model stays a model; its edges are masked
            keep[l] = [0]
    lays = model.layouts
    subs = [[s for n in k for s in lay.subnodes(n)] for k, lay in zip(keep, lays, strict=True)]
    new.layers = type(new.layers)(
        layer.subset(keep[l], subs[l + 1]) for l, layer in enumerate(new.layers)
    )
    new.layouts = [
        NodeLayout(
            sum(n < lay.n_sum for n in k),
            tuple(lay.arity[n - lay.n_sum] for n in k if n >= lay.n_sum),
        )
        for k, lay in zip(keep, lays, strict=True)
    ]
    new.config.width = new.width
    new.config.mult_arity = _arity_config(new.layouts, model.config.mult_arity)
    return new


def _arity_config(layouts, old):
    """``mult_arity`` for the shrunk model: the old int while it still describes every mult
    node, else pykan's per-layer lists."""
    arities = {a for lay in layouts for a in lay.arity}
    if isinstance(old, int) and arities <= {old}:
        return old
    return [list(lay.arity) for lay in layouts]


def _reach(model) -> torch.Tensor:
    return reachability([layer.mask > 0 for layer in model.layers], model.layouts)


def _cut_warnings(model, before: torch.Tensor) -> list[str]:
    after = _reach(model)
    out = []
    for i in range(model.width_in[0]):
        if before[i].any() and not after[i].any():
            out.append(f"{_var(i)} no longer reaches the output")
    for j in range(model.width_in[-1]):
        if before[:, j].any() and not after[:, j].any():
            out.append(f"output {j + 1} no longer depends on any input")
    return out


def prune_edge(model, l: int, i: int, j: int) -> list[str]:
    """Mask one edge (in place); returns warnings if it cut an input's last path."""
    layer = model._check_edge(l, i, j)
    before = _reach(model)
    layer.mask[i, j] = 0.0
    return _cut_warnings(model, before)


def _check_node(model, l: int, i: int) -> None:
    if not (0 <= l < model.depth):
        raise IndexError(
            f"node layer {l} cannot be pruned (inputs are 0, hidden 1..{model.depth - 1})"
        )
    if not (0 <= i < model.width_in[l]):
        raise IndexError(f"node ({l},{i}) out of range (layer {l} has {model.width_in[l]} nodes)")


def _node_edges(model, l: int, i: int) -> list[tuple[int, int, int]]:
    """Every edge ``(layer, in, out)`` into and out of node ``(l, i)``."""
    out = [(l, i, j) for j in range(model.width_out[l + 1])] if l < model.depth else []
    subs = model.layouts[l].subnodes(i)
    into = [(l - 1, h, c) for h in range(model.width_in[l - 1]) for c in subs] if l > 0 else []
    return into + out


def prune_node(model, l: int, i: int) -> list[str]:
    """Mask every edge of node ``(l, i)`` (an input or hidden node), in place. The edges this
    masks are remembered (``model.pruned_nodes``) so that ``restore_node`` brings back exactly
    those."""
    _check_node(model, l, i)
    before = _reach(model)
    live = [e for e in _node_edges(model, l, i) if model.layers[e[0]].mask[e[1], e[2]] > 0]
    model.pruned_nodes.setdefault((l, i), []).extend(live)
    for a, b, c in live:
        model.layers[a].mask[b, c] = 0.0
    return _cut_warnings(model, before)


def restore_node(model, l: int, i: int) -> None:
    """Undo ``prune_node(l, i)``: the edges it masked come back — not those pruned on their own,
    nor those of a neighbour that is itself still pruned by ``prune_node`` (they come back with
    it). A node pruned otherwise (``prune()``, a loaded file) gets all its edges back, except
    those of such neighbours."""
    _check_node(model, l, i)
    records = model.pruned_nodes
    edges = records.pop((l, i), None)
    for a, b, c in _node_edges(model, l, i) if edges is None else edges:
        end = (a + 1, model.layouts[a + 1].sub_to_node()[c])  # the node edge (a, b, c) enters
        other = (a, b) if end == (l, i) else end
        if other in records:
            records[other].append((a, b, c))
        else:
            model.layers[a].mask[b, c] = 1.0


def _check_threshold(threshold) -> None:
    if not is_real(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")


def prune_edges_below(model, threshold: float, x: torch.Tensor) -> list[str]:
    """pykan's ``prune_edge(threshold)``: mask, in place, every edge scoring below
    ``threshold``; returns warnings if an input or output lost its last path."""
    _check_threshold(threshold)
    before = _reach(model)
    for layer, score in zip(model.layers, edge_scores(model, x), strict=True):
        layer.mask.mul_((score >= threshold).to(layer.mask.dtype))
    return _cut_warnings(model, before)


def prune_nodes(model, threshold: float, x: torch.Tensor, keep=None):
    """pykan's ``prune_node``: a copy without the hidden nodes scoring below ``threshold`` (or,
    with ``keep`` — per hidden layer the node indices to keep — without every other one)."""
    _check_threshold(threshold)
    masks = [layer.mask > 0 for layer in model.layers]
    layouts = model.layouts
    if keep is None:
        weak = [nodes < threshold for nodes in node_scores(model, x)[1:-1]]
    else:
        if len(keep) != model.depth - 1:
            raise ValueError(
                f"active_neurons_id needs one list per hidden layer ({model.depth - 1}), "
                f"got {len(keep)}"
            )
        weak = []
        for l, ids in enumerate(keep, start=1):
            w = torch.ones(model.width_in[l], dtype=torch.bool)
            ids = [int(n) for n in ids]
            if any(not 0 <= n < model.width_in[l] for n in ids):
                raise IndexError(f"active_neurons_id: layer {l} has {model.width_in[l]} nodes")
            w[torch.as_tensor(ids, dtype=torch.long)] = False
            weak.append(w)
    for l, w in enumerate(weak, start=1):
        masks[l - 1][:, w[layouts[l].sub_to_node()]] = False
        masks[l][w] = False
    node_masks = [torch.ones(model.width_in[0], dtype=torch.bool)]
    node_masks += [~w for w in weak]
    node_masks.append(torch.ones(model.width_in[-1], dtype=torch.bool))
    return apply_prune(model, PrunePlan(masks, node_masks), shrink=True)
