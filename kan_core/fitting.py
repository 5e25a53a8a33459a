"""Fitting ``c·f(a·x + b) + d`` to sampled edges: many edges and many functions at once.

Each edge's samples are normalised to ``t = (x − μ)/σ`` and the fit is done in ``z = α·t + β``:
1. a coarse ``(α, β)`` grid, shared by every function and edge (float32, 32 quantile points),
   where ``c, d`` come in closed form, so R² is a few reductions — stacked over functions;
2. two zooms of a 5×5 local grid around each winner (float32, 64 points), also stacked; then
   ``c, d`` and R² on all points in float64;
3. Levenberg–Marquardt on ``(α, β, c, d)`` for the chosen (edge, function) pairs, batched over
   every pair whatever its function.
A fit whose argument leaves the function's domain on the data, or that uses the function where
it is nearly constant (so ``c`` and ``d`` would be huge and cancel), is excluded (R² = −inf).
``x`` skips the search and the polish: ``c·(α·t + β) + d`` is the same line for every ``α ≠ 0``
and ``β``, so its least-squares fit is the closed form at ``α = 1, β = 0``. (In a search, float32
rounding picks among equal R²s; it picked ill-conditioned points, tiny ``α`` and large ``β`` at the
nearly-constant cutoff, where the float64 re-check then refused the line.)
"""

from __future__ import annotations

import math

import torch

from .symbolic_lib import SymbolicFunction, domain_ok

__all__ = ["fit_functions"]

N_POINTS = 160  # samples per edge (quantiles of what the edge saw)
N_COARSE = 32  # of which the coarse grid uses this many
_F32 = torch.float32  # the searches run in float32, whatever torch's default dtype
ALPHAS = torch.cat(
    [-torch.logspace(-1, 1.1, 14, dtype=_F32).flip(0), torch.logspace(-1, 1.1, 14, dtype=_F32)]
)
BETAS = torch.linspace(-4.0, 4.0, 25, dtype=_F32)
ZOOMS = 2  # local refinements of the grid
_CENTRE = 12  # index of the offsets (0, 0) in a zoom's 5×5 grid
MIN_REL_SPREAD = 0.1  # f's std / rms on the data below this = f used as a constant: excluded
# The float64 re-check on all points only refuses gross cases: where f saturates, its spread on
# the search's subsample can differ from the full one by tens of percent, and a search winner
# at the cutoff must not be thrown away (R² = −inf) for that.
RECHECK_REL_SPREAD = MIN_REL_SPREAD / 2
LM_ITERS = 8
# Fewest samples per edge: over twice the four parameters (a, b, c, d), so that a high R² says
# more than "four parameters interpolate a handful of points".
MIN_SAMPLES = 10
_CLOSED_FORM = ("x",)  # fitted at α = 1, β = 0: its family is the same for every (α ≠ 0, β)


