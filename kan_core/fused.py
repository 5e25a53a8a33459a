"""Hand-written forward/backward of a layer's numeric edges and of the regulariser.

Small KANs are bound by per-operation overhead, not arithmetic: a ``[2, 5, 1]`` training closure
was ~150 autograd nodes at a few µs each. Here a layer's numeric edges — each input's B-spline
bases and base function, the weighted sum into the outputs and, for the regulariser, each edge's
std over the batch — are one forward function that records what its backward needs (a *tape*,
a plain dict) and one backward function of a handful of matmuls and elementwise ops.

They serve twice: wrapped as one autograd node (``numeric_edges``, behind ``model(x)``), and
called directly by the trainer (``train.loss_and_grads``), which computes the whole loss gradient
with no autograd graph at all. ``tests/core/test_fused.py`` checks both against plain autograd.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .spline import (
    COMPILE_MIN_VALUES,
    _bases_t,
    _fast,
    bases_differentiable,
    bases_input_grad,
)

__all__ = [
    "BASE_FUNCTIONS",
    "N_EXTRA",
    "base_forward",
    "edge_scales",
    "edge_scales_backward",
    "features",
    "numeric_backward",
    "numeric_edges",
    "numeric_forward",
    "pack",
    "plain_numeric_forward",
    "regularization",
    "regularization_grads",
    "unpack",
]

_LN2 = math.log(2.0)
_EPS_VAR = 1e-10  # keeps sqrt differentiable at a dead edge
_EPS_STD = 0.1  # pykan: scale = std(edge) / (std(input) + 0.1)
_EPS_LOG = 1e-4  # pykan: entropy uses log2(p + 1e-4)


BASE_FUNCTIONS = ("silu", "identity", "zero")

# A layer's trainable numbers live in ONE tensor, laid out ``(out, K + N_EXTRA, in)``: per edge
# its K spline coefficients, then scale_base, scale_sp, and the symbolic branch's a, b, c, d.
# One parameter per layer instead of four: an optimiser's per-parameter work (~30 µs per tensor
# for torch's Adam) dominates a small model's step. Output-major with the input innermost, the
# weights on the features ``[B_1..B_K, b]`` are a contiguous block that multiplies the
# knot-major features ``(K + 1, in, batch)`` with no transposes, and so is their gradient.
N_EXTRA = 6


def unpack(packed: torch.Tensor):
    """Views in edge order ``(coef (in, out, K), scale_base (in, out), scale_sp (in, out),
    affine (in, out, 4))``."""
    edge_major = packed.permute(2, 0, 1)  # (in, out, K + N_EXTRA)
    return (
        edge_major[..., :-N_EXTRA],
        edge_major[..., -6],
        edge_major[..., -5],
        edge_major[..., -4:],
    )


def pack(coef, scale_base, scale_sp, affine) -> torch.Tensor:
    """Inverse of ``unpack``: a new contiguous ``(out, K + N_EXTRA, in)`` tensor."""
    edge_major = torch.cat([coef, scale_base.unsqueeze(-1), scale_sp.unsqueeze(-1), affine], -1)
    return edge_major.permute(1, 2, 0).contiguous()


def base_forward(name: str, xt: torch.Tensor, out: torch.Tensor | None = None):
    """The base function ``b(x)`` (one of ``BASE_FUNCTIONS``), written into ``out`` if given."""
    if name == "silu":
        return torch.nn.functional.silu(xt) if out is None else torch._C._nn.silu(xt, out=out)
    if name == "identity":
        return xt if out is None else out.copy_(xt)
    if name == "zero":
        return torch.zeros_like(xt) if out is None else out.zero_()
    raise ValueError(f"unknown base function {name!r}; choose from {list(BASE_FUNCTIONS)}")


_silu_backward = torch.ops.aten.silu_backward.default  # one kernel for g·σ·(1 + x − x·σ)


def _base_input_grad(name, g_base, xt):
    if name == "silu":
        return _silu_backward(g_base, xt)
    return g_base if name == "identity" else None


def features(xt: torch.Tensor, spec: tuple):
    """A layer's per-input features — what every edge weighs — and the lower-order bases the
    x-gradient needs: ``(f, prev)``.

    ``f`` is ``(K + 1, in, batch)``: the K B-spline bases, then the base function. Large inputs
    that lie inside their grid's span get ``(K, in, batch)`` instead, without the last basis:
    there the bases sum to 1 (partition of unity), so ``B_K = 1 − Σ_{g<K} B_g`` and its weight
    moves into the others' and a per-output constant (``numeric_forward``). One row fewer is
    K/(K + 1) of every matmul's work — 11 % at grid 5, k 3 — for the price of a min/max over the
    input; small inputs (bound by the number of ops, not by the matmuls) never take it.
    """
    k, consts, base_fun = spec
    if xt.numel() >= COMPILE_MIN_VALUES:  # memory-bound: one compiled kernel (see spline._fast)
        f, prev = _fast("features", xt.numel(), _features_cat, xt, k, consts, base_fun)
        if k >= 1 and _in_span(xt, consts["knots"], k):
            f[-2].copy_(f[-1])  # the base function over the last basis: f[:-1] stays contiguous
            f = f[:-1]
        return f, prev
    f = xt.new_empty(consts["knots"].shape[0] - k, *xt.shape)
    _, prev = _bases_t(xt, k, consts, out=f[:-1])
    base_forward(base_fun, xt, out=f[-1])
    return f, prev


def _in_span(xt: torch.Tensor, knots: torch.Tensor, k: int) -> bool:
    """Every input inside ``[t_k, t_{G+k}]``, where its order-``k ≥ 1`` bases sum to 1 (NaN is
    not)."""
    lo, hi = xt.amin(1), xt.amax(1)  # (aminmax along a dimension: 10× slower here)
    return bool(((lo >= knots[k, :, 0]) & (hi <= knots[-k - 1, :, 0])).all())


def _features_cat(xt, k, consts, base_fun):
    bases, prev = _bases_t(xt, k, consts)
    return torch.cat([bases, base_forward(base_fun, xt).unsqueeze(0)]), prev


def numeric_forward(xt, packed, live, spec, feats=None, with_reg=False, need_x_grad=False):
    """Every numeric edge of a layer summed into its output node.

    ``xt`` ``(in, batch)``; ``packed`` ``(out, K + N_EXTRA, in)`` (see ``unpack``: ``coef``,
    ``scale_base``, ``scale_sp``; the affine slots are not used here); ``live`` ``(out, in)`` or
    ``None`` when every edge is live;
    ``spec`` ``(k, grid constants, base function name)``. Edge ``(i, j)`` is
    ``live_ij · (scale_sp_ij · coef_ij · B_i(x) + scale_base_ij · b(x_i))``: one matmul of the
    weights ``w_ij = live_ij · [scale_sp_ij·coef_ij, scale_base_ij]`` with ``features(xt)``.
    ``feats``: a dict with ``xt``'s features ``"f"`` when already known (cached for training
    data; the covariance the regulariser needs is added to it); otherwise computed here.

    With ``with_reg`` also pykan's regularisation metric per edge ``(in, out)``:
    ``s_ij = sqrt(w_ijᵀ·cov_i·w_ij) / (std(x_i) + 0.1)``, with ``cov_i`` the covariance of input
    ``i``'s features over the batch — the edge's std relative to its input's, without a
    ``(batch, in, out)`` tensor (``edge_scales``; float64 NumPy).

    Returns ``(y (out, batch), s (NumPy) or None, tape)``; ``need_x_grad`` records what ``numeric_backward``
    needs for the gradient in ``xt``.
    """
    tape = {"need_x": need_x_grad, "spec": spec}
    if feats is None:
        f, prev = features(xt, spec)
        if need_x_grad:
            tape.update(xt=xt, prev=prev)
    else:
        f = feats["f"]
    n_out, n_w, n_in = packed.shape
    n_b = n_w - N_EXTRA  # K bases
    n_f, batch = f.shape[0], f.shape[-1]  # K + 1 features, or K without the last basis
    lsp = packed[:, -5]  # scale_sp (see unpack), (out, in)
    if live is not None:  # (None: every edge live, as in training before pruning)
        lsp = lsp * live
    # without the last basis (see features): w_g·B_g + w_K·B_K = (w_g − w_K)·B_g + w_K
    pou = n_f == n_b
    if pou:
        wm = packed[:, :n_b] - packed[:, n_b - 1 : n_b]  # its last row (0) becomes the base's
        wm.mul_(lsp.unsqueeze(1))
    else:  # the spline rows scaled (the base row too, then overwritten: no concatenation)
        wm = packed[:, :n_f] * lsp.unsqueeze(1)
    base = packed[:, n_b]  # scale_base
    if live is None:
        wm[:, -1] = base
    else:
        torch.mul(base, live, out=wm[:, -1])
    wm = wm.view(n_out, n_f * n_in)  # columns match the features' rows
    y = wm @ f.view(n_f * n_in, batch)
    if pou:
        y += (packed[:, n_b - 1] * lsp).sum(1, keepdim=True)  # Σ_i w_K: the constant per output
    tape.update(f=f, packed=packed, lsp=lsp, live=live, wm=wm)
    if not with_reg:
        return y, None, tape
    if feats is not None and "cov" in feats:
        cov, x_sd = feats["cov"], feats["x_sd"]
    else:
        ft = f.transpose(0, 1)  # (in, K + 1, batch)
        fc = ft - ft.mean(-1, keepdim=True)
        xc = xt - xt.mean(1, keepdim=True)
        n_1 = max(batch - 1, 1)
        # the covariance's and the input's sums of squares, then all small algebra in NumPy
        cov = _np64(torch.bmm(fc, fc.transpose(1, 2))) / n_1
        x_sd = np.sqrt(_np64(torch.bmm(xc.unsqueeze(1), xc.unsqueeze(2))).reshape(-1) / n_1)
        if feats is not None:  # training data: cached with its features
            feats["cov"], feats["x_sd"] = cov, x_sd
        elif need_x_grad:
            tape.update(fc=fc, xc=xc)
    w = _np64(wm).reshape(n_out, n_f, n_in).transpose(2, 0, 1)  # (in, out, K + 1)
    s, tape["reg"] = edge_scales(w, cov, x_sd)
    return y, s, tape


def _np64(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def edge_scales(w: np.ndarray, cov: np.ndarray, x_sd: np.ndarray):
    """pykan's edge scales ``s_ij = sqrt(w_ijᵀ·cov_i·w_ij) / (x_sd_i + 0.1)`` from each edge's
    feature weights ``w`` ``(in, out, F)``, each input's feature covariance ``cov`` ``(in, F, F)``
    and standard deviation ``x_sd`` ``(in,)``: ``(s (in, out), what edge_scales_backward needs)``.

    Float64 NumPy: these matrices are tiny, and a NumPy op costs a fraction of a torch op.
    """
    cw = w @ cov  # cov is symmetric
    var = (cw * w).sum(-1)
    root = np.sqrt(np.maximum(var, 0.0) + _EPS_VAR)
    den = x_sd[:, None] + _EPS_STD
    return root / den, (w, cw, var, root, den, x_sd)


def edge_scales_backward(aux, g_s: np.ndarray):
    """Gradients of ``edge_scales``' inputs ``(w, cov, x_sd)`` from that of ``s``."""
    w, cw, var, root, den, x_sd = aux
    g_var = (g_s / (2.0 * root * den)) * (var > 0)
    g_w = (2.0 * g_var)[..., None] * cw
    g_cov = (w * g_var[..., None]).transpose(0, 2, 1) @ w  # symmetric
    g_sd = -(g_s * root).sum(1) / np.square(den[:, 0])
    return g_w, g_cov, g_sd


