"""From a (partly) symbolic KAN to a closed-form formula, and the formula to LaTeX, MathML, Python
and a fast evaluator.

Each symbolic edge ``c·f(a·x + b) + d`` becomes a sympy term; nodes sum their incoming terms. Terms
are written in a canonical form that reads well (``c·aⁿ·(x + b/a)ⁿ`` for powers; constants pulled
out of ``exp``), numbers are rounded to ``digits`` significant digits and snapped to integers when
that close, so no ``0.e-4`` artefacts remain.
"""

from __future__ import annotations

import keyword
import math
import re
import warnings

import numpy as np
import sympy
import torch

from .printers import mathml_name
from .symbolic_lib import SYMBOLIC_LIB

__all__ = [
    "compile_formula",
    "formula_complete",
    "formula_fidelity",
    "pykan_formula",
    "symbolic_formula",
    "to_latex",
    "to_mathml",
    "to_python",
]


def _edge_term(name: str, a: float, b: float, c: float, d: float, x: sympy.Expr) -> sympy.Expr:
    F = sympy.Float
    if name == "0":
        return F(d)
    if name == "x":
        return F(c * a) * x + F(c * b + d)
    p = SYMBOLIC_LIB[name].power
    if p is not None and float(p).is_integer() and a != 0:  # c·(a·x + b)^p = c·a^p·(x + b/a)^p
        return F(c * a**p) * (x + F(b / a)) ** int(p) + F(d)
    if name in ("sin", "cos"):
        return _trig_term(name, a, b, c, x) + F(d)
    if name == "log" and a != 0:  # c·log(a·x + b) = c·log|a| + c·log(±x + b/|a|)
        inner = (x + F(b / a)) if a > 0 else (-x - F(b / a))
        return F(c) * sympy.log(inner) + F(d + c * math.log(abs(a)))
    if p is not None and a != 0:  # fractional powers: c·|a|^p·f(±x + b/|a|)
        inner = (x + F(b / a)) if a > 0 else (-x - F(b / a))
        return F(c * abs(a) ** p) * SYMBOLIC_LIB[name].sympy_fn(inner) + F(d)
    return F(c) * SYMBOLIC_LIB[name].sympy_fn(F(a) * x + F(b)) + F(d)


def _trig_term(name: str, a: float, b: float, c: float, x: sympy.Expr) -> sympy.Expr:
    """``c·sin/cos(a·x + b)`` rewritten exactly with ``a > 0`` and the smallest phase, switching
    between sin and cos where that shrinks it (``cos(z) = sin(z + π/2)``)."""
    shift = 0.0 if name == "sin" else math.pi / 2  # as a sine: phase b + shift
    if a < 0:  # sin(−u) = −sin(u)
        a, b, shift, c = -a, -b, -shift, -c
    phase = math.remainder(b + shift, 2 * math.pi)  # in [−π, π]
    if abs(phase) > math.pi / 2:  # sin(u ± π) = −sin(u)
        phase, c = phase - math.copysign(math.pi, phase), -c
    arg = sympy.Float(a) * x
    if abs(phase) > math.pi / 4:  # closer to a cosine: sin(u) = cos(u − π/2)
        cos_phase = phase - math.copysign(math.pi / 2, phase)
        c = c * math.copysign(1.0, phase)  # sin(v + π/2) = cos v; sin(v − π/2) = −cos v
        return sympy.Float(c) * sympy.cos(arg + sympy.Float(cos_phase))
    return sympy.Float(c) * sympy.sin(arg + sympy.Float(phase))


def _round_sig(v: float, digits: int) -> float:
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, digits - 1 - int(math.floor(math.log10(abs(v)))))


def _pi_multiple(v: float, digits: int) -> sympy.Rational | None:
    """``v / π`` as a simple fraction (denominator ≤ 4, numerator ≤ 12) if ``v`` is that close."""
    for den in (1, 2, 3, 4):
        num = round(v / math.pi * den)
        if num != 0 and abs(num) <= 12 and abs(v - num * math.pi / den) <= 10.0**-digits * abs(v):
            return sympy.Rational(num, den)
    return None


