"""Snapping edges to symbolic functions ``c·f(a·x + b) + d``.

Fitting is batched over edges *and* candidates: each edge's samples are normalised to
``t = (x − μ)/σ``; for every ``(α, β)`` on a grid the best ``c, d`` come in closed form (least
squares), so R² is a few reductions; the grid is then zoomed around the winner. ``a, b`` follow
from ``α, β``. Fits whose argument leaves the function's domain on the data, or that use a
function which is nearly constant over the data (huge cancelling constants), are excluded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .symbolic_lib import SYMBOLIC_LIB, SymbolicFunction, domain_ok, resolve_lib

__all__ = [
    "SymbolicFit",
    "auto_symbolic",
    "fit_functions",
    "fix_symbolic",
    "rank",
    "suggest_symbolic",
    "unfix_symbolic",
]

N_POINTS = 160  # samples per edge used for fitting (quantiles of what the edge saw)
ALPHAS = torch.cat([-torch.logspace(-1, 1.1, 14).flip(0), torch.logspace(-1, 1.1, 14)])
BETAS = torch.linspace(-4.0, 4.0, 25)
ZOOMS = 3  # local refinements of the (α, β) grid
MIN_REL_SPREAD = 0.02  # f's std / rms on the data below this = f used as a constant: excluded
COMPLEXITY_WEIGHT = 1.0  # one unit of complexity is worth a 10× smaller residual
R2_CAP = 5.0  # R² beyond 1 − 1e-5 earns nothing more: the spline itself is not that exact


@dataclass
class SymbolicFit:
    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def score(self) -> float:
        q = min(-math.log10(max(1.0 - self.r2, 1e-12)), R2_CAP) if self.r2 > -1e9 else -1e9
        return q - COMPLEXITY_WEIGHT * self.complexity

    def curve(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * SYMBOLIC_LIB[self.name].torch_fn(self.a * x + self.b) + self.d


def _score_tensor(r2: torch.Tensor, complexity: int) -> torch.Tensor:
    """``SymbolicFit.score`` for a tensor of R² values (−inf where undefined)."""
    q = (-torch.log10((1 - r2).clamp_min(1e-12))).clamp(max=R2_CAP)
    return torch.where(torch.isfinite(r2), q - COMPLEXITY_WEIGHT * complexity, -math.inf)


def _subsample(x: torch.Tensor, y: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantile subsample per edge: ``(E, n)`` → ``(E, min(m, n))``, sorted by x."""
    order = x.argsort(dim=1)
    n = x.shape[1]
    idx = torch.linspace(0, n - 1, min(m, n)).round().long()
    pick = order[:, idx]
    return x.gather(1, pick), y.gather(1, pick)


def _grid_r2(fn: SymbolicFunction, t, yc, var_y, alpha, beta):
    """R², c and d for every (edge, grid point). ``t, yc``: (E, m); ``alpha, beta``: (E, G)."""
    z = alpha.unsqueeze(-1) * t.unsqueeze(1) + beta.unsqueeze(-1)  # (E, G, m)
    f = fn.torch_fn(z)
    mean_f = f.mean(-1)
    fc = f - mean_f.unsqueeze(-1)
    var_f = (fc * fc).mean(-1)
    cov = (fc * yc.unsqueeze(1)).mean(-1)
    r2 = cov * cov / (var_f * var_y + 1e-30)
    tlo, thi = t[:, :1], t[:, -1:]
    zlo = torch.minimum(alpha * tlo + beta, alpha * thi + beta)
    zhi = torch.maximum(alpha * tlo + beta, alpha * thi + beta)
    ok = domain_ok(fn.domain, zlo, zhi) & torch.isfinite(r2)
    ok &= var_f > MIN_REL_SPREAD**2 * (var_f + mean_f * mean_f) + 1e-30
    r2 = torch.where(ok, r2, torch.full_like(r2, -math.inf))
    c = cov / (var_f + 1e-30)
    return r2, c, mean_f


def _fit_one(fn: SymbolicFunction, t, y, var_y):
    """Best (α, β, c, d, r2) per edge for one function. Shapes: t, y (E, m) → each (E,)."""
    E = t.shape[0]
    yc = y - y.mean(1, keepdim=True)
    var_y = var_y.unsqueeze(1)
    alpha = ALPHAS.to(t.dtype).repeat_interleave(len(BETAS)).expand(E, -1)
    beta = BETAS.to(t.dtype).repeat(len(ALPHAS)).expand(E, -1)
    da, db = None, float(BETAS[1] - BETAS[0])
    for level in range(ZOOMS + 1):
        r2, _, _ = _grid_r2(fn, t, yc, var_y, alpha, beta)
        best = r2.argmax(1, keepdim=True)
        a0, b0 = alpha.gather(1, best), beta.gather(1, best)
        if level == ZOOMS:
            break
        # Zoom: a 7×7 local grid; α steps multiplicatively (the coarse grid is log-spaced).
        da = 0.35 / 2**level if da is None else da / 2
        db = db / 2
        steps = torch.linspace(-1.5, 1.5, 7, dtype=t.dtype)
        alpha = (a0 * torch.exp(da * steps).repeat_interleave(7)).contiguous()
        beta = (b0 + db * steps.repeat(7)).contiguous()
    r2, c, mean_f = _grid_r2(fn, t, yc, var_y, a0, b0)
    d = y.mean(1, keepdim=True) - c * mean_f
    return a0.squeeze(1), b0.squeeze(1), c.squeeze(1), d.squeeze(1), r2.squeeze(1)


