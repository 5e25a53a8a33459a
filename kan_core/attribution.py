"""KAN 2.0 attribution (pykan 0.2.8's ``attribute``): how much each node and edge contributes to
the outputs, propagated backwards through the network.

With ``σ`` the standard deviation over the data (unbiased, as ``torch.std``), starting from one
score row per output, ``S_L = I``::

    edge(l)[k, j, i] = σ(φ_l,i→j) · S_{l+1}[k, node(j)] / (σ(subnode j) + 1e-4)
    S_l[k, i]        = Σ_j edge(l)[k, j, i]

where ``node(j)`` is the node a subnode belongs to (every factor of a mult node inherits its
node's score). Scores are linear in the starting rows, so their mean over the outputs ``k`` —
pykan's ``node_scores`` / ``edge_scores`` — is the same propagation started from
``1 / n_outputs`` at every output. Unlike ``prune.node_scores`` (which starts from 1 and lays edges
out ``(in, out)``), this module keeps pykan's numbers and shapes: ``edge_scores[l]`` is
``(out subnodes, in)``.

Pure functions of a model and its input; nothing here changes the model except ``prune_input``,
which returns a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import is_int

__all__ = [
    "Attribution",
    "activation_stats",
    "attribute",
    "attribute_all",
    "feature_interaction",
    "input_ids_above",
    "neuron_attribution",
    "prune_input",
]

_EPS = 1e-4  # pykan's guard against a constant subnode


@dataclass
class Attribution:
    """Per-output scores (pykan's ``*_all``), each with a leading dimension ``K`` (one row per
    starting node). Lists run from the inputs (index 0) to the layer the scores started at."""

    node_scores_all: list[torch.Tensor]  # node layer l: (K, width_in[l])
    edge_scores_all: list[torch.Tensor]  # edge layer l: (K, width_out[l + 1], width_in[l])
    subnode_scores_all: list[torch.Tensor]  # edge layer l ends at: (K, width_out[l + 1])

    @property
    def node_scores(self) -> list[torch.Tensor]:
        return [s.mean(0) for s in self.node_scores_all]

    @property
    def edge_scores(self) -> list[torch.Tensor]:
        return [s.mean(0) for s in self.edge_scores_all]

    @property
    def subnode_scores(self) -> list[torch.Tensor]:
        return [s.mean(0) for s in self.subnode_scores_all]


@torch.no_grad()
def activation_stats(model, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per layer of edges: each edge's output std ``(out subnodes, in)`` and each subnode's std
    ``(out subnodes,)`` over the samples ``x``."""
    nodes, subs = model.layer_values(x)
    edge_std = [layer.edge_activations(nodes[l]).std(0).T for l, layer in enumerate(model.layers)]
    sub_std = [s.std(0) for s in subs[1:]]
    return edge_std, sub_std


def _backward(model, stats, start: torch.Tensor, l_end: int) -> Attribution:
    """Propagate score rows ``start`` ``(K, width_in[l_end])`` from node layer ``l_end`` down to
    the inputs."""
    edge_std, sub_std = stats
    node = start
    nodes, edges, subs = [node], [], []
    for l in range(l_end, 0, -1):
        sub = node[:, model.layouts[l].sub_to_node()]  # (K, width_out[l])
        edge = edge_std[l - 1].unsqueeze(0) * (sub / (sub_std[l - 1] + _EPS)).unsqueeze(2)
        node = edge.sum(1)  # (K, width_in[l - 1])
        nodes.append(node)
        edges.append(edge)
        subs.append(sub)
    return Attribution(nodes[::-1], edges[::-1], subs[::-1])


def _check_layer(model, l) -> int:
    if not (is_int(l, 0) and 0 <= int(l) <= model.depth):
        raise IndexError(f"node layer {l!r} out of range (0 … {model.depth})")
    return int(l)


