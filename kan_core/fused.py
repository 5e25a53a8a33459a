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


def edge_sum(feats, coef, scale_sp, scale_base, live, cov=None, x_std=None):
    """Every numeric edge summed into its output node.

    ``feats`` ``(K + 1, in, batch)`` = ``[B_1..B_K, base]`` of each input; ``coef`` ``(in, out, K)``;
    ``scale_sp``, ``scale_base``, ``live`` ``(in, out)``. Edge ``(i, j)`` weighs the features by
    ``w_ij = [coef_ij · scale_sp_ij, scale_base_ij] · live_ij``; returns ``y`` ``(out, batch)``.

    With ``cov`` ``(in, K + 1, K + 1)`` (each input's feature covariance over the batch) and
    ``x_std`` ``(in,)``, also returns pykan's regularisation metric per edge ``(in, out)``:
    ``s_ij = sqrt(w_ijᵀ·cov_i·w_ij) / (x_std_i + 0.1)``, the edge's std over the batch relative to
    its input's. ``cov`` and ``x_std`` may carry gradients (hidden layers).
    """
    if cov is None:
        return _EdgeSum.apply(feats, coef, scale_sp, scale_base, live)
    return _EdgeSumScales.apply(feats, coef, scale_sp, scale_base, live, cov, x_std)


def _weights(coef, scale_sp, scale_base, live):
    lsp = scale_sp * live
    w = torch.cat([coef * lsp.unsqueeze(-1), (scale_base * live).unsqueeze(-1)], dim=-1)
    return w, lsp  # w: (in, out, K + 1)


def _matmul_forward(feats, w):
    n_in, n_out, k1 = w.shape
    wm = w.permute(1, 2, 0).reshape(n_out, k1 * n_in)  # matches feats' (K + 1, in) row order
    return wm, wm @ feats.reshape(k1 * n_in, feats.shape[-1])


def _matmul_backward(ctx, gy, feats, wm, w_shape):
    """Gradients of ``y = wm @ feats`` for ``w`` ``(in, out, K + 1)`` and ``feats``."""
    n_in, n_out, k1 = w_shape
    gw = (gy @ feats.reshape(k1 * n_in, -1).T).view(n_out, k1, n_in).permute(2, 0, 1)
    gfeats = (wm.T @ gy).view(feats.shape) if ctx.needs_input_grad[0] else None
    return gw, gfeats


def _param_grads(ctx, gw, coef, lsp, live):
    """Chain ``gw`` ``(in, out, K + 1)`` back to ``coef``, ``scale_sp``, ``scale_base``."""
    need = ctx.needs_input_grad
    g_sp = gw[..., :-1]
    g_coef = g_sp * lsp.unsqueeze(-1) if need[1] else None
    g_ssp = (g_sp * coef).sum(-1) * live if need[2] else None
    g_sb = gw[..., -1] * live if need[3] else None
    return g_coef, g_ssp, g_sb


class _EdgeSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feats, coef, scale_sp, scale_base, live):
        w, lsp = _weights(coef, scale_sp, scale_base, live)
        wm, y = _matmul_forward(feats, w)
        ctx.save_for_backward(feats, coef, lsp, live, wm)
        ctx.w_shape = w.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        feats, coef, lsp, live, wm = ctx.saved_tensors
        gw, gfeats = _matmul_backward(ctx, gy, feats, wm, ctx.w_shape)
        return gfeats, *_param_grads(ctx, gw, coef, lsp, live), None


class _EdgeSumScales(torch.autograd.Function):
    @staticmethod
    def forward(ctx, feats, coef, scale_sp, scale_base, live, cov, x_std):
        w, lsp = _weights(coef, scale_sp, scale_base, live)
        wm, y = _matmul_forward(feats, w)
        cw = torch.bmm(w, cov)  # (in, out, K + 1); cov is symmetric
        var = (cw * w).sum(-1)
        root = (var.clamp_min(0) + _EPS_VAR).sqrt()
        den = (x_std + _EPS_STD).unsqueeze(1)
        s = root / den
        ctx.save_for_backward(feats, coef, lsp, live, wm, w, cw, var, root, den, s)
        return y, s

    @staticmethod
    def backward(ctx, gy, gs):
        feats, coef, lsp, live, wm, w, cw, var, root, den, s = ctx.saved_tensors
        need = ctx.needs_input_grad
        gw, gfeats = _matmul_backward(ctx, gy, feats, wm, w.shape)
        g_cov = g_std = None
        if gs is not None:
            g_var = (gs / (2 * root * den)) * (var > 0)
            gw = gw + (2 * g_var).unsqueeze(-1) * cw
            if need[5]:
                g_cov = torch.bmm((w * g_var.unsqueeze(-1)).transpose(1, 2), w)
            if need[6]:
                g_std = -(gs * s).sum(1) / den.squeeze(1)
        return gfeats, *_param_grads(ctx, gw, coef, lsp, live), None, g_cov, g_std


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