def _clean_numbers(expr: sympy.Expr, digits: int) -> sympy.Expr:
    """Round every float to ``digits`` significant digits; snap near-integers; drop ~0."""
    reps = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        if not math.isfinite(v):  # (a constant pulled out of exp(…) can overflow a float)
            continue
        r = round(v)
        if abs(v) < 10.0 ** -(digits + 3):
            reps[f] = sympy.Integer(0)
        elif abs(v - r) <= 10.0**-digits * max(1.0, abs(v)) and abs(r) < 1e6:
            reps[f] = sympy.Integer(r)
        elif (q := _pi_multiple(v, digits)) is not None:
            reps[f] = q * sympy.pi
        else:
            r = _round_sig(v, digits)
            reps[f] = sympy.Integer(int(r)) if float(r).is_integer() else sympy.Float(r, digits)
    return expr.xreplace(reps)


def ex_round(expr: sympy.Expr, n_digit: int) -> sympy.Expr:
    """pykan's ``ex_round``: every float in ``expr`` rounded to ``n_digit`` decimal places."""
    return expr.xreplace(
        {f: sympy.Float(round(float(f), n_digit)) for f in expr.atoms(sympy.Float)}
    )


def _pull_exp_constants(expr: sympy.Expr) -> sympy.Expr:
    """``exp(k + u)`` → ``e^k · exp(u)`` for a number ``k``, so the factor joins the coefficient."""

    def is_target(e):
        return isinstance(e, sympy.exp) and e.args[0].is_Add and e.args[0].as_coeff_Add()[0] != 0

    def pull(e):
        k, rest = e.args[0].as_coeff_Add()
        return sympy.Float(math.exp(float(k))) * sympy.exp(rest)

    return expr.replace(is_target, pull)


def symbolic_formula(model, var_names=None, placeholders: bool = False, digits: int = 5):
    """One sympy expression per output, in variables ``x_1 … x_n`` (or ``var_names``).

    Every unpruned edge must be symbolic, unless ``placeholders``: then a numeric edge appears as
    an undefined function ``phi_l_i_j(input)``.
    """
    names = _var_names(var_names, model.width_in[0])
    nodes: list[sympy.Expr] = [sympy.Symbol(n, real=True) for n in names]
    for l, layer in enumerate(model.layers):
        outs: list[sympy.Expr] = [sympy.Integer(0)] * layer.out_dim
        aff = layer.affine.detach().double()
        for i in range(layer.in_dim):
            for j in range(layer.out_dim):
                if layer.mask[i, j] == 0:
                    continue
                name = layer.sym_funs.get((i, j)) if layer.sym_mask[i, j] > 0 else None
                if name is not None:
                    a, b, c, d = (float(v) for v in aff[i, j])
                    outs[j] = outs[j] + _edge_term(name, a, b, c, d, nodes[i])
                elif placeholders:
                    outs[j] = outs[j] + sympy.Function(f"phi_{l}_{i}_{j}")(nodes[i])
                else:
                    raise ValueError(
                        f"edge ({l},{i},{j}) is not symbolic; snap it first "
                        "(auto_symbolic) or ask for placeholders"
                    )
        nodes = _combine(model.layouts[l + 1], outs)
    exprs = [_clean_numbers(_pull_exp_constants(e), digits) for e in nodes]
    if not placeholders and model.reference_input is not None:
        x = model.reference_input
        x = x[torch.linspace(0, x.shape[0] - 1, min(256, x.shape[0])).long()]
        exprs = [_tidy(simplify_on_data(e, names, x), names, x) for e in exprs]
    return exprs


TIDY_MAX_NODES = 80  # larger formulas keep the plain form (rewriting them can take seconds)


def _tidy(expr: sympy.Expr, names: list[str], x: torch.Tensor) -> sympy.Expr:
    """``simplify.tidy`` (exp/log pairs as powers, sums of squares factored into products,
    constants merged; every rewrite checked on ``x``; products of sums are not multiplied out)
    for formulas of at most ``TIDY_MAX_NODES`` nodes."""
    from .simplify import complexity, tidy  # (simplify imports this module)

    if complexity(expr) > TIDY_MAX_NODES:
        return expr
    return tidy(expr, names, x, expand=False)


