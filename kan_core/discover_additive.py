"""A plan entry of ``discover``: a monomial times a function of a quadratic-additive sum,
``y = v·g(S)`` with ``v = Π x_i^p_i`` (``v = 1`` allowed), ``g`` one of x, √x, x², 1/x, exp and
``S = Σ h_i(x_i) + Σ c_ij·x_i·x_j``. ½m(v² + u² + w²), nkT·ln(V₂/V₁), √((x₂−x₁)² + (y₂−y₁)²),
m₁m₂/((x₂−x₁)² + (y₂−y₁)²) and x₁y₁ + x₂y₂ + x₃y₃ are of this kind; none is a power law, a
separable product or a function of monomials (the entries before it).

1. **Which v and g.** For every ``p`` with entries in {−2, …, 2} ({−1, 0, 1} for 5 or more
   inputs) and every ``g``, the target ``w = g⁻¹(y/v)`` is fitted by least squares on one shared
   design: a cubic spline in each input plus every product ``x_i·x_j``. All targets are solved
   at once (one factorisation); the smallest relative residual wins, the simplest on a tie.
2. **Which terms.** Products whose share of ``w`` is negligible are dropped and the rest
   refitted; each ``h_i`` (the spline's values) is snapped to the library on its own.
3. **Network.** ``[n, [1, m + 1], 2, [0, 1], 1]``: the sum node ``Σ h_i``, one mult node per
   product and one for ``v``; the next layer adds ``S`` and passes ``v``; then ``g(S)·v``. Without
   ``v``: ``[n, [1, m], 1, 1]``. In the data's units, then trained.
"""

from __future__ import annotations

import itertools

import torch

from .discover_monomial import POWER_EDGE
from .model import KAN
from .spline import b_spline_basis
from .symbolic import SymbolicFit, fits_for_samples, rank
from .symbolic_lib import SYMBOLIC_LIB, resolve_lib

__all__ = ["additive_candidate"]

