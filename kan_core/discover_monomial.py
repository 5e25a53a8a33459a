"""A plan entry of ``discover``: formulas of monomials, ``y = v·g(u)`` with
``u = Π x_i^q_i``, ``v = Π x_i^p_i`` (``v = 1`` allowed) and ``g(u) = c·f(a·u + b) + d``, ``f``
from the symbolic library. sin(x_1·x_2), exp(-x_1/x_2), sin²(x_1·x_2/x_3) = (1 − cos 2u)/2,
the Gaussian exp(-(x_2/x_1)²/2)/x_1, m_0/√(1 − v²/c²), 2U(1 − cos kd) are all of this kind, and
none is a power law (the entry before it in the plan) or a separable product.

For positive inputs the search works on ``z = log x``, where ``u = exp(q·z)``:

1. **Direction and cofactor.** Every ``q`` with entries in {−1, −½, 0, ½, 1} (largest
   |q_i| = 1, first nonzero positive; {−1, 0, 1} for 5 or more inputs) and every ``p`` in
   {−1, 0, 1}ⁿ is scored by a least-squares cubic spline ``y/v ≈ G(q·z)`` (all pairs at once, from
   the normal equations; a target of any sign: x_1·sin(x_2·x_3)). For a target of one sign also
   ``log|y| ≈ p·z + G(q·z)`` with ``p`` free; ``p`` is then only defined up to a multiple of
   ``q`` (``G`` absorbs ``s·t``), so the cofactors tried are ``p̂ + s·q`` rounded to halves.
   The right pair leaves (nearly) no residual.
2. **Outer function.** ``g`` is snapped to the library on the samples ``(u, y/v)``, for ``u``
   and its square and square root (``1/√(1 − u)`` needs ``u = v²/c²``); the simplest exact
   candidate wins.
3. **Polish.** The library's 16 best fits are refined by
   Levenberg–Marquardt in float64: on a short range (u ∈ [0.01, 1]) sin(u), tanh(u) and a
   rational approximant agree to 1e-7, and only the exact one reaches float64 precision.
4. The network is ``[n, [0, 1], 1]`` (``v = 1``: one mult node whose factors are the powers
   ``x_i^q_i``, the output edge ``g``) or ``[n, [0, 2], [0, 1], 1]`` (``u`` and ``v`` as mult
   nodes, then ``g(u)·v``), in the data's units, trained.
"""

from __future__ import annotations

import itertools
import math

import torch

from .model import KAN
from .spline import b_spline_basis
from .symbolic import SymbolicFit, fits_for_samples
from .symbolic_lib import SYMBOLIC_LIB, resolve_lib

__all__ = ["monomial_candidate"]

OUTER_LIB = ["x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "1/sqrt(x)", "exp", "log", "sin",
             "cos", "tanh", "arctan", "arcsin", "gaussian"]  # fmt: skip
# exponent → library edge x^e (a factor of a mult node); 0 is the constant factor 1
POWER_EDGE = {1.0: "x", 2.0: "x^2", 3.0: "x^3", 4.0: "x^4", 5.0: "x^5", -1.0: "1/x",
              -2.0: "1/x^2", -3.0: "1/x^3", -4.0: "1/x^4", -5.0: "1/x^5", 0.5: "sqrt",
              -0.5: "1/sqrt(x)", 1.5: "x^1.5", 0.0: "0"}  # fmt: skip
INTERVALS = 12  # of the cubic spline in t that scores a direction
TOP_DIRECTIONS = 3  # per model (v = 1, and v·g(u)) carried to the library fit
MAX_COFACTORS = 8  # per direction (those that fit as well as the best)
BOSE = "1/(exp(x)-1)"  # the one composite outer function (see _bose)
BOSE_PAIRS = 24  # (q, p) pairs it is fitted for
BATCH = 128  # directions scored per batch
SCORE_ROWS = 500  # training rows that score (direction, cofactor) pairs
POLISH = 16  # library fits refined by Levenberg–Marquardt before the final choice