def numeric_backward(tape: dict, gy: torch.Tensor, gs: np.ndarray | None = None):
    """Gradients ``(xt or None, packed)`` from those of ``y`` and of the edge scales ``s``
    (NumPy, as ``numeric_forward`` returns them); zero in the affine slots."""
    f, packed, lsp, live = (tape[n] for n in ("f", "packed", "lsp", "live"))
    n_f, n_in, batch = f.shape
    n_out, n_b = packed.shape[0], packed.shape[1] - N_EXTRA
    g_w = (gy @ f.view(n_f * n_in, batch).T).view(n_out, n_f, n_in)
    need_x = tape["need_x"]
    g_fc_w = per_x = None  # what the x-gradient gets from the covariance and the input's std
    if gs is not None and "reg" in tape:
        g_wr, g_cov, g_sd = edge_scales_backward(tape["reg"], gs)
        g_w = g_w + _to_torch(g_wr.transpose(1, 2, 0), g_w)  # (out, K + 1, in)
        if need_x and "fc" in tape:  # the covariance and the input's std depend on x
            n_1 = max(batch - 1, 1)
            g_fc_w = _to_torch(g_cov * (2.0 / n_1), g_w)  # (fc's rows are centred: d/dfc only)
            x_sd = tape["reg"][-1]
            per = np.divide(g_sd, x_sd * n_1, out=np.zeros_like(g_sd), where=x_sd > 0)
            per_x = _to_torch(per[:, None], g_w)  # d sd/dx = (x − mean) / ((n − 1)·sd)
    if n_f == n_b:  # features without the last basis (see numeric_forward): back to all K + 1
        full = g_w.new_empty(n_out, n_b + 1, n_in)
        full[:, : n_b - 1] = g_w[:, :-1]
        torch.sub(gy.sum(1, keepdim=True), g_w[:, :-1].sum(1), out=full[:, n_b - 1])
        full[:, n_b] = g_w[:, -1]
        g_w = full
    # written into one buffer (no concatenation pass): coef, scale_base, scale_sp, affine = 0
    g_packed = g_w.new_zeros(packed.shape)
    k = n_b
    torch.mul(g_w[:, :k], lsp.unsqueeze(1), out=g_packed[:, :k])
    torch.sum(g_w[:, :k] * packed[:, :k], 1, out=g_packed[:, k + 1])  # scale_sp
    if live is None:
        g_packed[:, k] = g_w[:, k]
    else:
        torch.mul(g_w[:, k], live, out=g_packed[:, k])
        g_packed[:, k + 1] *= live
    if not need_x:
        return None, g_packed
    _, consts, base_fun = tape["spec"]
    xt = tape["xt"]
    g_f = (tape["wm"].T @ gy).view(n_f, n_in, batch)
    if g_fc_w is not None:
        g_f.transpose(0, 1).baddbmm_(g_fc_w, tape["fc"])
    g_x = bases_input_grad(g_f[:-1], tape["prev"], consts)
    g_bx = _base_input_grad(base_fun, g_f[-1], xt)
    if g_bx is not None:
        g_x = g_x + g_bx
    if per_x is not None:
        g_x = g_x.addcmul_(per_x, tape["xc"])
    return g_x, g_packed


