"""Hand-written forward/backward pairs for the training hot path.

Small KANs are bound by per-operation overhead, not arithmetic: a ``[2, 5, 1]`` training closure
was ~150 autograd nodes at a few µs each. The two functions here replace the dozen-node chains
of a layer's numeric edges and of the regulariser with one node each whose backward is a handful
of matmuls and elementwise ops; ``tests/core/test_fused.py`` checks both against plain autograd.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["edge_sum", "regularization"]

_LN2 = math.log(2.0)
_EPS_VAR = 1e-10  # keeps sqrt differentiable at a dead edge
_EPS_STD = 0.1  # pykan: scale = std(edge) / (std(input) + 0.1)
_EPS_LOG = 1e-4  # pykan: entropy uses log2(p + 1e-4)


def edge_sum(bases, base, coef, scale_sp, scale_base, live, cov=None, x_std=None):
    """Every numeric edge summed into its output node.

    ``bases`` ``(K, in, batch)`` (B-spline bases of each input), ``base`` ``(in, batch)`` (the base
    function of each input); ``coef`` ``(in, out, K)``; ``scale_sp``, ``scale_base``, ``live``
    ``(in, out)``. Edge ``(i, j)`` is ``live_ij · (scale_sp_ij · coef_ij · B_i + scale_base_ij ·
    base_i)``; returns ``y`` ``(out, batch)``, as two matmuls (no concatenated feature tensor).

    With ``cov`` ``(in, K + 1, K + 1)`` (each input's covariance of ``[B_1..B_K, base]`` over the
    batch) and ``x_std`` ``(in,)``, also returns pykan's regularisation metric per edge
    ``(in, out)``: ``s_ij = sqrt(w_ijᵀ·cov_i·w_ij) / (x_std_i + 0.1)`` with ``w_ij`` the edge's
    weights on those features — its std over the batch relative to its input's. ``cov`` and
    ``x_std`` may carry gradients (hidden layers).
    """
    if cov is None:
        return _EdgeSum.apply(bases, base, coef, scale_sp, scale_base, live)
    return _EdgeSumScales.apply(bases, base, coef, scale_sp, scale_base, live, cov, x_std)


def _forward(bases, base, coef, scale_sp, scale_base, live):
    n_in, n_out, k = coef.shape
    lsp = scale_sp * live
    w_sp = coef * lsp.unsqueeze(-1)  # (in, out, K)
    w_b = scale_base * live  # (in, out)
    wm = w_sp.permute(1, 2, 0).reshape(n_out, k * n_in)  # matches bases' (K, in) row order
    y = torch.addmm(w_b.T @ base, wm, bases.reshape(k * n_in, bases.shape[-1]))
    return y, w_sp, w_b, wm, lsp


def _backward(ctx, gy, bases, base, coef, lsp, live, wm, w_b, g_w=None):
    """Gradients for ``bases``, ``base``, ``coef``, ``scale_sp``, ``scale_base``; ``g_w``
    ``(in, out, K + 1)``: extra gradient on the edge weights (from the scales)."""
    need = ctx.needs_input_grad
    n_in, n_out, k = coef.shape
    g_sp = (gy @ bases.reshape(k * n_in, -1).T).view(n_out, k, n_in).permute(2, 0, 1)
    g_b = (gy @ base.T).T  # (in, out)
    if g_w is not None:
        g_sp, g_b = g_sp + g_w[..., :-1], g_b + g_w[..., -1]
    g_bases = (wm.T @ gy).view(bases.shape) if need[0] else None
    g_base = w_b @ gy if need[1] else None
    g_coef = g_sp * lsp.unsqueeze(-1) if need[2] else None
    g_ssp = (g_sp * coef).sum(-1) * live if need[3] else None
    g_sb = g_b * live if need[4] else None
    return g_bases, g_base, g_coef, g_ssp, g_sb


class _EdgeSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, bases, base, coef, scale_sp, scale_base, live):
        y, _, w_b, wm, lsp = _forward(bases, base, coef, scale_sp, scale_base, live)
        ctx.save_for_backward(bases, base, coef, lsp, live, wm, w_b)
        return y

    @staticmethod
    def backward(ctx, gy):
        return *_backward(ctx, gy, *ctx.saved_tensors), None


class _EdgeSumScales(torch.autograd.Function):
    @staticmethod
    def forward(ctx, bases, base, coef, scale_sp, scale_base, live, cov, x_std):
        y, w_sp, w_b, wm, lsp = _forward(bases, base, coef, scale_sp, scale_base, live)
        w = torch.cat([w_sp, w_b.unsqueeze(-1)], dim=-1)  # (in, out, K + 1)
        cw = torch.bmm(w, cov)  # cov is symmetric
        var = (cw * w).sum(-1)
        root = (var.clamp_min(0) + _EPS_VAR).sqrt()
        den = (x_std + _EPS_STD).unsqueeze(1)
        s = root / den
        ctx.save_for_backward(bases, base, coef, lsp, live, wm, w_b, w, cw, var, root, den, s)
        return y, s

    @staticmethod
    def backward(ctx, gy, gs):
        bases, base, coef, lsp, live, wm, w_b, w, cw, var, root, den, s = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_w = g_cov = g_std = None
        if gs is not None:
            g_var = (gs / (2 * root * den)) * (var > 0)
            g_w = (2 * g_var).unsqueeze(-1) * cw
            if need[6]:
                g_cov = torch.bmm((w * g_var.unsqueeze(-1)).transpose(1, 2), w)
            if need[7]:
                g_std = -(gs * s).sum(1) / den.squeeze(1)
        grads = _backward(ctx, gy, bases, base, coef, lsp, live, wm, w_b, g_w)
        return *grads, None, g_cov, g_std


def regularization(scales: list[torch.Tensor], lamb_l1: float, lamb_entropy: float) -> torch.Tensor:
    """L1 + entropy (over each node's outgoing and incoming edges) of per-layer edge scales.

    pykan's definition: ``p = s / (Σ + 1)`` along each direction, entropy ``−Σ p·log2(p + 1e-4)``
    averaged over nodes. One autograd node; the gradient is computed alongside the value.
    """
    return _Regularization.apply(float(lamb_l1), float(lamb_entropy), *scales)


class _Regularization(torch.autograd.Function):
    # Edge-scale matrices are tiny ((in, out) per layer), so the value and its gradient are
    # computed in float64 NumPy: a fraction of a µs per op against several for torch.
    @staticmethod
    def forward(ctx, lamb_l1, lamb_entropy, *scales):
        total, grads = 0.0, []
        for s_t in scales:
            s = s_t.detach().cpu().numpy().astype(np.float64)
            n_in, n_out = s.shape
            sums = (s.sum(1, keepdims=True) + 1, s.sum(0, keepdims=True) + 1)
            p = np.stack([s / sums[0], s / sums[1]])  # row-, column-normalised
            logp = np.log2(p + _EPS_LOG)
            ent = (p * logp).sum((1, 2))
            total += lamb_l1 * s.sum() - lamb_entropy * (ent[0] / n_in + ent[1] / n_out)
            g = logp + p / ((p + _EPS_LOG) * _LN2)  # d(p·log2(p + ε))/dp
            gp = g * p
            d_row = (g[0] - gp[0].sum(1, keepdims=True)) / (sums[0] * n_in)
            d_col = (g[1] - gp[1].sum(0, keepdims=True)) / (sums[1] * n_out)
            grad = lamb_l1 - lamb_entropy * (d_row + d_col)
            grads.append(torch.from_numpy(grad).to(s_t.dtype))
        ctx.save_for_backward(*grads)
        dtype = scales[0].dtype if scales else torch.get_default_dtype()
        return torch.tensor(total, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return None, None, *(grad * g for g in ctx.saved_tensors)
