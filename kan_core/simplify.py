"""Reading a snapped network as the formula a person would write: exp/log pairs become powers
and products, constants cancel or snap to simple numbers — each rewrite kept only where the
data says it changes nothing — and a complexity measure to rank formulas by.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import sympy
import torch

from .formula import _candidates, simplify_on_data, snap_numbers, with_parameters

__all__ = ["complexity", "evaluate", "snap_to_data", "tidy"]

MAX_SIMPLIFY_OPS = 30  # factoring beyond this size can take seconds: skip it


def complexity(expr: sympy.Expr) -> int:
    """Nodes of the expression tree (symbols, numbers, operations): ``x_1*x_2`` is 3."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


def evaluate(expr: sympy.Expr, names: list[str], x: torch.Tensor) -> np.ndarray | None:
    """``expr`` on the rows of ``x`` (float64), or ``None`` where NumPy cannot evaluate it."""
    syms = [sympy.Symbol(n, real=True) for n in names]
    cols = [c.numpy() for c in x.detach().double().T]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            v = sympy.lambdify(syms, expr, modules="numpy")(*cols)
    except Exception:  # noqa: BLE001 — an expression NumPy cannot evaluate
        return None
    v = np.broadcast_to(np.asarray(v, dtype=np.complex128), cols[0].shape)
    if np.abs(v.imag).max(initial=0.0) > 1e-9 * (1 + np.abs(v.real).max(initial=0.0)):
        return None
    return v.real.astype(np.float64)


def _monic(expr: sympy.Expr) -> sympy.Expr:
    """Each sum inside a product divided by the coefficient of its first term with a variable,
    which moves to the product's coefficient: 1.25·(70.5 − 0.705·x)(113.9 − 1.139·y) becomes
    c·(x − 100)(y − 100), whose numbers then snap."""

    def visit(e):
        if not e.args:
            return e
        e = e.func(*(visit(a) for a in e.args))
        if e.is_Pow and e.base.is_Add and e.exp.is_Number:
            return _monic_power(e)
        if not e.is_Mul:
            return e
        coeff, factors = sympy.Integer(1), []
        for f in e.args:
            lead = (
                next((t for t in sympy.Add.make_args(f) if t.free_symbols), None)
                if f.is_Add
                else None
            )
            c = lead.as_coeff_Mul()[0] if lead is not None else 1
            if c in (0, 1) or not c.is_Number:
                factors.append(f)
                continue
            coeff *= c
            factors.append(sympy.Add(*(t / c for t in f.args)))
        return sympy.Mul(coeff, *factors)

    return visit(expr)


def _monic_power(e: sympy.Pow) -> sympy.Expr:
    """(c·u + c·v)^p → c^p·(u + v)^p for a positive lead coefficient c, so a constant inside a
    square root meets the one outside: 2.1772·√(0.21095·x² + 0.21095·y²) → 1.0·√(x² + y²)."""
    lead = next((t for t in sympy.Add.make_args(e.base) if t.free_symbols), None)
    c = lead.as_coeff_Mul()[0] if lead is not None else 1
    if not c.is_Number or c in (0, 1) or c < 0:
        return e
    return c**e.exp * sympy.Pow(sympy.Add(*(t / c for t in e.base.args)), e.exp)


def _has_product_of_sums(expr: sympy.Expr) -> bool:
    return any(e.is_Mul and any(f.is_Add for f in e.args) for e in sympy.preorder_traversal(expr))


def _rewrites(expr: sympy.Expr, expand: bool = True) -> list[sympy.Expr]:
    """Equivalent forms to choose from (the data checks each); ``expand=False`` leaves out
    the fully expanded form (a product of sums then stays a product unless it factors)."""
    out = [expr]
    try:
        powers = sympy.powsimp(sympy.expand_power_exp(expr))  # exp(a·log x + c) → e^c·x^a
        out.append(powers)
        out.append(sympy.powsimp(powers, force=True))  # √x·√y → √(xy) (the data must agree)
        if expand:
            out.append(sympy.expand(powers))
        out.append(_monic(powers))
        if sympy.count_ops(powers) <= MAX_SIMPLIFY_OPS:
            # (not sympy.simplify: its trigsimp ran for minutes on a 48-node cos/exp formula)
            out.append(sympy.factor_terms(powers))
            if expand or not _has_product_of_sums(powers):  # (factor expands first)
                out.append(sympy.factor(powers))
    except Exception:  # noqa: BLE001 — a rewrite that fails is simply not offered
        pass
    return out


