"""``discover(dataset, budget_s=30, seed=0)``: search for the formula behind the data.

Strategy (docs/discover.md has the reasoning):

1. The data is normalised — inputs to [-1, 1], the target to mean 0 and std 1 — so the
   sparsity penalty and the pruning thresholds mean the same for any units; every candidate is
   folded back into the data's units before it is judged (exactly: its edges are symbolic).
2. A fixed plan of candidates, cheapest and most often right first: a power law (a [n, 1, 1]
   network whose edges are logs and whose output is exp, fitted in closed form then trained);
   v·g(u) for monomials u, v (``discover_monomial``); a separable product (one mult node of
   arity n whose factors are found by alternating least squares and snapped one by one);
   v·g(Σ h_i(x_i) + Σ c_ij x_i x_j) (``discover_additive``); a separable product plus such a
   sum (``discover_sum``); a quotient of quadratic forms (``discover_rational``); exp of a
   separable product; an
   additive network [n, 1]; products [n, [0, 1], 1] (arity 2 and n); g(Σ) [n, 1, 1]; a
   product plus a sum [n, [1, 1], 1]; then wider networks that are pruned. Each network is
   trained with a small penalty, pruned where it has spare nodes, trained again, snapped edge
   by edge (auto_symbolic) and fine-tuned with its symbolic edges.
3. Each formula is tidied (exp/log pairs → powers, products expanded or factored, constants
   snapped to simple numbers only where the test data cannot tell the difference) and scored on
   the test set: NRMSE (RMSE / std of the target) and complexity (nodes of its expression tree).
4. The Pareto front of complexity against NRMSE is returned; ``best`` is its simplest entry
   within 1.5× of the lowest NRMSE (or below 1e-4, "exact"): extra terms must earn their place.

Deterministic for a seed: every network's draws come from the seed and the plan's order is
fixed. The budget only decides how far down the plan the search gets. The first exact formula
(NRMSE < 1e-4) ends the search; without one, it goes round again with new seeds while time is
left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch

from .datasets import validate_dataset
from .discover_additive import additive_candidate
from .discover_monomial import monomial_candidate
from .discover_rational import rational_candidate
from .discover_sum import sum_candidate
from .formula import formula_complete, symbolic_formula
from .model import KAN
from .simplify import complexity, evaluate, snap_to_data, tidy
from .spline import b_spline_basis, uniform_grid
from .symbolic import SymbolicFit, fits_for_samples, rank
from .symbolic_lib import resolve_lib

__all__ = ["DiscoverResult", "discover"]

LIB = ["x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "sqrt", "1/sqrt(x)", "x^1.5", "exp", "log",
       "sin", "cos", "tanh", "arctan", "gaussian", "0"]  # fmt: skip
EXACT = 1e-4  # a test NRMSE below this counts as exact
STEPS = 40  # L-BFGS steps per training phase
MAX_TIDY_OPS = 120  # operations (as written, and expanded) beyond which a formula is not tidied


@dataclass
class DiscoverResult:
    front: list[dict]  # Pareto front, by complexity: formula, test_nrmse, complexity, width, …
    best: dict | None  # the front's pick (module docstring, point 4)
    tried: list[dict] = field(default_factory=list)  # every candidate, in the order tried
    elapsed_s: float = 0.0


@dataclass
class _Data:
    ds: dict  # as given
    norm: dict  # inputs to [-1, 1], target standardised
    x_mid: torch.Tensor
    x_half: torch.Tensor
    y_mean: float
    y_std: float
    names: list[str]
    deadline: float = math.inf  # time.monotonic() by which the search must end

    def in_time(self, *_) -> bool:
        """A ``fit`` callback: training stops at the deadline (the candidate is judged as is)."""
        return time.monotonic() < self.deadline


def _prepare(dataset: dict, var_names) -> _Data:
    validate_dataset(dataset)
    ds = {k: dataset[k].detach().to(torch.float32) for k in
          ("train_input", "train_label", "test_input", "test_label")}  # fmt: skip
    if ds["train_label"].dim() != 2 or ds["train_label"].shape[1] != 1:
        raise ValueError(f"discover needs one output column, got {tuple(ds['train_label'].shape)}")
    x, y = ds["train_input"], ds["train_label"]
    lo, hi = x.min(0).values, x.max(0).values
    mid, half = (lo + hi) / 2, ((hi - lo) / 2).clamp_min(1e-12)
    mean, std = float(y.mean()), float(y.std())
    std = std if std > 1e-30 else 1.0
    norm = {
        "train_input": (x - mid) / half,
        "test_input": (ds["test_input"] - mid) / half,
        "train_label": (y - mean) / std,
        "test_label": (ds["test_label"] - mean) / std,
    }
    n = x.shape[1]
    names = list(var_names) if var_names is not None else [f"x_{i + 1}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"got {len(names)} variable names for {n} inputs")
    return _Data(ds, norm, mid, half, mean, std, names)


# --- candidates --------------------------------------------------------------------------------
def _fold(model: KAN, d: _Data) -> KAN:
    """The normalised, fully symbolic ``model`` rewritten in the data's units: the input
    normalisation goes into the first layer's ``a, b``, the target's into the last's ``c, d``."""
    with torch.no_grad():
        first, last = model.layers[0], model.layers[-1]
        aff = first.affine
        s, m = d.x_half.to(aff)[:, None], d.x_mid.to(aff)[:, None]
        a = aff[..., 0].clone()
        aff[..., 0] = a / s
        aff[..., 1] = aff[..., 1] - a * m / s
        first.grid.copy_(first.grid * s + m)
        aff = last.affine
        aff[..., 2] *= d.y_std
        aff[..., 3] *= d.y_std
        live = (last.mask[:, 0] > 0).nonzero().flatten()
        if len(live):
            aff[int(live[0]), 0, 3] += d.y_mean
        for layer in model.layers:
            layer.invalidate()
    model.set_reference_input(d.ds["train_input"])
    return model