def _to_torch(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=_NP_DTYPES[like.dtype]))


_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def numeric_edges(xt, packed, live, spec, feats=None, with_reg=False):
    """``numeric_forward`` as one autograd node: ``y``, or ``(y, s)`` with ``with_reg``."""
    return _NumericEdges.apply(xt, packed, live, spec, feats, with_reg)


def plain_numeric_forward(xt, packed, live, spec, with_reg=False):
    """``numeric_forward``'s ``y`` (and with ``with_reg`` its edge scales ``s``) by plain autograd
    operations, differentiable to any order in ``xt`` and ``packed``: what a backward pass with
    ``create_graph=True`` differentiates (second derivatives: PDE losses, Hessians). Builds no
    ``(batch, in, out)`` tensor either, but is several times slower than the hand-written pass."""
    k, consts, base_fun = spec
    f = torch.cat([bases_differentiable(xt, k, consts), base_forward(base_fun, xt).unsqueeze(0)])
    n_b = packed.shape[1] - N_EXTRA
    lsp, base = packed[:, -5], packed[:, n_b]  # scale_sp, scale_base (out, in)
    if live is not None:
        lsp, base = lsp * live, base * live
    w = torch.cat([packed[:, :n_b] * lsp.unsqueeze(1), base.unsqueeze(1)], 1)  # (out, K + 1, in)
    y = torch.einsum("ofi,fib->ob", w, f)
    if not with_reg:
        return y
    n_1 = max(f.shape[-1] - 1, 1)
    fc = f - f.mean(-1, keepdim=True)
    cov = torch.einsum("fib,gib->ifg", fc, fc) / n_1
    var = torch.einsum("ofi,ifg,ogi->io", w, cov, w)
    x_sd = ((xt - xt.mean(1, keepdim=True)).square().sum(1) / n_1).sqrt()
    return y, (var.clamp_min(0) + _EPS_VAR).sqrt() / (x_sd + _EPS_STD).unsqueeze(1)


