"""Near-ties decided by the data: per-edge R² rates exp and a 16600·gaussian both "1", and a
shifted ``1/sqrt`` fits ``log``'s samples on [1, 5] nearly as well, but only one of each pair is
right for the network. ``rerank_by_refit`` orders one edge's near-ties by a refitted copy's test
error (the server's suggestions); ``settle_ties`` swaps snapped edges after ``auto_symbolic``
when a short refit of the whole network says so."""

from __future__ import annotations

import math

import torch

from .symbolic import COMPLEXITY_WEIGHT, _set_symbolic, fix_symbolic, symbolic_fit

__all__ = ["NEAR_TIE", "network_target", "rerank_by_refit", "settle_ties"]

NEAR_TIE = 1.0  # score units (a 10× residual or one unit of complexity): "nearly as good"


def rerank_by_refit(model, l, i, j, fits, dataset, steps=5, max_ties=3):
    """Let the data decide among near-ties: each candidate whose score is within ``NEAR_TIE`` of
    the best (at most ``max_ties``) is tried in a copy of the model — fixed on the edge, then
    ``steps`` L-BFGS steps on ``dataset`` — and those are ordered by the copy's test RMSE
    (within 1 % of each other, the simpler first). Returns ``(fits reordered, {name: rmse})``;
    the model itself does not change. (Per-edge R² rates exp and a 16600·gaussian both "1".)"""
    if len(fits) < 2:
        return list(fits), {}
    ties = [f for f in fits if f.score >= fits[0].score - NEAR_TIE][:max_ties]
    if len(ties) < 2:
        return list(fits), {}
    rmse = {}
    for f in ties:
        trial = model.copy()
        try:
            fix_symbolic(trial, l, i, j, f.name, fit=f)
            hist = trial.fit(dataset, opt="LBFGS", steps=steps)
            rmse[f.name] = float(hist["test_loss"][-1]) if hist["test_loss"] else math.inf
        except (ValueError, RuntimeError):
            rmse[f.name] = math.inf
    best = min(rmse.values())

    def key(f):
        r = rmse[f.name]
        return (
            0 if r <= best * 1.01 + 1e-12 else 1,
            f.complexity if r <= best * 1.01 + 1e-12 else r,
        )

    ordered = sorted(ties, key=key)
    return ordered + [f for f in fits if f not in ties], rmse


TIE_CANDIDATES = 3  # per edge: the best and up to two near-ties are tried
TIE_MAX_EDGES = 64  # larger models keep the per-edge ranking (the refits would take seconds)
TIE_MAX_TRIALS = 24  # refits per auto_symbolic call at most
TIE_REFIT_STEPS = 3  # L-BFGS steps of each trial
TIE_SAMPLES = 256  # rows of the reference input the trials fit
TIE_GAIN = 0.99  # a swap must cut the refit error below this fraction of the current one


@torch.no_grad()
def network_target(model, x):
    """What the trials must reproduce: the network's own outputs on (a subsample of) ``x``,
    taken before any edge is snapped; ``None`` when they are not finite."""
    if x.shape[0] > TIE_SAMPLES:
        x = x[torch.linspace(0, x.shape[0] - 1, TIE_SAMPLES).long()]
    y = model(x)
    return (x, y) if bool(torch.isfinite(y).all()) else None


def _trial_rmse(model, data: dict) -> float:
    """RMSE after ``TIE_REFIT_STEPS`` L-BFGS steps on a copy (inf if the fit fails)."""
    from .train import fit

    trial = model.copy()
    try:
        hist = fit(trial, data, opt="LBFGS", steps=TIE_REFIT_STEPS, update_grid=False)
    except (ValueError, RuntimeError):
        return math.inf
    loss = [float(v) for v in hist["train_loss"]]
    return min(loss) if loss and math.isfinite(min(loss)) else math.inf


def settle_ties(model, ties: dict, x, target) -> dict:
    """Let the data decide near-ties among snapped edges (per-edge R² rates ``log`` and a
    shifted ``1/sqrt`` alike on [1, 5], but only ``log`` turns a sum into a product exactly).
    With every edge at its best-ranked candidate, first joint swaps per node
    (``_node_moves``), then each edge of ``ties`` (closest ties first) with each of its other
    candidates, are tried: the model is copied, the edges swapped, ``TIE_REFIT_STEPS``
    L-BFGS steps fit the network's own outputs ``target = (x, y)``, and the swap is kept when
    the error drops by over 1 % against the same refit of the current choice (within 1 % the
    better-ranked one stays, as in ``rerank_by_refit``), and by a further 3× per unit of added
    complexity (a 10× smaller squared error, as ``COMPLEXITY_WEIGHT`` rates one unit: a sine
    used as a nearly straight line must not win by fitting the network's own wiggles). Greedy, at most ``TIE_MAX_TRIALS`` refits; the trials
    run on copies. Returns ``{edge: fit}`` of the swaps made."""
    xs, ys = target
    data = {"train_input": xs, "train_label": ys, "test_input": xs, "test_label": ys}
    order = sorted(ties, key=lambda e: ties[e][0].score - ties[e][1].score)
    moves = _node_moves(ties) + [{e: alt} for e in order for alt in ties[e][1:]]
    current = _trial_rmse(model, data)
    swapped = {}
    for move in moves[: TIE_MAX_TRIALS - 1]:
        move = {e: f for e, f in move.items() if symbolic_fit(model, *e).name != f.name}
        if not move:
            continue
        trial = model.copy()
        for e, f in move.items():
            _set_symbolic(trial, *e, f)
        rmse = _trial_rmse(trial, data)
        extra = sum(f.complexity - symbolic_fit(model, *e).complexity for e, f in move.items())
        if rmse < current * TIE_GAIN * 10 ** (-COMPLEXITY_WEIGHT / 2 * max(extra, 0)):
            for e, f in move.items():
                _set_symbolic(model, *e, f)
            swapped |= move
            current = rmse
    return swapped


def _node_moves(ties: dict) -> list[dict]:
    """Joint swaps tried first: for each node, every function that two or more of its tied
    input edges could take, on all of them at once (``exp(log x₁ + log x₂)`` is a product only
    when both edges are ``log``; swapping one at a time may not show it)."""
    by_node: dict = {}
    for (l, i, j), fits in ties.items():
        by_node.setdefault((l, j), []).append(((l, i, j), fits))
    moves = []
    for edges in by_node.values():
        names = {}
        for e, fits in edges:
            for f in fits:
                names.setdefault(f.name, {})[e] = f
        moves += [m for m in names.values() if len(m) >= 2]
    return moves
