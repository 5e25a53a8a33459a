"""A plan entry of ``discover``: a separable product plus a quadratic-additive rest,
``y = Π h_i(x_i) + Σ a_j(x_j) + Σ c_jk·x_j·x_k``. I₁ + I₂ + 2√(I₁I₂)·cos δ (I.37.4),
q·E + q·v·B·sin θ (I.12.11), x_1·sin(x_2) + x_3 are of this kind; the separable-product entry
fits the product alone, the additive entry the rest alone.

1. **Fit.** Block coordinate least squares: with every factor but ``h_i`` fixed, ``h_i``'s
   spline coefficients, every ``a_j``'s and every ``c_jk`` enter linearly, so each step solves
   one linear problem exactly (and the error never rises). It can stall from a poor start, so
   there are n starts (factors 1, factor k holding y), 20 passes each, the best continued.
2. **Terms.** Products ``x_j·x_k`` with a negligible share are dropped; each ``h_i`` and ``a_j``
   (the splines' values) is snapped to the library on its own.
3. **Network.** ``[n, [1, m + 1], 1]``: the sum node ``Σ a_j``, one mult node per product
   ``x_j·x_k`` and one of arity n for ``Π h_i``, added by the output node. In the data's units,
   then trained.
"""

from __future__ import annotations

import itertools

import torch

from .discover_additive import EDGE_LIB, FLAT, _bases
from .model import KAN
from .symbolic import SymbolicFit, fits_for_samples, rank
from .symbolic_lib import SYMBOLIC_LIB, resolve_lib

__all__ = ["sum_candidate"]

START_SWEEPS = 20  # per start (one per factor holding y), the best continued to SWEEPS
ROWS = 1000  # training rows the block fit uses (all of them train the network)
SWEEPS = 100  # block-coordinate passes over the factors (0.1–0.4 s; 25 left I.37.4 at 2e-3)
GOOD = 1e-4  # relative RMS residual below which the structure is built and trained
DROP = 1e-4  # a product x_j·x_k whose share of y's spread is below this is dropped


def _lstsq(design: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    gram = design.T @ design
    gram = gram + 1e-10 * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram, design.T @ y)


def fit(x: torch.Tensor, y: torch.Tensor, pairs: list[tuple[int, int]], h0=None, sweeps=None):
    """Step 1: ``(relative residual, h (n, N), rest coefficients)`` where the rest's design is
    ``[splines of every input, x_j·x_k for pairs]``; ``h0``: the factors to start from."""
    n = x.shape[1]
    bases = _bases(x).reshape(x.shape[0], n, -1)  # (N, n, K)
    prods = [x[:, j] * x[:, k] for j, k in pairs]
    rest = torch.cat(
        [bases.reshape(x.shape[0], -1)] + ([torch.stack(prods, 1)] if prods else []), 1
    )
    if h0 is None:  # the block fit can stall (4e-2 on I.37.4 from one start): a few starts
        starts = []
        for k in range(n):
            start = torch.ones(n, x.shape[0], dtype=x.dtype)
            start[k] = y
            got = fit(x, y, pairs, h0=start, sweeps=START_SWEEPS)
            if got is not None:
                starts.append(got)
        if not starts:
            return None
        h = min(starts, key=lambda g: g[0])[1]
    else:
        h = h0.clone()
    coef = torch.zeros(rest.shape[1], dtype=x.dtype)
    for _ in range(sweeps or SWEEPS):
        for i in range(n):
            others = torch.prod(torch.cat([h[:i], h[i + 1 :]]), 0)
            design = torch.cat([bases[:, i, :] * others[:, None], rest], 1)
            sol = _lstsq(design, y)
            k = bases.shape[2]
            h[i] = bases[:, i, :] @ sol[:k]
            coef = sol[k:]
            if i + 1 < n:  # the scale stays in the last factor
                rms = float(h[i].square().mean().sqrt())
                if rms < 1e-300:
                    return None
                h[i] /= rms
    pred = torch.prod(h, 0) + rest @ coef
    rel = float((pred - y).pow(2).mean().sqrt() / y.std().clamp_min(1e-300))
    return rel, h, coef


