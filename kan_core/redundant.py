"""Hidden nodes the rest of the network can do without. Training with a sparsity penalty often
leaves two hidden nodes sharing one job — ``x₁x₂x₃`` split over a strong and a weak node (scores
0.68 and 0.40), ``sqrt(x₁/x₂)`` as a main node plus a small correction — and both score well
above any prune threshold. Snapped, such a pair reads as two half-right terms. Scores cannot tell
a shared job from a real second term (``x₁x₂ + x₃x₄`` scores 0.71 and 0.71); a refit can: the
network without the node is fitted to the full network's own outputs, and the node goes when the
others take its work over (error below ``NODE_DROP_NRMSE`` of each output's spread). Measured on
bench_feynman's two-node models: shared jobs refit to 0.09–0.5 % of the spread, real second terms
stay at 10–70 %."""

from __future__ import annotations

import math

import torch

__all__ = ["NODE_DROP_NRMSE", "drop_redundant_nodes"]

NODE_DROP_NRMSE = 1e-2  # refit error / spread of the network's outputs below which a node goes
NODE_DROP_STEPS = 60  # L-BFGS steps of each trial (splines on their current grids)
NODE_DROP_CHECK = 20  # a trial still above HOPELESS × NODE_DROP_NRMSE after these steps ends
HOPELESS = 5.0  # (measured at step 20: shared jobs 0.2–1.4 %, real second terms 11–70 %)
NODE_DROP_MIN_ROWS = 64  # fewer reference rows cannot tell a shared job from overfitting
NODE_DROP_MAX_TRIALS = 8  # per call, weakest nodes first ([2, 5, 1] → [2, 1, 1] takes 4)


def _live_hidden_nodes(model) -> list[tuple[int, int]]:
    """Hidden sum nodes with a live edge in and out, in layers without mult nodes."""
    nodes = []
    for l in range(1, model.depth):
        if model.layouts[l].has_mult:
            continue
        into, out = model.layers[l - 1].mask, model.layers[l].mask
        nodes += [(l, i) for i in range(model.width_in[l]) if into[:, i].any() and out[i].any()]
    return nodes


def _chosen(model, l: int, i: int, keep) -> bool:
    """Whether an edge into or out of node ``(l, i)`` is symbolic or in ``keep`` (a choice
    already made)."""
    from .prune import _node_edges

    return any(e in keep or model.edge_state(*e) == "symbolic" for e in _node_edges(model, l, i))


def _refit_error(model, data: dict, spread: torch.Tensor) -> float:
    """The refitted model's worst output error over that output's spread (inf if it fails)."""
    from .train import fit

    give_up = HOPELESS * NODE_DROP_NRMSE * float(spread.min())  # (RMSE over all outputs)

    def hopeless(_result, trainer):
        loss = trainer.history["train_loss"]
        if len(loss) == NODE_DROP_CHECK and float(loss[-1]) > give_up:
            return False  # stop: the rest cannot take this node's work over
        return None

    try:
        fit(model, data, opt="LBFGS", steps=NODE_DROP_STEPS, update_grid=False, callback=hopeless)
        with torch.no_grad():
            err = (model(data["train_input"]) - data["train_label"]).square().mean(0).sqrt()
    except (ValueError, RuntimeError):
        return math.inf
    worst = float((err / spread).max())  # per output: a small output's job counts as much
    return worst if math.isfinite(worst) else math.inf


def drop_redundant_nodes(model, target, keep=()) -> list[tuple[int, int]]:
    """Prune (in place, as ``prune_node``) each hidden node whose work the rest of the network
    takes over: weakest first (``node_scores`` on the target's inputs), at most
    ``NODE_DROP_MAX_TRIALS`` trials, never a layer's last node nor a node with a symbolic edge
    or an edge in ``keep`` (someone's choices, kept). ``target = (x, y)``: the
    network's own outputs (``ties.network_target``). A kept trial's refitted parameters replace
    the model's. Returns the dropped nodes ``(l, i)``."""
    from .prune import node_scores, prune_node

    xs, ys = target
    spread = ys.std(0)  # per output
    if xs.shape[0] < NODE_DROP_MIN_ROWS or not bool(torch.isfinite(spread).all()):
        return []
    spread = spread.clamp_min(1e-6 * float(spread.max()) + 1e-30)  # a constant output: no slack
    data = {"train_input": xs, "train_label": ys, "test_input": xs, "test_label": ys}
    scores = node_scores(model, xs)
    keep = set(keep)
    nodes = [n for n in _live_hidden_nodes(model) if not _chosen(model, *n, keep)]
    order = sorted(nodes, key=lambda n: float(scores[n[0]][n[1]]))
    dropped = []
    for l, i in order[:NODE_DROP_MAX_TRIALS]:
        if sum(n[0] == l for n in _live_hidden_nodes(model)) < 2:
            continue
        trial = model.copy()
        prune_node(trial, l, i)
        if _refit_error(trial, data, spread) < NODE_DROP_NRMSE:
            prune_node(model, l, i)
            with torch.no_grad():
                model.load_state_dict(trial.state_dict())
            for layer in model.layers:
                layer.invalidate()
            dropped.append((l, i))
    return dropped