def _polish(fn: SymbolicFunction, t, y, var_y, p, iters: int = 10):
    """Levenberg–Marquardt on ``(α, β, c, d)`` from the grid's best; ``p``: (E, 4). Each edge
    keeps a step only if it lowers the error and stays inside the function's domain."""
    m = t.shape[1]

    def sse_of(q):
        z = q[:, :1] * t + q[:, 1:2]
        r = q[:, 2:3] * fn.torch_fn(z) + q[:, 3:4] - y
        zlo, zhi = z.min(1).values, z.max(1).values
        ok = domain_ok(fn.domain, zlo, zhi)
        sse = (r * r).sum(1)
        return torch.where(ok & torch.isfinite(sse), sse, torch.full_like(sse, math.inf))

    sse, lam = sse_of(p), torch.full((p.shape[0], 1, 1), 1e-3, dtype=p.dtype)
    eye = torch.eye(4, dtype=p.dtype)
    for _ in range(iters):
        with torch.enable_grad():
            z = (p[:, :1] * t + p[:, 1:2]).requires_grad_()
            f = fn.torch_fn(z)
            (fp,) = torch.autograd.grad(f.sum(), z)
        f = f.detach()
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
    r2 = 1 - sse / (m * var_y + 1e-300)
    return p, r2


@torch.no_grad()
def fit_functions(x: torch.Tensor, y: torch.Tensor, fns: list[SymbolicFunction], polish=True):
    """Fit every function to every edge. ``x, y``: ``(E, n)`` samples of E edges.

    ``polish`` runs Levenberg–Marquardt after the grid search: ``True`` for all, or an ``(E, F)``
    bool mask saying which (edge, function) pairs to polish. Returns ``{name: (a, b, c, d, r2)}``
    with each an ``(E,)`` tensor in the original x units.
    """
    x, y = _subsample(x.double(), y.double(), N_POINTS)
    mu, sigma = x.mean(1, keepdim=True), x.std(1, keepdim=True).clamp_min(1e-12)
    t = (x - mu) / sigma
    var_y = y.var(1, unbiased=False)
    flat = var_y < 1e-14 * (1 + y.mean(1) ** 2)
    out = {}
    for k, fn in enumerate(fns):
        if fn.name == "0":
            z = torch.zeros_like(var_y)
            out[fn.name] = (z, z, z, y.mean(1), torch.where(flat, 1.0, 0.0).double())
            continue
        al, be, c, d, r2 = _fit_one(fn, t, y, var_y)
        sel = (
            torch.ones_like(flat)
            if polish is True
            else (polish[:, k] if polish is not False else torch.zeros_like(flat))
        )
        sel = sel & torch.isfinite(r2)
        if sel.any():
            idx = sel.nonzero().flatten()
            p0 = torch.stack([al[idx], be[idx], c[idx], d[idx]], 1)
            p1, r2p = _polish(fn, t[idx], y[idx], var_y[idx], p0)
            al, be, c, d = (v.index_copy(0, idx, p1[:, n]) for n, v in enumerate((al, be, c, d)))
            r2 = r2.index_copy(0, idx, torch.maximum(r2p, r2[idx]))
        a = al / sigma.squeeze(1)
        b = be - al * mu.squeeze(1) / sigma.squeeze(1)
        r2 = torch.where(flat, torch.full_like(r2, -math.inf), r2)
        out[fn.name] = (a, b, c, d, r2)
    return out


_POWER = {
    "x^2": 2,
    "x^3": 3,
    "x^4": 4,
    "x^5": 5,
    "1/x": -1,
    "1/x^2": -2,
    "1/x^3": -3,
    "1/x^4": -4,
    "1/x^5": -5,
    "sqrt": 0.5,
    "x^0.5": 0.5,
    "x^1.5": 1.5,
    "1/sqrt(x)": -0.5,
    "1/x^0.5": -0.5,
}


def canonical(
    name: str, a: float, b: float, c: float, d: float
) -> tuple[float, float, float, float]:
    """Remove the redundancy between ``a, b`` and ``c, d`` (well-scaled for training, clean to read):
    powers get ``|a| = 1`` (``c·(a·x+b)^p = c·|a|^p·(±x + b/|a|)^p``), ``x`` gets ``a = 1, b = 0``,
    ``exp`` gets ``b = 0`` and ``log`` gets ``|a| = 1``."""
    if a == 0 or not all(map(math.isfinite, (a, b, c, d))):
        return a, b, c, d
    s, m = math.copysign(1.0, a), abs(a)
    if name in _POWER:
        p = _POWER[name]
        if float(p).is_integer():
            return 1.0, b / a, c * a**p, d
        return s, b / m, c * m**p, d
    if name == "x":
        return 1.0, 0.0, c * a, c * b + d
    if name == "exp" and abs(b) < 30:
        return a, 0.0, c * math.exp(b), d
    if name == "log":
        return s, b / m, c, d + c * math.log(m)
    return a, b, c, d


