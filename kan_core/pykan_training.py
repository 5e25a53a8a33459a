"""pykan's training options beyond the default loss (``fit``'s ``reg_metric``, ``lamb_coef``,
``lamb_coefdiff``, ``singularity_avoiding`` / ``y_th``), kept out of the fast path: a model
trained with pykan's defaults never comes here.

- ``reg_metric``: which per-edge scores the L1 + entropy penalty is taken of (pykan 0.2.8's
  names). ``edge_forward_spline_n`` (the default: a numeric edge's std over its input's std +
  0.1) is the fast path's; the others are computed here with plain autograd.
- ``lamb_coef`` / ``lamb_coefdiff``: an L1 penalty on the spline coefficients and on their
  differences (smoothness), averaged over each input's outgoing edges, added to the
  regulariser (so, as pykan, it counts only with ``lamb > 0``).
- ``y_th``: symbolic edges evaluated by singularity-avoiding versions of their functions
  (``soften``), whose values and slopes near a singularity are bounded by ``y_th``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch

from .attribution import _backward

__all__ = ["REG_METRICS", "coef_penalty", "metric_scales", "soften", "avoid_singularities"]

DEFAULT_METRIC = "edge_forward_spline_n"
REG_METRICS = (
    DEFAULT_METRIC,  # numeric edge std / (input std + 0.1)
    "edge_forward_spline_u",  # numeric edge std (unnormalised)
    "edge_forward_sum",  # every edge's std / (input std + 0.1), as a value only (pykan detaches it)
    "edge_backward",  # KAN 2.0 edge attribution scores
    "node_backward",  # KAN 2.0 node attribution, started at every node layer
)


def check_metric(metric) -> str:
    if metric not in REG_METRICS:
        raise ValueError(f"reg_metric must be one of {list(REG_METRICS)}, got {metric!r}")
    return metric


def coef_penalty(model, lamb_coef: float, lamb_coefdiff: float) -> torch.Tensor:
    """``Σ_layers lamb_coef·Σ_i,k mean_j |c_ijk| + lamb_coefdiff·Σ_i,k mean_j |c_ij,k+1 − c_ijk|``
    (pykan's), differentiable in each layer's ``packed``."""
    total = model.layers[0].packed.new_zeros(())
    for layer in model.layers:
        coef = layer.coef  # (in, out, K): a view of packed
        if lamb_coef:
            total = total + lamb_coef * coef.abs().mean(1).sum()
        if lamb_coefdiff:
            total = total + lamb_coefdiff * coef.diff(dim=-1).abs().mean(1).sum()
    return total


def metric_scales(model, x: torch.Tensor, metric: str):
    """``(prediction (batch, out), [per-layer scores])`` for the regulariser under ``metric``
    (autograd). Scores are laid out ``(in, out)`` for the forward metrics and as
    ``kan_core.attribution`` gives them for the backward ones; the penalty treats rows and
    columns alike, so either layout gives the same value."""
    check_metric(metric)
    if metric in (DEFAULT_METRIC, "edge_forward_spline_u", "edge_forward_sum"):
        return _forward_scales(model, x, metric)
    nodes, subs, acts = _values(model, x)
    edge_std = [a.std(0).T for a in acts]  # (out subnodes, in): with gradients (pykan's)
    sub_std = [s.std(0).detach() for s in subs[1:]]  # (pykan detaches these)
    stats = (edge_std, sub_std)
    width = model.width_in
    full = _backward(model, stats, torch.eye(width[-1], dtype=x.dtype), model.depth)
    if metric == "edge_backward":
        return nodes[-1], full.edge_scores
    per_layer = []
    for l in range(1, model.depth + 1):  # started at node layer l with its own scores
        start = torch.diag(full.node_scores[l])
        per_layer.append(_backward(model, stats, start, l).node_scores_all[0])
    return nodes[-1], per_layer


def _forward_scales(model, x, metric):
    xt, scales = x.T, []
    for l, layer in enumerate(model.layers):
        y, s = layer.forward_t(xt, with_reg=True)  # s: numeric edges, / (input std + 0.1)
        if metric == "edge_forward_spline_u":
            s = s * (xt.std(1) + 0.1).unsqueeze(1)
        elif metric == "edge_forward_sum":  # every edge, symbolic ones too; no gradient
            with torch.no_grad():
                acts = layer.edge_activations(xt.T)
                s = acts.std(0) / (xt.std(1) + 0.1).unsqueeze(1)
        scales.append(s)
        xt = model.layouts[l + 1].combine(y)
    return xt.T, scales


def _values(model, x):
    """Node values, subnode values and every edge's activation ``(batch, in, out)`` per layer,
    with gradients."""
    nodes, subs, acts = [x], [x], []
    for l, layer in enumerate(model.layers):
        a = layer.edge_activations(nodes[-1])
        acts.append(a)
        subs.append(a.sum(1))
        nodes.append(model.combine(l + 1, subs[-1]))
    return nodes, subs, acts


# --- singularity avoidance -------------------------------------------------------------------
def _power(z, p: float, y_th: float):
    """``z**p`` for ``p < 0``: within ``|z| < y_th**(1/p)`` (where ``|z**p|`` would exceed
    ``y_th``) the constant ``y_th`` (even powers) or the line through 0 and ``(x_th, y_th)`` (odd)."""
    x_th = y_th ** (1 / p)
    inside = z.abs() < x_th
    safe = torch.where(inside, torch.full_like(z, x_th), z)
    outer = safe.pow(p)
    near = z * (y_th / x_th) if int(-p) % 2 else torch.full_like(z, y_th)
    return torch.where(inside, near, outer)


def _soft_functions(y_th: float) -> dict:
    def sqrt(z):  # sign(z)·sqrt|z|, a line of slope y_th within |z| < 1/y_th²
        x_th = 1.0 / y_th**2
        inside = z.abs() < x_th
        outer = z.abs().clamp_min(x_th).sqrt() * torch.sign(z)
        return torch.where(inside, z * y_th, outer)

    def inv_sqrt(z):
        return torch.where(
            z.abs() < 1.0 / y_th**2,
            torch.full_like(z, y_th),
            z.abs().clamp_min(1.0 / y_th**2).rsqrt(),
        )

    out = {
        f"1/x^{n}" if n > 1 else "1/x": (lambda z, n=n: _power(z, -n, y_th)) for n in range(1, 6)
    }
    out.update(
        {
            "sqrt": sqrt,
            "x^0.5": sqrt,
            "1/sqrt(x)": inv_sqrt,
            "x^1.5": lambda z: z.abs() ** 1.5,
            "log": lambda z: z.abs().clamp_min(math.exp(-y_th)).log(),
            "exp": lambda z: z.clamp_max(math.log(y_th)).exp(),
            "arctanh": lambda z: z.clamp(-1 + 1e-7, 1 - 1e-7).atanh().clamp(-y_th, y_th),
            "tan": lambda z: z.tan().clamp(-y_th, y_th),
        }
    )
    return out


def soften(name: str, torch_fn, y_th: float):
    """The singularity-avoiding version of symbolic function ``name`` (``torch_fn`` where it
    has no singularity)."""
    return _soft_functions(y_th).get(name, torch_fn)


@contextmanager
def avoid_singularities(model, y_th: float = 10.0):
    """Within the block, the model's symbolic edges use ``soften``'s functions (pykan's
    ``model(x, singularity_avoiding=True, y_th=…)``)."""
    if not (isinstance(y_th, int | float) and math.isfinite(y_th) and y_th > 0):
        raise ValueError(f"y_th must be a positive number, got {y_th!r}")
    old = [layer.y_th for layer in model.layers]
    for layer in model.layers:
        layer.y_th = float(y_th)
    try:
        yield model
    finally:
        for layer, v in zip(model.layers, old, strict=True):
            layer.y_th = v