EDGE_LIB = ["x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "1/sqrt(x)", "exp", "log", "sin", "cos"]
# g's library name → its inverse on u = y/v (None where u is outside its domain)
INVERSES = {
    "x": lambda u: u,
    "sqrt": lambda u: u * u if bool((u >= 0).all()) else None,
    "x^2": lambda u: u.sqrt() if bool((u > 0).all()) else None,
    "1/x": lambda u: 1 / u if bool((u.abs() > 0).all()) else None,
    "exp": lambda u: u.log() if bool((u > 0).all()) else None,  # y = exp(S): pykan's toy
}
INTERVALS = 10  # of each input's spline in the scoring design
ROWS = 600  # training rows used to score (all are used for the final fit)
GOOD = 1e-3  # relative residual below which a structure is built and trained
DROP = 1e-4  # a product whose share of w's spread is below this is dropped
BATCH = 2048  # targets solved per batch
TIE = 1e-5  # relative residuals below this are equally good (splines of 1/x are not exact)
FLAT = 1e-5  # an h_i whose spread is below this share of S's is a constant


def _bases(x: torch.Tensor) -> torch.Tensor:
    """Cubic B-splines of each input over its range: ``(N, n)`` → ``(N, n·(INTERVALS + 3))``."""
    k = 3
    lo, hi = x.min(0).values, x.max(0).values
    h = (hi - lo) / INTERVALS
    steps = torch.arange(-k, INTERVALS + k + 1, dtype=x.dtype)
    grid = (lo - 1e-9)[:, None] + h[:, None] * steps * (1 + 1e-9)
    return b_spline_basis(x, grid, k).reshape(x.shape[0], -1)


def _design(x: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    prods = [x[:, i] * x[:, j] for i, j in pairs]
    return torch.cat([_bases(x), torch.stack(prods, 1) if prods else x[:, :0]], 1)


def _solve(design: torch.Tensor, targets: torch.Tensor):
    """Least squares for many targets ``(N, T)``: coefficients ``(m, T)`` and relative residuals
    ``(T,)`` (RMS residual / std of the target)."""
    gram = design.T @ design
    gram = gram + 1e-10 * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    chol = torch.linalg.cholesky(gram)
    coef = torch.cholesky_solve(design.T @ targets, chol)
    res = (design @ coef - targets).pow(2).mean(0).sqrt()
    return coef, res / targets.std(0).clamp_min(1e-300)


def _exponents(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cofactor exponents tried: a small grid, plus the power law's exponents rounded to
    integers with any subset of them zeroed (the inputs S reads: 3·p·z·√(x²+y²)/r⁵ needs
    r⁻⁵, outside the grid)."""
    n = x.shape[1]
    values = (-2.0, -1.0, 0.0, 1.0, 2.0) if n <= 4 else (-1.0, 0.0, 1.0)
    out = list(itertools.product(values, repeat=n))
    if bool((y > 0).all()) or bool((y < 0).all()):
        design = torch.cat([x.log(), torch.ones(len(x), 1, dtype=x.dtype)], 1)
        sol = torch.linalg.lstsq(design, y.abs().log()[:, None], driver="gelsd").solution
        base = sol[:n, 0].round().clamp(-5, 5).tolist()
        for keep in itertools.product((0.0, 1.0), repeat=n):
            out.append(tuple(b * k for b, k in zip(base, keep, strict=True)))
    return torch.tensor(sorted(set(out)), dtype=torch.float64)


def search(x: torch.Tensor, y: torch.Tensor, cofactor: bool = True):
    """The best ``(relative residual, p, g)`` by step 1 of the module docstring, or None.
    Without ``cofactor`` (inputs of any sign) only ``v = 1`` is tried: ``y = g(S)``."""
    n = x.shape[1]
    pairs = list(itertools.combinations(range(n), 2))
    design = _design(x, pairs)
    if cofactor:
        ps, logx = _exponents(x, y), x.log()
    else:
        ps, logx = torch.zeros(1, n, dtype=torch.float64), torch.zeros_like(x)
    best = None
    for start in range(0, len(ps), BATCH):
        p = ps[start : start + BATCH]
        u = y[:, None] / torch.exp(logx @ p.T)  # (N, P)
        for g, inverse in INVERSES.items():
            w = inverse(u)
            if w is None or not bool(torch.isfinite(w).all()):
                continue
            _, rel = _solve(design, w)
            flat = w.std(0) < 1e-9 * w.abs().mean(0)  # w constant: y is c·v, a power law
            size = (p != 0).sum(1) + p.abs().sum(1) / 10 + (g != "x")  # a tie goes to simpler
            key = torch.where(flat, torch.inf, rel.clamp_min(TIE) * (1 + 0.1 * size))
            k = int(key.argmin())
            if best is None or float(key[k]) < best[0]:
                best = (float(key[k]), p[k], g)
    return best


def _terms(x: torch.Tensor, w: torch.Tensor):
    """Step 2: the products kept, each input's ``h_i`` values ``(n, N)`` and the products'
    coefficients."""
    n = x.shape[1]
    pairs = list(itertools.combinations(range(n), 2))
    coef, _ = _solve(_design(x, pairs), w[:, None])
    nb = n * (INTERVALS + 3)
    shares = [float((coef[nb + k, 0] * x[:, i] * x[:, j]).std() / w.std()) for k, (i, j) in
              enumerate(pairs)]  # fmt: skip
    kept = [pr for pr, s in zip(pairs, shares, strict=True) if s > DROP]
    coef, _ = _solve(_design(x, kept), w[:, None])
    bases = _bases(x).reshape(x.shape[0], n, -1)
    h = torch.einsum("nik,ik->in", bases, coef[:nb, 0].reshape(n, -1))
    return kept, h, coef[nb:, 0]


def _fix(m: KAN, l: int, i: int, j: int, name: str, c: float = 1.0, d: float = 0.0) -> None:
    fit = SymbolicFit(name, 1.0, 0.0, c, d, 1.0, SYMBOLIC_LIB[name].complexity)
    m.fix_symbolic(l, i, j, name, fit=fit)


def build(x, h, kept, prod_coef, p, g: str, seed: int) -> KAN:
    """Step 3: the network of ``v·g(Σ h_i + Σ c_ij x_i x_j)`` with ``h_i`` snapped."""
    n, m_ = x.shape[1], len(kept)
    has_v = bool((p != 0).any())
    nodes = m_ + int(has_v)
    if has_v:
        width, arity = [n, [1, nodes], 2, [0, 1], 1], [2, [2] * m_ + [n], 2, [2], 2]
    else:
        width, arity = [n, [1, nodes], 1, 1], [2, [2] * m_ if m_ else 2, 2, 2]
    m = KAN(width=width, mult_arity=arity, grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    with torch.no_grad():
        for layer in m.layers:
            layer.mask.zero_()
        m.layers[0].mask[:, 0] = 1
        for k, (i, j) in enumerate(kept):
            m.layers[0].mask[i, 1 + 2 * k] = m.layers[0].mask[j, 2 + 2 * k] = 1
        if has_v:
            m.layers[0].mask[:, 1 + 2 * m_ :] = torch.eye(n)
        m.layers[1].mask[: 1 + m_, 0] = 1
        if has_v:
            m.layers[1].mask[1 + m_, 1] = 1
            m.layers[2].mask.copy_(torch.eye(2))
        m.layers[-1].mask.fill_(1)
    fits = fits_for_samples(x.T.contiguous(), h, resolve_lib(EDGE_LIB), polish_top=None)
    for i, row in enumerate(fits):
        ranked = rank(row) if float(h[i].std()) > FLAT * float(h.sum(0).std()) else []
        best = ranked[0] if ranked else None
        if best is None:  # an input S does not read (v's alone): a constant edge
            _fix(m, 0, i, 0, "0", d=float(h[i].mean()))
        else:
            m.fix_symbolic(0, i, 0, best.name, fit=best)
    for k, (i, j) in enumerate(kept):
        _fix(m, 0, i, 1 + 2 * k, "x", c=float(prod_coef[k]))
        _fix(m, 0, j, 2 + 2 * k, "x")
    if has_v:
        for i in range(n):
            name = POWER_EDGE[float(p[i])]
            _fix(m, 0, i, 1 + 2 * m_ + i, name, d=1.0 if name == "0" else 0.0)  # x^0 = 1
    for node in range(1 + m_):
        _fix(m, 1, node, 0, "x")
    if has_v:
        _fix(m, 1, 1 + m_, 1, "x")
        _fix(m, 2, 0, 0, g)
        _fix(m, 2, 1, 1, "x")
        _fix(m, 3, 0, 0, "x")
    else:
        _fix(m, 2, 0, 0, g)
    return m


def additive_candidate(ds: dict, seed: int, in_time) -> KAN | None:
    """The plan entry: the best ``v·g(S)`` network for ``ds`` (data units), trained, or None
    (fewer than 2 inputs, no structure fits within ``GOOD``). A monomial cofactor ``v`` needs
    every input positive (in the training and the test rows); otherwise ``v = 1``."""
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    n = x.shape[1]
    if n < 2:
        return None
    positive = bool((x > 0).all()) and bool((ds["test_input"] > 0).all())
    step = max(1, x.shape[0] // ROWS)
    found = search(x[::step], y[::step], cofactor=positive)
    if found is None or found[0] > GOOD:
        return None
    _, p, g = found
    v = torch.exp(x.log() @ p) if bool((p != 0).any()) else torch.ones_like(y)
    w = INVERSES[g](y / v)
    if w is None:
        return None
    kept, h, prod_coef = _terms(x, w)
    m = build(x, h, kept, prod_coef, p, g, seed)
    m.fit(ds, opt="LBFGS", steps=40, callback=in_time)
    return m