def rank(fits: list[SymbolicFit]) -> list[SymbolicFit]:
    """Best first: nearly-as-good simpler candidates beat marginally better complex ones."""
    usable = [f for f in fits if math.isfinite(f.r2)]
    # "0" (a constant) only leads when the edge really is flat.
    return sorted(usable, key=lambda f: (f.name == "0" and f.r2 < 0.999, -f.score))


def _edge_samples(model, edges, x):
    """Inputs and numeric activations of the given edges: two ``(E, batch)`` tensors."""
    hs = model.layer_inputs(x)
    xs, ys, cache = [], [], {}
    for l, i, j in edges:
        if l not in cache:
            cache[l] = model.layers[l].numeric_activations(hs[l])
        xs.append(hs[l][:, i])
        ys.append(cache[l][:, i, j])
    return torch.stack(xs), torch.stack(ys)


POLISH_TOP = 6  # candidates per edge refined by Levenberg–Marquardt before the final ranking


def _fits_for_edges(model, edges, lib, x) -> list[list[SymbolicFit]]:
    """Grid-fit every function on every edge, polish each edge's best few, then return fits."""
    fns = resolve_lib(lib)
    ex, ey = _edge_samples(model, edges, x)
    coarse = fit_functions(ex, ey, fns, polish=False)
    scores = torch.stack([_score_tensor(coarse[f.name][4], f.complexity) for f in fns], 1)
    top = scores.topk(min(POLISH_TOP, len(fns)), dim=1).indices
    mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)
    raw = fit_functions(ex, ey, fns, polish=mask)
    out = []
    for e in range(len(edges)):
        fits = []
        for fn in fns:
            a, b, c, d, r2 = (float(v[e]) for v in raw[fn.name])
            a, b, c, d = canonical(fn.name, a, b, c, d)
            fits.append(SymbolicFit(fn.name, a, b, c, d, r2, fn.complexity))
        out.append(fits)
    return out


def suggest_symbolic(model, l, i, j, lib=None, topk=5, x=None, exclude=()):
    """Top ``topk`` candidates for edge ``(l, i, j)``, best first (pruned edges refuse)."""
    model._check_edge(l, i, j)
    if model.edge_state(l, i, j) == "pruned":
        raise ValueError(f"edge ({l},{i},{j}) is pruned; restore it before asking for suggestions")
    fits = _fits_for_edges(model, [(l, i, j)], lib, x)[0]
    ranked = rank([f for f in fits if f.name not in set(exclude)])
    return ranked[:topk]


def _set_symbolic(model, l, i, j, fit: SymbolicFit) -> None:
    layer = model.layers[l]
    with torch.no_grad():
        layer.affine[i, j] = torch.tensor([fit.a, fit.b, fit.c, fit.d], dtype=layer.affine.dtype)
    layer.sym_mask[i, j] = 1.0
    layer.sym_funs[(i, j)] = fit.name
    layer.invalidate()


def fix_symbolic(model, l, i, j, name, x=None, fit: SymbolicFit | None = None) -> SymbolicFit:
    """Snap edge ``(l, i, j)`` to ``name``, fitting ``a, b, c, d`` (or using ``fit``'s)."""
    model._check_edge(l, i, j)
    if name not in SYMBOLIC_LIB:
        raise ValueError(f"unknown symbolic function {name!r}")
    if fit is None:
        fit = _fits_for_edges(model, [(l, i, j)], [name], x)[0][0]
        if not math.isfinite(fit.r2):
            raise ValueError(f"{name} is undefined (or degenerate) on edge ({l},{i},{j})'s inputs")
    elif fit.name != name:
        raise ValueError(f"fit is for {fit.name!r}, not {name!r}")
    _set_symbolic(model, l, i, j, fit)
    return fit


def unfix_symbolic(model, l, i, j) -> None:
    layer = model._check_edge(l, i, j)
    layer.sym_mask[i, j] = 0.0
    layer.sym_funs.pop((i, j), None)
    layer.invalidate()


def auto_symbolic(model, lib=None, r2_threshold=None, x=None, exclude=None):
    """Snap every active (numeric, unpruned) edge to its best candidate, all edges in one batch.

    ``r2_threshold``: only snap edges whose best candidate reaches it (``None`` = snap all).
    ``exclude``: ``{(l, i, j): names}`` the user rejected. Returns ``{(l, i, j): SymbolicFit}``.
    """
    edges = [e for e in model.edges() if model.edge_state(*e) == "active"]
    if not edges:
        return {}
    exclude = exclude or {}
    done = {}
    for e, fits in zip(edges, _fits_for_edges(model, edges, lib, x), strict=True):
        ranked = rank([f for f in fits if f.name not in set(exclude.get(e, ()))])
        if not ranked:
            continue
        best = ranked[0]
        if r2_threshold is not None and best.r2 < r2_threshold:
            continue
        _set_symbolic(model, *e, best)
        done[e] = best
    return done