def pykan_formula(
    model, var=None, normalizer=None, output_normalizer=None, placeholders=False, digits=5
):
    """pykan's ``symbolic_formula``: ``(exprs, variables)`` in plain ``sympy.Symbol``s (no
    ``real=True``: ``expr.subs('x_1', v)`` must find the symbol), see ``KAN.symbolic_formula``.
    The formula is built (and simplified) in real symbols, which are then swapped for plain
    ones: every simplification made for real inputs stays valid for them."""
    n = model.width_in[0]
    if var is not None and len(var) != n:
        raise ValueError(f"got {len(var)} variables for {n} inputs")
    names = [v for v in var] if var is not None and all(isinstance(v, str) for v in var) else None
    exprs = symbolic_formula(model, names, placeholders=placeholders, digits=digits)
    names = _var_names(names, n)
    if var is None or names == list(var):
        inputs = [sympy.Symbol(v) for v in names]
    else:
        inputs = [sympy.sympify(v) if not isinstance(v, sympy.Basic) else v for v in var]
    if normalizer is not None:
        mean, std = normalizer
        xs = [(v - float(m)) / float(sd) for v, m, sd in zip(inputs, mean, std, strict=True)]
    else:
        xs = inputs
    swap = {sympy.Symbol(v, real=True): x for v, x in zip(names, xs, strict=True)}
    exprs = [e.xreplace(swap) for e in exprs]
    if output_normalizer is not None:
        mean, std = output_normalizer
        if not (len(mean) == len(std) == len(exprs)):
            raise ValueError("output_normalizer does not match the output layer")
        exprs = [e * float(sd) + float(m) for e, m, sd in zip(exprs, mean, std, strict=True)]
    return exprs, inputs


def _combine(layout, subs: list[sympy.Expr]) -> list[sympy.Expr]:
    """Node expressions from subnode expressions: a mult node is the product of its factors."""
    return [
        sympy.Mul(*(subs[k] for k in layout.subnodes(n))) if layout.is_mult(n) else subs[n]
        for n in range(layout.n_nodes)
    ]


def _candidates(v: float):
    """Simpler numbers to try in place of ``v``, simplest first."""
    out = [sympy.Integer(0), sympy.Integer(round(v))]
    for den in (2, 3, 4):  # exponents and coefficients such as 1/2, -3/2, 2/3
        num = round(v * den)
        if 0 < abs(num) <= 4 * den and math.gcd(num, den) == 1:
            out.append(sympy.Rational(num, den))
    for den in (1, 2, 3, 4):
        num = round(v / math.pi * den)
        if 0 < abs(num) <= 12:
            out.append(sympy.Rational(num, den) * sympy.pi)
    for den in (1, 2, 3, 4, 6, 8):  # reciprocals: Coulomb's 1/(4π), 1/(2π)
        num = round(v * math.pi * den)
        if 0 < abs(num) <= 4 and math.gcd(num, den) == 1:
            out.append(sympy.Rational(num, den) / sympy.pi)
    for root in (sympy.sqrt(2 * sympy.pi), sympy.sqrt(sympy.pi)):  # the Gaussian's 1/√(2π)
        out += [c for c in (1 / root, root, -1 / root, -root) if abs(float(c) - v) <= 1e-3 * abs(v)]
    out += [sympy.Float(_round_sig(v, d), d) for d in (1, 2, 3)]
    return out


def with_parameters(expr: sympy.Expr, names: list[str], floats: list[sympy.Float]):
    """``expr`` compiled once with its numbers ``floats`` as trailing parameters:
    ``fn(*columns, *values)``; ``None`` if NumPy cannot evaluate it. Trying another value for a
    number is then one NumPy call, not a new ``lambdify`` (that made a snapped [3,5,1] model's
    formula take 10 s)."""
    params = [sympy.Dummy(f"p{k}") for k in range(len(floats))]
    syms = [sympy.Symbol(n, real=True) for n in names]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sympy.lambdify(
                [*syms, *params],
                expr.xreplace(dict(zip(floats, params, strict=True))),
                modules="numpy",
            )
    except Exception:  # noqa: BLE001 — a formula numpy cannot evaluate is left as it is
        return None