def _snap(m: KAN, x: torch.Tensor, values: torch.Tensor, subnode, spread: float) -> None:
    """Edges (0, i, subnode(i)) snapped to the library on ``values`` ``(n, N)``; a flat one is
    the constant edge."""
    fits = fits_for_samples(x.T.contiguous(), values, resolve_lib(EDGE_LIB), polish_top=None)
    for i, row in enumerate(fits):
        ranked = rank(row) if float(values[i].std()) > FLAT * spread else []
        if ranked:
            m.fix_symbolic(0, i, subnode(i), ranked[0].name, fit=ranked[0])
        else:
            c = float(values[i].mean())
            m.fix_symbolic(0, i, subnode(i), "0", fit=SymbolicFit("0", 1.0, 0.0, 0.0, c, 1.0, 0))


def _fix(m: KAN, l: int, i: int, j: int, name: str, c: float = 1.0) -> None:
    fit = SymbolicFit(name, 1.0, 0.0, c, 0.0, 1.0, SYMBOLIC_LIB[name].complexity)
    m.fix_symbolic(l, i, j, name, fit=fit)


def build(x, h, a, kept, prod_coef, seed: int) -> KAN:
    """Step 3: the network of ``Π h_i + Σ a_j + Σ c_jk x_j x_k``."""
    n, m_ = x.shape[1], len(kept)
    width, arity = [n, [1, m_ + 1], 1], [2, [2] * m_ + [n], 2]
    m = KAN(width=width, mult_arity=arity, grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    first = 1 + 2 * m_  # the product's first subnode
    with torch.no_grad():
        m.layers[0].mask.zero_()
        m.layers[0].mask[:, 0] = 1
        for k, (i, j) in enumerate(kept):
            m.layers[0].mask[i, 1 + 2 * k] = m.layers[0].mask[j, 2 + 2 * k] = 1
        m.layers[0].mask[:, first:] = torch.eye(n)
    spread = float(h.prod(0).std() + a.sum(0).std())
    _snap(m, x, a, lambda i: 0, spread)
    _snap(m, x, h, lambda i: first + i, float(h.prod(0).std()) or 1.0)
    for k, (i, j) in enumerate(kept):
        _fix(m, 0, i, 1 + 2 * k, "x", c=float(prod_coef[k]))
        _fix(m, 0, j, 2 + 2 * k, "x")
    for node in range(m_ + 2):
        _fix(m, 1, node, 0, "x")
    return m


def sum_candidate(ds: dict, seed: int, in_time) -> KAN | None:
    """The plan entry: the best ``Π h_i + rest`` network for ``ds`` (data units), trained, or
    None (fewer than 2 inputs, or no such structure within ``GOOD``)."""
    x, y = ds["train_input"].double(), ds["train_label"].double()[:, 0]
    n = x.shape[1]
    if n < 2:
        return None
    step = max(1, len(x) // ROWS)  # the block fit solves n·SWEEPS systems: bounded rows
    x, y = x[::step], y[::step]
    pairs = list(itertools.combinations(range(n), 2))
    found = fit(x, y, [])  # no products x_j·x_k first: they can trade terms with Π h_i
    if found is not None and found[0] < GOOD:
        kept = []
    else:
        found = fit(x, y, pairs)
        if found is None or not found[0] < GOOD:
            return None
        coef, nb = found[2], found[2].shape[0] - len(pairs)
        shares = [float((coef[nb + k] * x[:, i] * x[:, j]).std() / y.std()) for k, (i, j) in
                  enumerate(pairs)]  # fmt: skip
        kept = [p for p, s in zip(pairs, shares, strict=True) if s > DROP]
        fewer = fit(x, y, kept, h0=found[1])  # from where the full fit ended
        if fewer is not None and fewer[0] < GOOD:
            found = fewer
        else:
            kept = pairs
    _, h, coef = found
    nb = coef.shape[0] - len(kept)  # the splines' coefficients, then the products'
    a = torch.einsum("nik,ik->in", _bases(x).reshape(x.shape[0], n, -1), coef[:nb].reshape(n, -1))
    m = build(x, h, a, kept, coef[nb:], seed)
    m.fit(ds, opt="LBFGS", steps=40, callback=in_time)
    return m