def directions(n: int) -> torch.Tensor:
    """Candidate ``q`` ``(K, n)`` float64: entries in {−1, −½, 0, ½, 1} (n ≤ 4) or {−1, 0, 1},
    largest |q_i| = 1, first nonzero entry positive (``g`` absorbs the sign)."""
    values = (-1.0, -0.5, 0.0, 0.5, 1.0) if n <= 4 else (-1.0, 0.0, 1.0)
    out = [
        q
        for q in itertools.product(values, repeat=n)
        if max(map(abs, q)) == 1.0 and next(v for v in q if v != 0) > 0
    ]
    return torch.tensor(out, dtype=torch.float64)


def _spline_bases(t: torch.Tensor) -> torch.Tensor:
    """Cubic B-spline bases ``(N, K, INTERVALS + 3)`` of each column of ``t`` ``(N, K)`` over its
    own range."""
    k = 3
    lo, hi = t.min(0).values, t.max(0).values
    h = ((hi - lo) / INTERVALS).clamp_min(1e-9)
    steps = torch.arange(-k, INTERVALS + k + 1, dtype=t.dtype)
    grid = (lo - 1e-9)[:, None] + h[:, None] * steps * (1 + 1e-9)
    return b_spline_basis(t, grid, k)


def _residuals(design: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares per direction: ``design (K, N, m)``, ``y (N,)`` → (RMS residual ``(K,)``,
    coefficients ``(K, m)``), by ridge-regularised normal equations (deterministic)."""
    gram = design.transpose(1, 2) @ design
    gram = gram + 1e-10 * gram.diagonal(0, 1, 2).mean(1)[:, None, None] * torch.eye(gram.shape[1])
    rhs = design.transpose(1, 2) @ y
    coef = torch.linalg.solve(gram, rhs)
    res = (design @ coef - y).pow(2).mean(1).sqrt()
    return res, coef


def score_directions(z: torch.Tensor, y: torch.Tensor, qs: torch.Tensor, linear: bool):
    """RMS residual ``(K,)`` of ``y ≈ G(q·z)`` (``linear``: ``y ≈ p·z + G(q·z)``) for every
    direction, and the ``p`` of each ``(K, n)`` (zeros without ``linear``)."""
    res, ps = [], []
    for start in range(0, len(qs), BATCH):
        q = qs[start : start + BATCH]
        bases = _spline_bases(z @ q.T).permute(1, 0, 2)  # (K, N, B)
        design = torch.cat([z.expand(len(q), -1, -1), bases], 2) if linear else bases
        r, coef = _residuals(design, y.expand(len(q), -1)[..., None])
        res.append(r[:, 0])
        ps.append(coef[:, : z.shape[1], 0] if linear else torch.zeros(len(q), z.shape[1]))
    return torch.cat(res), torch.cat(ps).double()


def score_cofactors(z: torch.Tensor, y: torch.Tensor, qs: torch.Tensor, ps: torch.Tensor):
    """Relative RMS residual ``(K, P)`` of ``y/v_p ≈ G(q·z)`` for every direction ``q`` and
    cofactor ``p`` (a target of any sign: x_1·sin(x_2·x_3)), from the normal equations (the
    residuals themselves would be a (K, N, P) tensor)."""
    targets = y[:, None] / torch.exp(z @ ps.T)  # (N, P)
    targets = targets / targets.std(0).clamp_min(1e-300)
    targets = targets - targets.mean(0)
    total = targets.pow(2).sum(0)  # (P,)
    out = []
    for start in range(0, len(qs), BATCH):
        bases = _spline_bases(z @ qs[start : start + BATCH].T).permute(1, 0, 2)  # (K, N, B)
        gram = bases.transpose(1, 2) @ bases
        ridge = 1e-10 * gram.diagonal(0, 1, 2).mean(1)[:, None, None]
        rhs = bases.transpose(1, 2) @ targets  # (K, B, P)
        coef = torch.linalg.solve(gram + ridge * torch.eye(gram.shape[1]), rhs)
        rss = (total - (coef * rhs).sum(1)).clamp_min(0)
        out.append((rss / len(z)).sqrt())
    return torch.cat(out)


def cofactors(z, logy, q: torch.Tensor, p_hat: torch.Tensor) -> list[torch.Tensor]:
    """Simple ``p`` (halves, |p_i| ≤ 3) on the line ``p̂ + s·q``, best residual of
    ``log|y| − p·z ≈ G(q·z)`` first (at most ``MAX_COFACTORS``)."""
    shifts = {0.0}
    for i in q.nonzero().flatten().tolist():
        for m in range(-6, 7):
            shifts.add((m / 2 - float(p_hat[i])) / float(q[i]))
    cands = {tuple(((p_hat + s * q) * 2).round().div(2).tolist()) for s in shifts}
    cands = [c for c in cands if max(map(abs, c)) <= 3]
    if not cands:
        return []
    ps = torch.tensor(sorted(cands), dtype=torch.float64)
    bases = _spline_bases((z @ q)[:, None]).permute(1, 0, 2)  # (1, N, B)
    targets = logy[None, :] - ps @ z.T  # (P, N)
    res, _ = _residuals(bases.expand(len(ps), -1, -1), targets[..., None])
    res = res[:, 0]
    # p̂ + s·q with s exact fit equally well: all of them go on to the library fit
    order = [i for i in res.argsort().tolist() if res[i] <= 1.5 * res.min() + 1e-9]
    return [ps[i] for i in order[:MAX_COFACTORS]]


def _powers(x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    return torch.exp(x.log() @ e)


def _edges_ok(q: torch.Tensor, p: torch.Tensor) -> bool:
    return all(float(e) in POWER_EDGE for e in torch.cat([q, p]))


def _bose(z: torch.Tensor) -> torch.Tensor:
    """1/(eᶻ − 1), Planck's and Bose's law: ħω³/(eᴴ − 1) with H = ħω/kT is v·g(u) with this g
    (a composite: the network spends an exp edge and a 1/x edge on it)."""
    return 1 / torch.expm1(z.clamp(-40, 40))


def _bose_fits(x, y, pairs):
    """``c/(e^(a·u + b) − 1) + d`` fitted to ``(u, y/v)`` for each pair, from a few starting
    rates ``a`` (c, d in closed form), then polished; candidates as in ``_outer_fits``."""
    out = []
    for q, p in pairs:
        u, g = _powers(x, q), y / _powers(x, p)
        best = None
        for rate in (0.25, 0.5, 1.0, 2.0, 4.0):
            a = rate / float(u.median())
            f = _bose(a * u)
            design = torch.stack([f, torch.ones_like(f)], 1)
            if not bool(torch.isfinite(f).all()):
                continue
            c, d = torch.linalg.lstsq(design, g[:, None]).solution[:, 0].tolist()
            err = float((c * f + d - g).pow(2).mean() / g.var())
            if best is None or err < best[0]:
                best = (err, a, c, d)
        if best is None:
            continue
        err, a, c, d = best
        size = 4 + int((q != 0).sum()) + int((p != 0).sum())
        out.append(_polished(x, y, (err, size, q, p, SymbolicFit(BOSE, a, 0.0, c, d, 1 - err, 4))))
    return out


def _outer_fits(x, y, pairs) -> list[tuple[float, int, torch.Tensor, torch.Tensor, SymbolicFit]]:
    """Library fits of ``g`` on ``(u, y/v)`` for every ``(q, p)`` in ``pairs`` and the scales of
    ``q`` whose powers are library edges: ``(1 − R², size, q, p, fit)``, best first."""
    rows = []
    for q, p in pairs:
        for scale in (1.0, 2.0, 0.5, -1.0, -2.0, -0.5):
            qs = q * scale
            if _edges_ok(qs, p):
                rows.append((qs, p))
    if not rows:
        return []
    us = torch.stack([_powers(x, q) for q, _ in rows])
    gs = torch.stack([y / _powers(x, p) for _, p in rows])
    keep = torch.isfinite(us).all(1) & torch.isfinite(gs).all(1)
    if not bool(keep.any()):
        return []
    rows = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
    fits = fits_for_samples(us[keep], gs[keep], resolve_lib(OUTER_LIB), polish_top=None)
    out = []
    for (q, p), row in zip(rows, fits, strict=True):
        for f in row:
            if math.isfinite(f.r2):
                size = f.complexity + int((q != 0).sum()) + int((p != 0).sum())
                out.append((max(1 - f.r2, 0.0), size, q, p, f))
    out.sort(key=lambda o: o[0])
    # polished: the best overall, and each function's best (approximants built from powers
    # can fill the top: c·u + d·u³ ≈ sin u on u ∈ [0, 1], before the polish shows which is exact)
    firsts = {o[4].name: k for k, o in reversed(list(enumerate(out)))}
    chosen = set(range(min(POLISH, len(out)))) | set(firsts.values())
    out = [_polished(x, y, o) if k in chosen else o for k, o in enumerate(out)]
    # the log model's pairs (last in ``pairs``) carry the cofactors a composite needs
    out += _bose_fits(x, y, [(q, p) for q, p in pairs[::-1] if _edges_ok(q, p)][:BOSE_PAIRS])
    floor = min((o[0] for o in out), default=1.0)
    # exact (to float64 after the polish) beats nearly exact: sin(u) on u ∈ [0.01, 1] is
    # nearly u − u³/6, and a rational approximant must not win on size
    return sorted(out, key=lambda o: (o[0] > max(100 * floor, 1e-14), o[1], o[0]))


def _jacobian(fn, u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """d(c·f(a·u + b) + d)/d(a, b, c, d) ``(N, 4)``; f' from one backward pass (f acts
    elementwise)."""
    a, b, c, _ = theta.tolist()
    arg = (a * u + b).requires_grad_(True)
    with torch.enable_grad():
        f = fn(arg)
        (slope,) = torch.autograd.grad(f.sum(), arg)
    f = f.detach()
    return torch.stack([c * slope * u, c * slope, f, torch.ones_like(f)], 1)


def _polished(x, y, cand):
    """``cand`` with its ``a, b, c, d`` refined by Levenberg–Marquardt in float64 (the library
    fit stops at a few iterations: near-equal functions on a short range stay apart by 1e-7)."""
    _, size, q, p, fit = cand
    fn = _bose if fit.name == BOSE else SYMBOLIC_LIB[fit.name].torch_fn
    u, g = _powers(x, q), y / _powers(x, p)
    theta = torch.tensor([fit.a, fit.b, fit.c, fit.d], dtype=torch.float64)

    def resid(t):
        return t[2] * fn(t[0] * u + t[1]) + t[3] - g

    r = resid(theta)
    lam = 1e-3
    for _ in range(40):
        jac = _jacobian(fn, u, theta)
        jtj = jac.T @ jac
        step = torch.linalg.solve(jtj + lam * torch.diag(jtj.diagonal() + 1e-30), -jac.T @ r)
        r_new = resid(theta + step)
        if bool(torch.isfinite(r_new).all()) and r_new.pow(2).sum() < r.pow(2).sum():
            theta, r, lam = theta + step, r_new, lam / 3
        else:
            lam *= 4
            if lam > 1e8:
                break
    err = float(r.pow(2).mean() / g.var())
    if not err < cand[0]:
        return cand
    a, b, c, d = theta.tolist()
    return (err, size, q, p, SymbolicFit(fit.name, a, b, c, d, 1 - err, fit.complexity))


def _edge(m: KAN, l: int, i: int, j: int, name: str, fit: SymbolicFit | None = None) -> None:
    if fit is None:
        d = 1.0 if name == "0" else 0.0  # the constant factor 1
        fit = SymbolicFit(name, 1.0, 0.0, 1.0, d, 1.0, SYMBOLIC_LIB[name].complexity)
    m.fix_symbolic(l, i, j, name, fit=fit)


def build(x: torch.Tensor, q: torch.Tensor, p: torch.Tensor, fit: SymbolicFit, seed: int) -> KAN:
    """The network of ``Π x^p · g(Π x^q)`` (see the module docstring, point 4)."""
    n = x.shape[1]
    if not bool((p != 0).any()) and fit.name != BOSE:
        m = KAN(width=[n, [0, 1], 1], mult_arity=n, grid=5, k=3, seed=seed)
        m.set_reference_input(x)
        with torch.no_grad():
            m.layers[0].mask.copy_(torch.eye(n))
        for i in range(n):
            _edge(m, 0, i, i, POWER_EDGE[float(q[i])])
        _edge(m, 1, 0, 0, fit.name, fit)
        return m
    if fit.name == BOSE:
        return _build_bose(x, q, p, fit, seed)
    m = KAN(width=[n, [0, 2], [0, 1], 1], mult_arity=[2, [n, n], [2], 2], grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    with torch.no_grad():
        m.layers[0].mask.copy_(torch.cat([torch.eye(n), torch.eye(n)], 1))
        m.layers[1].mask.copy_(torch.eye(2))
    for i in range(n):
        _edge(m, 0, i, i, POWER_EDGE[float(q[i])])
        _edge(m, 0, i, n + i, POWER_EDGE[float(p[i])])
    _edge(m, 1, 0, 0, fit.name, fit)
    _edge(m, 1, 1, 1, "x")
    _edge(m, 2, 0, 0, "x")
    return m


def _build_bose(x, q, p, fit: SymbolicFit, seed: int) -> KAN:
    """``v·c/(e^(a·u + b) − 1) + d``: ``[n, [0, 2], 2, [0, 1], 1]``, u and v as mult nodes,
    then an exp edge (``e^(a·u + b)``) and a 1/x edge (``c/(e − 1) + d``), then the product."""
    n = x.shape[1]
    width, arity = [n, [0, 2], 2, [0, 1], 1], [2, [n, n], 2, [2], 2]
    m = KAN(width=width, mult_arity=arity, grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    with torch.no_grad():
        m.layers[0].mask.copy_(torch.cat([torch.eye(n), torch.eye(n)], 1))
        m.layers[1].mask.copy_(torch.eye(2))
        m.layers[2].mask.copy_(torch.eye(2))
    for i in range(n):
        _edge(m, 0, i, i, POWER_EDGE[float(q[i])])
        _edge(m, 0, i, n + i, POWER_EDGE[float(p[i])])
    m.fix_symbolic(1, 0, 0, "exp", fit=SymbolicFit("exp", fit.a, fit.b, 1.0, 0.0, 1.0, 2))
    _edge(m, 1, 1, 1, "x")
    m.fix_symbolic(2, 0, 0, "1/x", fit=SymbolicFit("1/x", 1.0, -1.0, fit.c, fit.d, 1.0, 2))
    _edge(m, 2, 1, 1, "x")
    _edge(m, 3, 0, 0, "x")
    return m


def monomial_candidate(ds: dict, seed: int, in_time) -> KAN | None:
    """The plan entry: the best ``v·g(u)`` network for ``ds`` (pykan's dict, data units), trained,
    or None (fewer than 2 inputs, inputs not all positive, nothing fits)."""
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    n = x.shape[1]
    if n < 2 or not (bool((x > 0).all()) and bool((ds["test_input"] > 0).all())):
        return None
    z, qs = x.log(), directions(n)
    step = max(1, len(z) // SCORE_ROWS)
    ps = torch.tensor(list(itertools.product((-1.0, 0.0, 1.0), repeat=n)), dtype=torch.float64)
    res = score_cofactors(z[::step], y[::step], qs, ps).flatten()
    top = res.argsort()[: 2 * TOP_DIRECTIONS].tolist()
    pairs = [(qs[k // len(ps)], ps[k % len(ps)]) for k in top]
    sign = 1.0 if bool((y > 0).all()) else -1.0 if bool((y < 0).all()) else 0.0
    if sign != 0.0:
        zs, logy = z[::step], (sign * y[::step]).log()
        res, ps = score_directions(zs, logy, qs, linear=True)
        for k in res.argsort()[:TOP_DIRECTIONS].tolist():
            pairs += [(qs[k], p) for p in cofactors(zs, logy, qs[k], ps[k])]
    unique = {(tuple((q + 0.0).tolist()), tuple((p + 0.0).tolist())): (q, p) for q, p in pairs}
    ranked = _outer_fits(x, y, list(unique.values()))  # (+ 0.0: −0.0 and 0.0 are one pair)
    if not ranked:
        return None
    _, _, q, p, fit = ranked[0]
    m = build(x, q, p, fit, seed)
    m.fit(ds, opt="LBFGS", steps=40, callback=in_time)
    return m