def attribute_all(model, x=None, l=None, out_score=None) -> Attribution:
    """pykan's ``attribute(l, out_score=…)`` in full: scores started at node layer ``l`` (the
    outputs by default) with one row per node there (``diag(out_score)``, identity by default)."""
    stats = activation_stats(model, model._x(x))
    l_end = model.depth if l is None else _check_layer(model, l)
    width = model.width_in[l_end]
    dtype = stats[0][0].dtype
    if out_score is None:
        start = torch.eye(width, dtype=dtype)
    else:
        out_score = torch.as_tensor(out_score, dtype=dtype).detach()
        if out_score.shape != (width,):
            raise ValueError(f"out_score must have {width} values, got {tuple(out_score.shape)}")
        start = torch.diag(out_score)
    return _backward(model, stats, start, l_end)


def attribute(model, x=None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(node_scores, edge_scores)`` as pykan's ``model.attribute()`` leaves them:
    ``node_scores[l]`` ``(width_in[l],)`` for every node layer (the outputs ``1/n_out``),
    ``edge_scores[l]`` ``(width_out[l + 1], width_in[l])`` for every layer of edges. ``x``: the
    samples (the model's reference input by default)."""
    a = attribute_all(model, x)
    return a.node_scores, a.edge_scores


def neuron_attribution(model, l, x=None) -> torch.Tensor:
    """pykan's ``attribute(l)``: ``(width_in[l], n_inputs)``, row ``i`` the inputs' attribution to
    node ``(l, i)``, started from that node's own score (its mean attribution to the outputs)."""
    l = _check_layer(model, l)
    x = model._x(x)
    out_score = attribute_all(model, x).node_scores[l]
    return attribute_all(model, x, l, out_score).node_scores_all[0]


def feature_interaction(model, l, neuron_th=1e-2, feature_th=1e-2, x=None) -> dict:
    """pykan's ``feature_interaction``: for each node of layer ``l`` whose strongest input
    attribution exceeds ``neuron_th``, the inputs above ``feature_th`` × that maximum, as a tuple
    of indices; returns ``{inputs: number of nodes}``."""
    scores = neuron_attribution(model, l, x)
    out: dict[tuple[int, ...], int] = {}
    for row in scores:
        top = row.max()
        if top > neuron_th:
            key = tuple(int(i) for i in torch.nonzero(row > top * feature_th).flatten())
            out[key] = out.get(key, 0) + 1
    return out


def input_ids_above(model, threshold=1e-2, x=None) -> list[int]:
    """Inputs whose attribution score (``node_scores[0]``) exceeds ``threshold``."""
    scores = attribute(model, x)[0][0]
    return [int(i) for i in torch.nonzero(scores > threshold).flatten()]


def prune_input(model, threshold=1e-2, active_inputs=None, x=None):
    """A copy of ``model`` keeping only the inputs above ``threshold`` (or exactly
    ``active_inputs``, in the given order). The copy's ``input_id`` lists the kept inputs as
    columns of the original input, so it still accepts the original inputs (pykan's behaviour)
    as well as the kept columns alone."""
    n_in = model.width_in[0]
    if active_inputs is None:
        keep = input_ids_above(model, threshold, x)
    else:
        keep = [int(i) for i in torch.as_tensor(active_inputs, dtype=torch.long).flatten()]
        bad = [i for i in keep if not 0 <= i < n_in]
        if bad:
            raise IndexError(f"active_inputs {bad} out of range (the model has {n_in} inputs)")
    if not keep:
        raise ValueError(f"no input is above the threshold {threshold} (nothing would be left)")
    from .mult import NodeLayout

    new = model.copy()
    new.layers[0] = model.layers[0].subset(keep, list(range(model.width_out[1])))
    new.layouts = [NodeLayout(len(keep)), *model.layouts[1:]]
    new.config.width = new.width
    if model.reference_input is not None:
        new.reference_input = model.reference_input[:, keep]
    new.pruned_nodes = {}  # (as after prune(): the masks are what they are)
    old_ids = getattr(model, "input_id", None)
    ids = torch.arange(n_in) if old_ids is None else torch.as_tensor(old_ids)
    new.input_id = ids[torch.tensor(keep, dtype=torch.long)]
    new.input_width = n_in if model.input_width is None else model.input_width
    return new