def _kan(d: _Data, width, arity, seed: int, lamb: float, prune: bool) -> KAN | None:
    m = KAN(width=width, mult_arity=arity, grid=5, k=3, seed=seed)
    m.fit(d.norm, opt="LBFGS", steps=STEPS, lamb=lamb, callback=d.in_time)
    if prune:
        m = m.prune()
    m.fit(d.norm, opt="LBFGS", steps=STEPS, callback=d.in_time)
    m = m.refine(10)
    m.fit(d.norm, opt="LBFGS", steps=STEPS // 2, callback=d.in_time)
    m.auto_symbolic(lib=LIB)
    m.fit(d.norm, opt="LBFGS", steps=STEPS, callback=d.in_time)
    return _fold(m, d) if formula_complete(m) else None


def _power_law(d: _Data, seed: int) -> KAN | None:
    """y = C·Π x_i^p_i, fitted as log|y| = Σ p_i·log x_i + log C (positive inputs, a target of
    one sign), as the network [n, 1, 1] with log edges and an exp output edge, then trained."""
    x, y = d.ds["train_input"].double(), d.ds["train_label"].double()[:, 0]
    sign = 1.0 if bool((y > 0).all()) else -1.0 if bool((y < 0).all()) else 0.0
    if sign == 0.0 or not bool((x > 0).all()):
        return None
    design = torch.cat([x.log(), torch.ones(len(x), 1, dtype=x.dtype)], 1)
    sol = torch.linalg.lstsq(design, (sign * y).log()[:, None], driver="gelsd").solution[:, 0]
    n = x.shape[1]
    m = KAN(width=[n, 1, 1], grid=5, k=3, seed=seed)
    m.set_reference_input(d.ds["train_input"])
    for i in range(n):
        m.fix_symbolic(0, i, 0, "log", fit=SymbolicFit("log", 1.0, 0.0, float(sol[i]), 0.0, 1.0, 2))
    c0 = sign * math.exp(float(sol[n]))
    m.fix_symbolic(1, 0, 0, "exp", fit=SymbolicFit("exp", 1.0, 0.0, c0, 0.0, 1.0, 2))
    m.fit(d.ds, opt="LBFGS", steps=STEPS, callback=d.in_time)
    return m


def _best_fits(xs: torch.Tensor, ys: torch.Tensor) -> list[SymbolicFit]:
    """The best library function ``c·f(a·x + b) + d`` for each row of samples ``(E, n)``."""
    return [rank(fits)[0] for fits in fits_for_samples(xs, ys, resolve_lib(LIB), polish_top=None)]


def _als_factors(x: torch.Tensor, y: torch.Tensor, iters: int = 30) -> torch.Tensor | None:
    """The best rank-one fit y ≈ Π h_i(x_i) with each h_i a cubic spline (10 intervals over
    its data), by alternating least squares: with the other factors fixed, one factor's spline
    coefficients solve a linear problem exactly (gradient descent on a product of near-zero
    factors stalls). Returns the factors' values ``(n, batch)`` (float64), or None."""
    n, k = x.shape[1], 3
    lo, hi = x.min(0).values, x.max(0).values
    bases = []
    for i in range(n):
        pad = 1e-6 * float(hi[i] - lo[i] + 1)
        grid = uniform_grid(1, 10, float(lo[i]) - pad, float(hi[i]) + pad, k, dtype=x.dtype)
        bases.append(b_spline_basis(x[:, i : i + 1], grid, k)[:, 0, :])  # (batch, K)
    h = torch.ones(n, x.shape[0], dtype=x.dtype)
    h[0] = y  # start: everything in the first factor
    for _ in range(iters):
        for i in range(n):
            rest = torch.prod(torch.cat([h[:i], h[i + 1 :]]), 0)
            a = bases[i] * rest[:, None]
            coef = torch.linalg.lstsq(a, y[:, None], driver="gelsd").solution[:, 0]
            h[i] = bases[i] @ coef
            if i + 1 < n:  # keep the scale in the last factor: h_i of unit RMS
                rms = float(h[i].square().mean().sqrt())
                if rms < 1e-300:
                    return None
                h[i] /= rms
    return h if bool(torch.isfinite(h).all()) else None


def _separable_product(d: _Data, seed: int, outer: str = "x") -> KAN | None:
    """y = Π h_i(x_i): the factors' shapes by alternating least squares (``_als_factors``), each
    then snapped on its own; the result is the network [n, [0, 1], 1] with one mult node of
    arity n whose i-th factor is h_i(x_i), then trained. Power laws are the case
    h_i = x_i^p; x_1·cos(x_2) and x_1·exp(-x_2) are others. ``outer="exp"``: the same for
    log y (a positive target), under an exp output edge: exp(-x_1/x_2)."""
    x, y = d.ds["train_input"], d.ds["train_label"].double()[:, 0]
    n = x.shape[1]
    if n < 2 or (outer == "exp" and not bool((y > 0).all())):
        return None
    h = _als_factors(x.double(), y.log() if outer == "exp" else y)
    if h is None:
        return None
    fits = _best_fits(x.double().T.contiguous(), h)
    m = KAN(width=[n, [0, 1], 1], mult_arity=n, grid=5, k=3, seed=seed)
    m.set_reference_input(x)
    with torch.no_grad():
        m.layers[0].mask.copy_(torch.eye(n))  # factor i reads input i only
    for i, fit in enumerate(fits):
        m.fix_symbolic(0, i, i, fit.name, fit=fit)
    out = SymbolicFit(outer, 1.0, 0.0, 1.0, 0.0, 1.0, 1)
    m.fix_symbolic(1, 0, 0, outer, fit=out)
    m.fit(d.ds, opt="LBFGS", steps=STEPS, callback=d.in_time)
    return m


def _plan(n: int) -> list[tuple[str, tuple]]:
    """``(label, (width, mult_arity, lamb, prune))`` in the order tried."""
    plan = [("additive", ([n, 1], 2, 0.0, False))]
    if n >= 2:
        plan.append(("product", ([n, [0, 1], 1], 2, 1e-3, False)))
    if n >= 3:
        plan.append((f"product of {n}", ([n, [0, 1], 1], n, 1e-3, False)))
    plan.append(("g(sum)", ([n, 1, 1], 2, 1e-3, False)))
    if n >= 2:
        plan.append(("product + sum", ([n, [1, 1], 1], 2, 1e-3, True)))
    plan.append(("pruned [n,3,1]", ([n, 3, 1], 2, 3e-3, True)))
    if n >= 2:
        plan.append(("pruned [n,[2,2],1]", ([n, [2, 2], 1], 2, 3e-3, True)))
    plan.append(("pruned [n,4,2,1]", ([n, 4, 2, 1], 2, 3e-3, True)))
    return plan


def _judge(model: KAN, d: _Data, source: str) -> dict | None:
    """The candidate's formula, tidied, with its test NRMSE and complexity."""
    if model is None:
        return None
    try:
        # placeholders=True: the raw formula (every edge is symbolic, so none appears);
        # symbolic_formula's own tidying has no size guard before simplify_on_data, which ran
        # for minutes on one candidate, so discover tidies itself (_tidy) within its limits
        (expr,) = symbolic_formula(model, d.names, placeholders=True)
    except (ValueError, ArithmeticError, TypeError):  # a degenerate fit: skip the candidate
        return None
    x_test, y_test = d.ds["test_input"], d.ds["test_label"][:, 0].double().numpy()
    x_train, y_train = d.ds["train_input"], d.ds["train_label"][:, 0].double().numpy()
    expr = _tidy(expr, d.names, x_test[:256])
    # then the training data decides on numbers the network left slightly off (0.99993 → 1),
    # and the formula is tidied again (x**1 → x, sums that lost a term)
    expr = _tidy(snap_to_data(expr, d.names, x_train, y_train), d.names, x_test[:256])
    pred = evaluate(expr, d.names, x_test)
    if pred is None or not np.isfinite(pred).all():
        return None
    nrmse = float(np.sqrt(np.mean((pred - y_test) ** 2)) / (y_test.std() + 1e-300))
    return {
        "formula": expr,
        "test_nrmse": nrmse,
        "complexity": complexity(expr),
        "width": model.width,
        "source": source,
        "model": model,
    }


def _tidy(expr: sympy.Expr, names: list[str], x: torch.Tensor) -> sympy.Expr:
    """``tidy``, except for formulas whose expanded form is large: sympy's factoring ran for
    minutes on one (exp of a product of six sums, an inexact candidate for a 6-input law),
    far past the budget, and such a formula is no answer anyway."""
    if sympy.count_ops(expr) > MAX_TIDY_OPS or sympy.count_ops(sympy.expand(expr)) > MAX_TIDY_OPS:
        return expr
    return tidy(expr, names, x)


def pareto_front(cands: list[dict]) -> list[dict]:
    """Candidates no other beats on both complexity and NRMSE, by complexity (one per formula)."""
    seen, front, best = set(), [], math.inf
    for c in sorted(cands, key=lambda c: (c["complexity"], c["test_nrmse"])):
        key = sympy.srepr(c["formula"])
        if key in seen:
            continue
        seen.add(key)
        if c["test_nrmse"] < best * (1 - 1e-9):
            front.append(c)
            best = c["test_nrmse"]
    return front


def pick_best(front: list[dict]) -> dict | None:
    if not front:
        return None
    floor = max(EXACT, 1.5 * min(c["test_nrmse"] for c in front))
    return next(c for c in front if c["test_nrmse"] <= floor)


def discover(
    dataset: dict,
    budget_s: float = 30.0,
    seed: int = 0,
    progress: Callable[[dict], None] | None = None,
    var_names: list[str] | None = None,
    max_candidates: int | None = None,
    threads: int | None = 1,
) -> DiscoverResult:
    """Search for formulas behind ``dataset`` (pykan's dict, one output) within ``budget_s``
    seconds; see the module docstring. ``progress(info)`` is called after each candidate with
    ``{"tried", "front", "best", "elapsed_s", "done"}``; returning ``False`` stops the search.
    ``threads``: torch threads meanwhile (restored after; ``None`` leaves the setting alone —
    it is process-wide, so a server that budgets threads itself passes ``None``)."""
    if not (isinstance(budget_s, int | float) and 0 < budget_s <= 3600):
        raise ValueError(f"budget_s must be in (0, 3600], got {budget_s!r}")
    if threads is None:
        return _search(dataset, budget_s, seed, progress, var_names, max_candidates)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # small networks are bound by op count: 1 thread is best
    try:
        return _search(dataset, budget_s, seed, progress, var_names, max_candidates)
    finally:
        torch.set_num_threads(before)


def _search(dataset, budget_s, seed, progress, var_names, max_candidates) -> DiscoverResult:
    t0 = time.monotonic()
    d = _prepare(dataset, var_names)
    d.deadline = t0 + budget_s
    n = d.ds["train_input"].shape[1]
    tried: list[dict] = []
    longest = 0.0

    def report(done: bool) -> bool:
        front = pareto_front(tried)
        info = {"tried": len(tried), "front": front, "best": pick_best(front),
                "elapsed_s": time.monotonic() - t0, "done": done}  # fmt: skip
        return progress(info) is not False if progress else True

    # closed-form entries first, most often right (on the Feynman sets) and cheapest first
    first = [("power law", None), ("function of monomials", "monomial")]
    first += [("separable product", "separable"), ("monomial times g(sum)", "additive")]
    first += [("separable product + sum", "sum"), ("quotient of quadratic forms", "rational")]
    first += [("exp of a separable product", "separable-exp")] + _plan(n)
    for rnd in range(100):
        for label, spec in first if rnd == 0 else _plan(n):
            left = budget_s - (time.monotonic() - t0)
            if left < 1.3 * longest or (max_candidates and len(tried) >= max_candidates):
                return _finish(tried, t0, report)
            start = time.monotonic()
            model = _run(d, spec, seed + rnd)
            cand = _judge(model, d, label if rnd == 0 else f"{label}, seed {seed + rnd}")
            longest = max(longest, time.monotonic() - start)
            if cand is not None:
                tried.append(cand)
            if not report(False):
                return _result(tried, t0)
            if cand is not None and cand["test_nrmse"] < EXACT:
                # the plan runs simplest structures first: the first exact formula ends it
                return _finish(tried, t0, report)
        # a whole pass without an exact formula: round again with new seeds while time is left
    return _finish(tried, t0, report)


def _finish(tried: list[dict], t0: float, report) -> DiscoverResult:
    report(True)
    return _result(tried, t0)


def _run(d: _Data, spec, seed: int) -> KAN | None:
    try:
        if spec is None:
            return _power_law(d, seed)
        if spec == "monomial":
            return monomial_candidate(d.ds, seed, d.in_time)
        if spec == "additive":
            return additive_candidate(d.ds, seed, d.in_time)
        if spec == "sum":
            return sum_candidate(d.ds, seed, d.in_time)
        if spec == "rational":
            return rational_candidate(d.ds, seed, d.in_time)
        if spec in ("separable", "separable-exp"):
            return _separable_product(d, seed, "exp" if spec.endswith("exp") else "x")
        return _kan(d, *spec[:2], seed, *spec[2:])
    except (ValueError, RuntimeError, torch.linalg.LinAlgError):
        return None  # a candidate that cannot be built or trained is skipped, not fatal


def _result(tried: list[dict], t0: float) -> DiscoverResult:
    front = pareto_front(tried)
    return DiscoverResult(front, pick_best(front), tried, time.monotonic() - t0)
