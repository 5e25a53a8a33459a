"""Edge curves for plotting: every edge sampled on its grid range, cheaply (one batched pass per
layer), and one edge in detail with the data that actually flowed through it."""

from __future__ import annotations

import torch

__all__ = ["edge_curve", "edge_curves", "grid_span"]


def grid_span(layer) -> tuple[torch.Tensor, torch.Tensor]:
    """Interior grid range per input node: two ``(in,)`` tensors."""
    k = layer.k
    return layer.grid[:, k], layer.grid[:, -k - 1]


@torch.no_grad()
def edge_curves(model, n: int = 64) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer ``(xs (n, in), ys (n, in, out))``: each edge on its input's grid range."""
    out = []
    for layer in model.layers:
        lo, hi = grid_span(layer)
        xs = lo + (hi - lo) * torch.linspace(0, 1, n).unsqueeze(1)
        out.append((xs, layer.edge_activations(xs)))
    return out


@torch.no_grad()
def edge_curve(model, l: int, i: int, j: int, n: int = 128, x: torch.Tensor | None = None) -> dict:
    """One edge: its curve over the grid range ∪ data range, knots, and the inputs it saw."""
    layer = model._check_edge(l, i, j)
    lo, hi = (float(v[i]) for v in grid_span(layer))
    data = None
    if x is not None:
        seen = model.layer_inputs(x)[l][:, i].sort().values
        idx = torch.linspace(0, seen.shape[0] - 1, min(256, seen.shape[0])).round().long()
        data = seen[idx]
        lo, hi = min(lo, float(seen[0])), max(hi, float(seen[-1]))
    xs = torch.linspace(lo, hi, n, dtype=layer.grid.dtype)
    col = torch.zeros(n, layer.in_dim, dtype=layer.grid.dtype)
    col[:, i] = xs
    ys = layer.edge_activations(col)[:, i, j]
    return {
        "x": xs.tolist(),
        "y": ys.tolist(),
        "knots": layer.grid[i, layer.k : -layer.k].tolist(),
        "data": None if data is None else data.tolist(),
        "data_range": None if data is None else [float(data[0]), float(data[-1])],
        "state": model.edge_state(l, i, j),
    }