def snap_numbers(floats, vals: list[float], error, limit: float, chosen=None) -> dict:
    """Each number in turn (the order of ``floats``) becomes the simplest of its candidates
    (``_candidates``) for which ``error(values)`` stays within ``limit``; choices accumulate
    (``vals`` is updated). Numbers already in ``chosen`` are kept. Returns ``chosen``."""
    chosen = {} if chosen is None else chosen
    for k, f in enumerate(floats):
        if f in chosen:
            continue
        for cand in _candidates(float(f)):
            if cand.is_Float and float(cand) == float(f):  # (Integer(1) == Float(1.0) in sympy)
                break
            if error([*vals[:k], float(cand), *vals[k + 1 :]]) <= limit:
                vals[k], chosen[f] = float(cand), cand
                break
    return chosen


def simplify_on_data(
    expr: sympy.Expr, names: list[str], x: torch.Tensor, rel_tol: float = 1e-4
) -> sympy.Expr:
    """Replace each number by the simplest of ``0``, an integer, a multiple of ``π/den`` (or
    ``1/(den·π)``, ``1/√(2π)``) or a shorter decimal, whenever the formula's values on ``x`` move
    by less than ``rel_tol`` of their spread (cumulatively): no artefacts like
    ``1.0·exp(…) − 1.97e-5``, no accuracy lost."""
    cols = [c.numpy() for c in x.detach().double().T]
    floats = sorted(expr.atoms(sympy.Float), key=lambda a: abs(float(a)))
    fn = with_parameters(expr, names, floats)
    if fn is None:
        return expr
    n = cols[0].shape[0]

    def values(vals: list[float]) -> torch.Tensor | None:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                v = torch.as_tensor(fn(*cols, *vals), dtype=torch.float64).expand(n)
        except Exception:  # noqa: BLE001
            return None
        return v

    vals = [float(f) for f in floats]
    ref = values(vals)
    if ref is None or not torch.isfinite(ref).all():
        return expr

    def deviation(trial: list[float]) -> float:
        v = values(trial)
        dev = math.inf if v is None else float(torch.sqrt(torch.mean((v - ref) ** 2)))
        return dev if math.isfinite(dev) else math.inf

    budget = rel_tol * float(ref.std() + ref.abs().mean() * 1e-3 + 1e-12)
    chosen = snap_numbers(floats, vals, deviation, budget)
    return expr.xreplace(chosen) if chosen else expr


def formula_complete(model) -> bool:
    """Whether every unpruned edge is symbolic."""
    return all(
        layer.sym_mask[i, j] > 0
        for layer in model.layers
        for i in range(layer.in_dim)
        for j in range(layer.out_dim)
        if layer.mask[i, j] > 0
    )


def to_latex(expr: sympy.Expr) -> str:
    return sympy.latex(expr)


def to_mathml(expr: sympy.Expr, order: str | None = None) -> str:
    """Presentation MathML wrapped in ``<math>`` (browsers render it natively); ``order="none"``
    skips sorting terms (faster for large expressions).

    sympy writes symbol names into the markup as they are; a name is data (a CSV column may be
    ``<iframe …>``), so each symbol is printed as a letters-only stand-in that is then replaced
    by the name, escaped (``printers.mathml_name``)."""
    syms = sorted(expr.free_symbols, key=lambda v: v.name)
    stand_ins = {
        v: sympy.Symbol("KanwbVar" + _letters(k), **v.assumptions0) for k, v in enumerate(syms)
    }
    body = sympy.mathml(expr.xreplace(stand_ins), printer="presentation", order=order)
    for v, stand_in in stand_ins.items():
        body = body.replace(f"<mi>{stand_in.name}</mi>", mathml_name(v.name))
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">{body}</math>'