def _subsample(x: torch.Tensor, y: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantile subsample per edge: ``(E, n)`` → ``(E, min(m, n))``, sorted by x."""
    order = x.argsort(dim=1)
    idx = torch.linspace(0, x.shape[1] - 1, min(m, x.shape[1])).round().long()
    pick = order[:, idx]
    return x.gather(1, pick), y.gather(1, pick)


def _stack_r2(fns, z, yc, var_y, zlo, zhi, min_spread=MIN_REL_SPREAD):
    """R², c and mean f for every (function, edge, grid point).

    ``z``: one ``(E, G, m)`` argument tensor shared by all functions, or ``(F, E, G, m)`` one per
    function; ``zlo/zhi`` its range ``(E, G)`` or ``(F, E, G)``; ``yc`` centred ``(E, m)``;
    ``var_y (E, 1)``. Functions are evaluated one by one, everything else in stacked passes.
    """
    shared = z.dim() == 3
    f = torch.stack([fn.torch_fn(z if shared else z[k]) for k, fn in enumerate(fns)])
    m = f.shape[-1]
    mean_f = f.mean(-1)
    var_f = ((f * f).mean(-1) - mean_f * mean_f).clamp_min(0)
    cov = (f @ yc.unsqueeze(-1)).squeeze(-1) / m
    r2 = cov * cov / (var_f * var_y + 1e-30)
    ok = torch.stack(
        [
            domain_ok(fn.domain, zlo if shared else zlo[k], zhi if shared else zhi[k])
            for k, fn in enumerate(fns)
        ]
    )
    ok &= torch.isfinite(r2) & (var_f > min_spread**2 * (var_f + mean_f * mean_f) + 1e-30)
    r2 = torch.where(ok, r2, torch.full_like(r2, -math.inf))
    return r2, cov / (var_f + 1e-30), mean_f


def _z(alpha, beta, t):
    """Arguments ``(..., E, G, m)`` and their ranges ``(..., E, G)`` (t is sorted per edge)."""
    z = alpha.unsqueeze(-1) * t.unsqueeze(-2) + beta.unsqueeze(-1)
    ends = (alpha * t[:, :1] + beta, alpha * t[:, -1:] + beta)
    return z, torch.minimum(*ends), torch.maximum(*ends)


def _search(fns, t, y, var_y, chunk: int = 8):
    """Grid search + zooms: ``(α, β)`` per function and edge, two ``(F, E)`` tensors."""
    E = t.shape[0]
    ci = torch.linspace(0, t.shape[1] - 1, min(N_COARSE, t.shape[1])).round().long()
    tc, yc = t[:, ci].float(), y[:, ci].float()
    yc = yc - yc.mean(1, keepdim=True)
    vyc = yc.var(1, unbiased=False, keepdim=True)
    ag, bg = ALPHAS.repeat_interleave(len(BETAS)), BETAS.repeat(len(ALPHAS))
    a0, b0 = [], []
    for s in range(0, E, chunk):  # chunks keep the (F, E, G, m) stack small
        sl = slice(s, s + chunk)
        n = tc[sl].shape[0]
        zc, zlo, zhi = _z(ag.expand(n, -1), bg.expand(n, -1), tc[sl])
        r2, _, _ = _stack_r2(fns, zc, yc[sl], vyc[sl], zlo, zhi)
        best = r2.argmax(-1)  # (F, n)
        a0.append(ag[best])
        b0.append(bg[best])
    a0, b0 = torch.cat(a0, 1), torch.cat(b0, 1)
    zi = torch.linspace(0, t.shape[1] - 1, min(2 * N_COARSE, t.shape[1])).round().long()
    tz, yz = t[:, zi].float(), y[:, zi].float()
    yz = yz - yz.mean(1, keepdim=True)
    vyz = yz.var(1, unbiased=False, keepdim=True)
    steps = torch.linspace(-1.0, 1.0, 5, dtype=_F32)
    da, db = 0.5, float(BETAS[1] - BETAS[0])
    for _ in range(ZOOMS):
        alpha = a0.unsqueeze(-1) * torch.exp(da * steps).repeat_interleave(5)  # (F, E, 25)
        beta = b0.unsqueeze(-1) + db * steps.repeat(5)
        z, zlo, zhi = _z(alpha, beta, tz)
        r2, _, _ = _stack_r2(fns, z, yz, vyz, zlo, zhi)
        best, pick = r2.max(-1, keepdim=True)
        # No admissible point nearby (the winner sat at the cutoff of a smaller sample): stay
        # at the centre (offsets 0, 0) rather than jump to argmax's arbitrary first corner.
        pick = torch.where(best > -math.inf, pick, _CENTRE)
        a0, b0 = alpha.gather(-1, pick).squeeze(-1), beta.gather(-1, pick).squeeze(-1)
        da, db = da / 2.5, db / 2.5
    return a0.double(), b0.double()


def _closed_form(fns, t, y, var_y, alpha, beta):
    """c, d and R² at given ``(α, β)`` (each ``(F, E)``)."""
    z, zlo, zhi = _z(alpha.unsqueeze(-1), beta.unsqueeze(-1), t)
    yc = y - y.mean(1, keepdim=True)
    r2, c, mean_f = _stack_r2(fns, z, yc, var_y.unsqueeze(1), zlo, zhi, RECHECK_REL_SPREAD)
    d = y.mean(1, keepdim=True) - c * mean_f
    return c.squeeze(-1), d.squeeze(-1), r2.squeeze(-1)


def _polish(segments, t, y, var_y, p):
    """Levenberg–Marquardt on ``p = (α, β, c, d)`` ``(N, 4)`` for N (edge, function) pairs;
    ``segments``: ``[(fn, slice)]`` giving each pair's function. A step is kept per pair only if
    it lowers the error and keeps the argument inside the function's domain."""

    def values(q, grad: bool):
        z = q[:, :1] * t + q[:, 1:2]
        fs, fps, ok = [], [], []
        for fn, sl in segments:
            zs = z[sl]
            if grad:
                with torch.enable_grad():
                    zs = zs.detach().requires_grad_()
                    f = fn.torch_fn(zs)
                    fps.append(torch.autograd.grad(f.sum(), zs)[0])
                f = f.detach()
            else:
                f = fn.torch_fn(zs)
            fs.append(f)
            ok.append(domain_ok(fn.domain, zs.min(1).values, zs.max(1).values))
        return torch.cat(fs), (torch.cat(fps) if grad else None), torch.cat(ok)

    def sse_of(q):
        f, _, ok = values(q, False)
        sse = ((q[:, 2:3] * f + q[:, 3:4] - y) ** 2).sum(1)
        return torch.where(ok & torch.isfinite(sse), sse, torch.full_like(sse, math.inf))

    sse, lam = sse_of(p), torch.full((p.shape[0], 1, 1), 1e-3, dtype=p.dtype)
    eye = torch.eye(4, dtype=p.dtype)
    for _ in range(LM_ITERS):
        f, fp, _ = values(p, True)
        r = p[:, 2:3] * f + p[:, 3:4] - y
        J = torch.stack([p[:, 2:3] * fp * t, p[:, 2:3] * fp, f, torch.ones_like(f)], -1)
        A = J.transpose(1, 2) @ J
        g = J.transpose(1, 2) @ r.unsqueeze(-1)
        damp = lam * (A.diagonal(dim1=1, dim2=2).unsqueeze(-1) * eye + 1e-12 * eye)
        step = torch.linalg.solve(A + damp, -g).squeeze(-1)
        q = p + torch.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        new = sse_of(q)
        better = new < sse
        p = torch.where(better.unsqueeze(1), q, p)
        sse = torch.where(better, new, sse)
        lam = torch.where(better.view(-1, 1, 1), lam / 3, lam * 4).clamp(1e-9, 1e6)
    return p, 1 - sse / (t.shape[1] * var_y + 1e-300)


@torch.no_grad()
def fit_functions(x: torch.Tensor, y: torch.Tensor, fns: list[SymbolicFunction], polish=True):
    """Fit every function to every edge. ``x, y``: ``(E, n)`` samples of E edges.

    ``polish``: run Levenberg–Marquardt for all pairs (``True``), none (``False``), or the pairs
    marked in an ``(E, F)`` bool mask. Returns ``{name: (a, b, c, d, r2)}``, each an ``(E,)``
    float64 tensor, with ``a, b`` in the original x units. Samples must be finite, at least
    ``MIN_SAMPLES`` per edge.
    """
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (edges, samples), got {x.shape} and {y.shape}")
    if x.shape[1] < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} samples per edge, got {x.shape[1]}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("samples must be finite (got NaN or inf)")
    x, y = _subsample(x.double(), y.double(), N_POINTS)
    mu, sigma = x.mean(1, keepdim=True), x.std(1, keepdim=True).clamp_min(1e-12)
    t = (x - mu) / sigma
    var_y = y.var(1, unbiased=False)
    flat = var_y < 1e-14 * (1 + y.mean(1) ** 2)
    fit_fns = [fn for fn in fns if fn.name != "0"]
    params = {}
    if fit_fns:
        al = torch.ones(len(fit_fns), x.shape[0], dtype=torch.float64)
        be = torch.zeros_like(al)
        searched = [k for k, fn in enumerate(fit_fns) if fn.name not in _CLOSED_FORM]
        if searched:
            al[searched], be[searched] = _search([fit_fns[k] for k in searched], t, y, var_y)
        c, d, r2 = _closed_form(fit_fns, t, y, var_y, al, be)
        for k, fn in enumerate(fit_fns):
            params[fn.name] = [al[k], be[k], c[k], d[k], r2[k]]
    if polish is not False:
        segments, starts, picks, at = [], [], [], 0
        for k, fn in enumerate(fns):
            if fn.name == "0" or fn.name in _CLOSED_FORM:  # nothing to polish
                continue
            sel = torch.ones_like(flat) if polish is True else polish[:, k].clone()
            sel &= torch.isfinite(params[fn.name][4])
            idx = sel.nonzero().flatten()
            if len(idx):
                segments.append((fn, slice(at, at + len(idx))))
                starts.append(torch.stack([v[idx] for v in params[fn.name][:4]], 1))
                picks.append(idx)
                at += len(idx)
        if segments:
            rows = torch.cat(picks)
            p1, r2p = _polish(segments, t[rows], y[rows], var_y[rows], torch.cat(starts))
            for (fn, sl), idx in zip(segments, picks, strict=True):
                cur = params[fn.name]
                for n in range(4):
                    cur[n] = cur[n].index_copy(0, idx, p1[sl, n])
                cur[4] = cur[4].index_copy(0, idx, torch.maximum(r2p[sl], cur[4][idx]))
    out = {}
    for fn in fns:
        if fn.name == "0":
            z = torch.zeros_like(var_y)
            out[fn.name] = (z, z, z, y.mean(1), torch.where(flat, 1.0, 0.0).double())
            continue
        al, be, c, d, r2 = params[fn.name]
        a = al / sigma.squeeze(1)
        b = be - al * mu.squeeze(1) / sigma.squeeze(1)
        out[fn.name] = (a, b, c, d, torch.where(flat, torch.full_like(r2, -math.inf), r2))
    return out
