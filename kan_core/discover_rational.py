"""A plan entry of ``discover``: a quotient of two quadratic forms, ``y = N(x)/D(x)`` with
``N, D`` in the span of ``1, x_i, x_i², x_i·x_j``. The weighted mean (m₁r₁ + m₂r₂)/(m₁ + m₂)
(I.18.4) and (x₁ + x₂)/(x₁ − x₂) are of this kind.

1. **Fit.** ``y·D = N`` is linear in both coefficient vectors, so they are the right singular
   vector of ``[Φ_N, −y·Φ_D]`` with the smallest singular value (columns scaled to unit norm).
   The degrees (1, 1), (2, 1), (1, 2), (2, 2) are tried in that order and the first exact one
   (relative RMS residual of ``N/D`` below ``GOOD``) is kept: lower degrees first, so a common
   factor cannot make the solution ambiguous.
2. **Network.** ``[n, [2, m], 2, [0, 1], 1]``: the per-input parts of ``N`` and ``D`` as sum
   nodes (each input's ``α·x² + β·x`` one x² edge), one mult node per product ``x_i·x_j``; the
   next layer adds ``N`` and ``D``; then ``N·(1/D)``. In the data's units, then trained.
"""

from __future__ import annotations

import itertools

import torch

from .model import KAN
from .symbolic import SymbolicFit
from .symbolic_lib import SYMBOLIC_LIB

__all__ = ["rational_candidate"]

GOOD = 1e-6  # relative RMS residual of N/D that counts as exact
SMALL = 1e-5  # a coefficient below this share of the largest is zero (float32 data: ~1e-6 noise)


def _features(x: torch.Tensor, degree: int):
    """Columns ``(N, m)`` and their labels: ``()`` constant, ``(i,)`` x_i, ``(i, i)`` x_i²,
    ``(i, j)`` x_i·x_j."""
    n = x.shape[1]
    labels = [()] + [(i,) for i in range(n)]
    if degree == 2:
        labels += list(itertools.combinations_with_replacement(range(n), 2))
    cols = [torch.ones(len(x), dtype=x.dtype)] + [x[:, list(lb)].prod(1) for lb in labels[1:]]
    return torch.stack(cols, 1), labels


def fit(x: torch.Tensor, y: torch.Tensor):
    """Step 1: ``(labels_N, a, labels_D, b)`` with ``N/D`` exact, or None."""
    for dn, dd in ((1, 1), (2, 1), (1, 2), (2, 2)):
        fn, ln = _features(x, dn)
        fd, ld = _features(x, dd)
        m = torch.cat([fn, -y[:, None] * fd], 1)
        scale = m.norm(dim=0).clamp_min(1e-300)
        _, _, vh = torch.linalg.svd(m / scale, full_matrices=False)
        v = vh[-1] / scale
        a, b = v[: fn.shape[1]], v[fn.shape[1] :]
        den = fd @ b
        if bool((den.abs() < 1e-12 * den.abs().max()).any()):
            continue
        rel = float(((fn @ a) / den - y).pow(2).mean().sqrt() / y.std().clamp_min(1e-300))
        if rel < GOOD:
            lead = b[b.abs().argmax()]  # D's largest coefficient 1: no common scale
            a, b = a / lead, b / lead
            top = float(torch.cat([a.abs(), b.abs()]).max())
            a, b = (
                torch.where(a.abs() < SMALL * top, 0, a),
                torch.where(b.abs() < SMALL * top, 0, b),
            )
            return ln, a, ld, b
    return None


def _fix(m: KAN, l: int, i: int, j: int, name: str, a=1.0, b=0.0, c=1.0, d=0.0) -> None:
    fit_ = SymbolicFit(name, a, b, c, d, 1.0, SYMBOLIC_LIB[name].complexity)
    m.fix_symbolic(l, i, j, name, fit=fit_)


def _poly_edge(m: KAN, i: int, node: int, alpha: float, beta: float, const: float) -> None:
    """``α·x² + β·x + const`` on edge (0, i, node), as one library edge."""
    if alpha != 0.0:  # α(x + β/2α)² − β²/4α
        _fix(m, 0, i, node, "x^2", b=beta / (2 * alpha), c=alpha, d=const - beta**2 / (4 * alpha))
    elif beta != 0.0:
        _fix(m, 0, i, node, "x", c=beta, d=const)
    else:
        _fix(m, 0, i, node, "0", c=0.0, d=const)


def build(x, ln, a, ld, b, seed: int) -> KAN:
    """Step 2: the network of ``N/D``."""
    n = x.shape[1]
    parts = [(ln, a), (ld, b)]
    cross = [[(lb, float(c)) for lb, c in zip(lbs, cs, strict=True)
              if len(lb) == 2 and lb[0] != lb[1] and c != 0] for lbs, cs in parts]  # fmt: skip
    mults = cross[0] + cross[1]
    width, arity = [n, [2, len(mults)], 2, [0, 1], 1], [2, [2] * len(mults) or 2, 2, [2], 2]
    m = KAN(width=width, mult_arity=arity, grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    with torch.no_grad():
        for layer in m.layers:
            layer.mask.zero_()
        m.layers[0].mask[:, :2] = 1
        for k, ((i, j), _) in enumerate(mults):
            m.layers[0].mask[i, 2 + 2 * k] = m.layers[0].mask[j, 3 + 2 * k] = 1
        m.layers[1].mask[0, 0] = m.layers[1].mask[1, 1] = 1
        for k in range(len(mults)):
            m.layers[1].mask[2 + k, 0 if k < len(cross[0]) else 1] = 1
        m.layers[2].mask.copy_(torch.eye(2))
        m.layers[3].mask.fill_(1)
    for node, (lbs, cs) in enumerate(parts):
        coef = dict(zip(lbs, cs.tolist(), strict=True))
        for i in range(n):
            const = coef.get((), 0.0) if i == 0 else 0.0
            _poly_edge(m, i, node, coef.get((i, i), 0.0), coef.get((i,), 0.0), const)
    for k, ((i, j), c) in enumerate(mults):
        _fix(m, 0, i, 2 + 2 * k, "x", c=c)
        _fix(m, 0, j, 3 + 2 * k, "x")
    _fix(m, 1, 0, 0, "x")
    _fix(m, 1, 1, 1, "x")
    for k in range(len(mults)):
        _fix(m, 1, 2 + k, 0 if k < len(cross[0]) else 1, "x")
    _fix(m, 2, 0, 0, "x")
    _fix(m, 2, 1, 1, "1/x")
    _fix(m, 3, 0, 0, "x")
    return m


def rational_candidate(ds: dict, seed: int, in_time) -> KAN | None:
    """The plan entry: the ``N/D`` network for ``ds`` (data units), trained, or None (fewer than
    2 inputs, or no exact quotient of quadratic forms)."""
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    if x.shape[1] < 2:
        return None
    found = fit(x, y)
    if found is None:
        return None
    m = build(x, *found, seed)
    m.fit(ds, opt="LBFGS", steps=40, callback=in_time)
    return m