class _NumericEdges(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xt, packed, live, spec, feats, with_reg):
        need_x = ctx.needs_input_grad[0]
        y, s, tape = numeric_forward(xt, packed, live, spec, feats, with_reg, need_x)
        ctx.tape = tape  # intermediates and inputs only (never an output): no reference cycle
        ctx.inputs = (xt, packed, live, spec, with_reg)  # (for a differentiable backward)
        ctx.set_materialize_grads(False)
        return y if s is None else (y, torch.from_numpy(s).to(y.dtype))

    @staticmethod
    def backward(ctx, gy, gs=None):
        if torch.is_grad_enabled():  # create_graph=True: a higher derivative follows
            return (*_differentiable_backward(ctx, gy, gs), None, None, None, None)
        tape = ctx.tape
        if gy is None:
            f, packed = tape["f"], tape["packed"]
            gy = f.new_zeros(packed.shape[0], f.shape[-1])
        g_s = None if gs is None else _np64(gs)
        g_x, g_packed = numeric_backward(tape, gy, g_s)
        return g_x, g_packed, None, None, None, None


def _differentiable_backward(ctx, gy, gs):
    """``_NumericEdges``' gradients ``(xt, packed)`` as autograd-differentiable tensors: the
    forward pass redone by ``plain_numeric_forward`` and differentiated with ``create_graph``."""
    xt, packed, live, spec, with_reg = ctx.inputs
    needs = ctx.needs_input_grad[:2]
    with torch.enable_grad():
        out = plain_numeric_forward(xt, packed, live, spec, with_reg)
    outs = out if with_reg else (out,)
    pairs = [(o, g) for o, g in zip(outs, (gy, gs), strict=False) if g is not None]
    leaves = [t for t, need in zip((xt, packed), needs, strict=True) if need]
    if not pairs:
        return None, None
    outs, g_outs = zip(*pairs, strict=True)
    grads = iter(torch.autograd.grad(outs, leaves, g_outs, create_graph=True, allow_unused=True))
    return tuple(next(grads) if need else None for need in needs)