def _flat_terms(expr: sympy.Expr, names: list[str], x: torch.Tensor, tol: float) -> sympy.Expr:
    """Terms of a sum that barely vary on ``x`` (std ≤ ``tol``) replaced by their mean, so the
    constants cancel: ``x₁x₂ − 61.798·cos(0.0007·√x₂ − 0.0944) + 61.52`` (a hidden node left
    nearly constant) becomes ``x₁x₂ + 0.0014``, whose constant then snaps."""
    if not expr.is_Add:
        return expr
    keep, const = [], 0.0
    for term in expr.args:
        v = evaluate(term, names, x) if term.free_symbols else None
        if v is not None and np.isfinite(v).all() and float(v.std()) <= tol:
            const += float(v.mean())
        else:
            keep.append(term)
    if len(keep) == len(expr.args):
        return expr
    return sympy.Add(*keep, sympy.Float(const))


def tidy(expr: sympy.Expr, names: list[str], x: torch.Tensor, rel_tol: float = 1e-4, expand=True):
    """The simplest form of ``expr`` that agrees with it on the rows of ``x``: terms that are
    constant on the data merged into the constant, rewrites that turn exp/log pairs into
    powers, expand (``a(x+y)² − a(x−y)²`` → ``4a·xy``) or factor products, then numbers snapped
    to 0, integers, simple fractions or multiples of π within ``rel_tol`` of the values'
    spread. ``expand=False``: products of sums are not multiplied out (``symbolic_formula``
    keeps a mult node's product visible); they still become products or powers by factoring."""
    ref = evaluate(expr, names, x)
    if ref is None or not np.isfinite(ref).all():
        return expr
    scale = float(ref.std() + np.abs(ref).mean() * 1e-3 + 1e-12)
    best, best_size = expr, complexity(expr)
    flat = _flat_terms(expr, names, x, rel_tol * scale)
    forms = _rewrites(expr, expand) if flat is expr else [*_rewrites(flat, expand), expr]
    for form in forms:
        form = simplify_on_data(form, names, x, rel_tol)
        v = evaluate(form, names, x)
        if v is None or not np.isfinite(v).all():
            continue
        if np.sqrt(np.mean((v - ref) ** 2)) > 2 * rel_tol * scale:
            continue
        size = complexity(form)
        if size < best_size:
            best, best_size = form, size
    return best


def snap_to_data(
    expr: sympy.Expr, names: list[str], x: torch.Tensor, y: np.ndarray, slack: float = 0.05
) -> sympy.Expr:
    """Numbers snapped to simpler ones (0, integers, simple fractions, multiples of π, shorter
    decimals) while the formula's error *on the data* stays within ``1 + slack`` of what it was:
    the data, not the network, decides whether 0.99993 is 1 (``tidy`` keeps to the network)."""
    floats = sorted(expr.atoms(sympy.Float), key=lambda a: -abs(float(a)))
    if not floats:
        return expr
    cols = [c.numpy() for c in x.detach().double().T]
    fn = with_parameters(expr, names, floats)
    if fn is None:
        return expr
    scale = float(np.std(y)) + 1e-300

    def error(vals) -> float:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                v = np.broadcast_to(np.asarray(fn(*cols, *vals), dtype=np.float64), y.shape)
        except Exception:  # noqa: BLE001
            return math.inf
        e = float(np.sqrt(np.mean((v - y) ** 2)) / scale)
        return e if math.isfinite(e) else math.inf

    vals = [float(f) for f in floats]
    limit = error(vals) * (1 + slack) + 1e-12
    if not math.isfinite(limit):
        return expr
    # First all at once: each number to its simplest candidate within 1 % (a network slightly
    # off everywhere, 0.99879·x·(sin(1.0007·x − 0.001) + 0.0012), improves only jointly).
    near = [next((c for c in _candidates(v) if abs(float(c) - v) <= 0.01 * max(abs(v), 1.0)), None)
            for v in vals]  # fmt: skip
    joint = [float(c) if c is not None else v for c, v in zip(near, vals, strict=True)]
    chosen = {}
    if error(joint) <= limit:
        chosen = {f: c for f, c in zip(floats, near, strict=True) if c is not None}
        vals = joint
    chosen = snap_numbers(floats, vals, error, limit, chosen)
    return expr.xreplace(chosen) if chosen else expr