def _letters(k: int) -> str:
    """0 → 'A', 25 → 'Z', 26 → 'BA': a name without digits or underscores (sympy would print
    those as subscripts)."""
    out = ""
    while True:
        k, r = divmod(k, 26)
        out = chr(65 + r) + out
        if k == 0:
            return out


def _var_names(var_names, n: int) -> list[str]:
    """``n`` distinct, non-empty variable names; ``x_1 … x_n`` by default."""
    if var_names is None:
        return [f"x_{i + 1}" for i in range(n)]
    names = list(var_names)
    if len(names) != n:
        raise ValueError(f"got {len(names)} variable names for {n} inputs")
    if not all(isinstance(v, str) and v.strip() for v in names):
        raise ValueError(f"variable names must be non-empty strings, got {names}")
    if len(set(names)) != n:
        raise ValueError(f"variable names must differ, got {names}")
    return names


def _identifiers(names: list[str]) -> list[str]:
    """Python identifiers for variable names (a CSV column ``"temp (C)"`` → ``temp__C_``),
    distinct."""
    out: list[str] = []
    for v in names:
        ident = re.sub(r"\W", "_", v)
        if not ident.isidentifier() or keyword.iskeyword(ident) or ident == "math":
            ident = f"v_{ident}"
        while ident in out:
            ident += "_"
        out.append(ident)
    return out


def to_python(exprs: list[sympy.Expr], var_names: list[str]) -> str:
    """Self-contained Python source of ``f(x_1, …) -> tuple`` using only ``math`` (names that
    are not Python identifiers become ones)."""
    names = _var_names(var_names, len(var_names))
    idents = _identifiers(names)
    swap = {
        sympy.Symbol(n, real=True): sympy.Symbol(i, real=True)
        for n, i in zip(names, idents, strict=True)
        if n != i
    }
    exprs = [_real_symbols(e, names).xreplace(swap) for e in exprs]
    body = ", ".join(sympy.pycode(e, fully_qualified_modules=True) for e in exprs)
    return f"import math\n\n\ndef f({', '.join(idents)}):\n    return ({body},)\n"


def _real_symbols(expr: sympy.Expr, names: list[str]) -> sympy.Expr:
    """``expr`` with every symbol named in ``names`` made the real-valued one (the formula may
    come from ``KAN.symbolic_formula``, whose symbols are plain, as pykan's)."""
    swap = {
        s: sympy.Symbol(s.name, real=True)
        for s in expr.free_symbols
        if isinstance(s, sympy.Symbol) and s.name in names and not s.is_real
    }
    return expr.xreplace(swap) if swap else expr


def compile_formula(exprs: list[sympy.Expr], var_names: list[str]):
    """A fast evaluator: ``(batch, n_var)`` tensor → ``(batch, n_out)`` tensor (float64 inside)."""
    names = _var_names(var_names, len(var_names))
    syms = [sympy.Symbol(n, real=True) for n in names]
    fns = [sympy.lambdify(syms, _real_symbols(e, names), modules="numpy") for e in exprs]

    def evaluate(x: torch.Tensor) -> torch.Tensor:
        cols = [c.numpy() for c in x.detach().double().T]
        outs = []
        for f in fns:
            v = torch.as_tensor(f(*cols), dtype=torch.float64)
            outs.append(v.expand(x.shape[0]) if v.dim() == 0 else v)
        return torch.stack(outs, dim=1).to(x.dtype)

    return evaluate


def formula_fidelity(model, dataset: dict, var_names=None) -> dict:
    """Test RMSE of the formula and of the network, side by side (formula's is None if incomplete)."""
    x, y = dataset["test_input"], dataset["test_label"]
    with torch.no_grad():
        net = float(torch.sqrt(torch.mean((model(x) - y) ** 2)))
    if not formula_complete(model):
        return {"formula_rmse": None, "network_rmse": net}
    names = _var_names(var_names, x.shape[1])
    exprs = symbolic_formula(model, names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = compile_formula(exprs, names)(x)
    err = float(torch.sqrt(torch.mean((pred.double() - y.double()) ** 2)))
    return {"formula_rmse": err if math.isfinite(err) else float("inf"), "network_rmse": net}