def regularization_grads(scales: list, lamb_l1: float, lamb_entropy: float):
    """L1 + entropy of per-layer edge scales (tensors or NumPy arrays) and its gradient:
    ``(value, [NumPy grad per layer])``.

    pykan's definition: ``p = s / (Σ + 1)`` along each direction (each node's outgoing and
    incoming edges), entropy ``−Σ p·log2(p + 1e-4)`` averaged over nodes. Edge-scale matrices are
    tiny, so this runs in float64 NumPy (~1 µs per op against several for torch).
    """
    total, grads = 0.0, []
    for s_t in scales:
        s = s_t if isinstance(s_t, np.ndarray) else _np64(s_t.cpu())
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
        grads.append(lamb_l1 - lamb_entropy * (d_row + d_col))
    return float(total), grads


def regularization(scales: list[torch.Tensor], lamb_l1: float, lamb_entropy: float) -> torch.Tensor:
    """``regularization_grads``' value as one autograd node."""
    return _Regularization.apply(float(lamb_l1), float(lamb_entropy), *scales)


class _Regularization(torch.autograd.Function):
    @staticmethod
    def forward(ctx, lamb_l1, lamb_entropy, *scales):
        total, grads = regularization_grads(scales, lamb_l1, lamb_entropy)
        ctx.save_for_backward(
            *(torch.from_numpy(g).to(s.dtype) for g, s in zip(grads, scales, strict=True))
        )
        ctx.inputs = (lamb_l1, lamb_entropy, scales)  # (for a differentiable backward)
        dtype = scales[0].dtype if scales else torch.get_default_dtype()
        return torch.tensor(total, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():  # create_graph=True: the same sum by autograd operations
            lamb_l1, lamb_entropy, scales = ctx.inputs
            wanted = [s for s, need in zip(scales, ctx.needs_input_grad[2:], strict=True) if need]
            with torch.enable_grad():
                total = _plain_regularization(scales, lamb_l1, lamb_entropy)
            grads = iter(torch.autograd.grad(total, wanted, grad, create_graph=True))
            return None, None, *(next(grads) if n else None for n in ctx.needs_input_grad[2:])
        return None, None, *(grad * g for g in ctx.saved_tensors)


def _plain_regularization(scales, lamb_l1: float, lamb_entropy: float) -> torch.Tensor:
    """``regularization_grads``' value by torch operations (differentiable to any order)."""
    total = 0.0
    for s in scales:
        p_row = s / (s.sum(1, keepdim=True) + 1)
        p_col = s / (s.sum(0, keepdim=True) + 1)
        ent_row = (p_row * torch.log2(p_row + _EPS_LOG)).sum(1).mean()
        ent_col = (p_col * torch.log2(p_col + _EPS_LOG)).sum(0).mean()
        total = total + lamb_l1 * s.sum() - lamb_entropy * (ent_row + ent_col)
    return total
