"""Per-sample derivatives of a batched function (pykan's ``batch_jacobian``/``batch_hessian``,
used by its physics tutorials): rows of the batch are independent, so the gradient of the
batch's sum with respect to the input is every row's own gradient at once."""

from __future__ import annotations

import torch

__all__ = ["batch_hessian", "batch_jacobian", "get_derivative"]


def _leaf(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself where it is already part of a graph (derivatives then flow through it),
    else a detached copy that records operations."""
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_(True)


def _grad(out: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    (g,) = torch.autograd.grad(
        out, x, create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    return torch.zeros_like(x) if g is None else g


def batch_jacobian(func, x: torch.Tensor, create_graph: bool = False, mode: str = "scalar"):
    """``func(x)``: ``(batch, n_out)`` from ``x``: ``(batch, n_in)``, rows independent.
    ``mode="scalar"``: the first output's gradient per row, ``(batch, n_in)``;
    ``mode="vector"``: every output's, ``(batch, n_out, n_in)``. ``create_graph=True`` keeps
    the result differentiable (a loss on derivatives trains the model)."""
    if mode not in ("scalar", "vector"):
        raise ValueError(f"mode must be 'scalar' or 'vector', got {mode!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError("x must be a (batch, n_in) tensor")
    with torch.enable_grad():
        xg = _leaf(x)
        y = func(xg)
        if y.dim() == 1:
            y = y.unsqueeze(1)
        total = y.sum(0)  # (n_out,): row b of d total[k]/dx is row b's own gradient
        outs = range(1) if mode == "scalar" else range(total.shape[0])
        rows = [_grad(total[k], xg, create_graph) for k in outs]
    return rows[0] if mode == "scalar" else torch.stack(rows, 1)


def batch_hessian(model, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """The first output's Hessian per row, ``(batch, n_in, n_in)``: ``[b, m, n]`` is
    ``∂²f(x_b) / ∂x_m ∂x_n``."""
    with torch.enable_grad():
        xg = _leaf(x)
        g = batch_jacobian(model, xg, create_graph=True).sum(0)  # (n_in,)
        rows = [_grad(g[m], xg, create_graph) for m in range(g.shape[0])]
    return torch.stack(rows, 1)


def get_derivative(
    model,
    inputs,
    labels,
    derivative="hessian",
    loss_mode="pred",
    reg_metric="w",
    lamb=0.0,
    lamb_l1=1.0,
    lamb_entropy=0.0,
):
    """pykan's ``get_derivative``: the Jacobian ``(1, P)`` or the Hessian ``(1, P, P)`` of the
    mean squared error of ``model(inputs)`` against ``labels`` with respect
    to every parameter, flattened as ``model2param``. Only ``loss_mode="pred"`` (pykan's
    default): the regulariser's terms are not differentiated twice here."""
    import math

    from torch.func import functional_call

    from .pykan_extras import model2param

    if loss_mode != "pred":
        raise ValueError(f"loss_mode {loss_mode!r} is not supported (only 'pred')")
    if derivative not in ("hessian", "jacobian"):
        raise ValueError(f"derivative must be 'hessian' or 'jacobian', got {derivative!r}")
    del reg_metric, lamb, lamb_l1, lamb_entropy  # (used by the other loss modes)
    named = [(n, p.shape) for n, p in model.named_parameters()]

    def loss_of(p: torch.Tensor) -> torch.Tensor:
        params, start = {}, 0
        for name, shape in named:
            size = math.prod(shape)
            params[name] = p[0, start : start + size].reshape(shape)
            start += size
        pred = functional_call(model, params, (inputs,))
        return (pred - labels).square().mean().reshape(1, 1)

    p = model2param(model).detach()[None]
    return (batch_hessian if derivative == "hessian" else batch_jacobian)(loss_of, p)
