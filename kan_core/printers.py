"""Small, fast MathML and LaTeX printers for the expressions ``symbolic_formula`` builds.

sympy's printers take ~65 ms (MathML) and ~60 ms (LaTeX) on the ~8 KB placeholder formula of an
unfinished [4,10,10,1] model; these walk the tree once (a few ms). They know the node types our
formulas contain — sums, products, powers, numbers, π, variables ``x_i``, built-in functions and
the undefined ``phi_l_i_j`` placeholders — and print anything else through sympy's own printers.
Terms keep sympy's internal order (no canonical sorting, which is most of sympy's cost).
"""

from __future__ import annotations

from html import escape

import sympy
from sympy.core.function import AppliedUndef

__all__ = ["fast_latex", "fast_mathml", "mathml_name"]

_MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">{}</math>'
_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atanh": "artanh", "Abs": "abs"}


def _paren(body: str) -> str:
    return f"<mrow><mo>(</mo>{body}<mo>)</mo></mrow>"


def _text(n: str) -> str:
    """A name as MathML text: names (CSV column names included) are data, never markup."""
    return escape(str(n), quote=True)


def mathml_name(n: str) -> str:
    base, _, sub = n.partition("_")
    if sub.isdigit():
        return f"<msub><mi>{_text(base)}</mi><mn>{sub}</mn></msub>"
    return f"<mi>{_text(n)}</mi>"


def _number(e: sympy.Expr) -> str:
    if e.is_Rational and not e.is_Integer:
        return f"<mfrac><mn>{abs(e.p)}</mn><mn>{e.q}</mn></mfrac>"
    return f"<mn>{_short(e)}</mn>"


def _atom_like(e: sympy.Expr) -> bool:
    return e.is_Symbol or e.is_Function or (e.is_Number and e >= 0) or e is sympy.pi


def _fraction(e: sympy.Mul) -> tuple[list, list]:
    """A product's factors split into numerator and denominator (negative powers, rationals)."""
    num, den = [], []
    for f in e.args:
        if f.is_Pow and f.exp.is_Number and f.exp < 0:
            den.append(f.base ** (-f.exp))
        elif f.is_Rational and not f.is_Integer:
            num.append(sympy.Integer(f.p))
            den.append(sympy.Integer(f.q))
        else:
            num.append(f)
    return num, den


def _mul(e: sympy.Expr) -> str:
    num, den = _fraction(e)

    def chain(fs):
        parts = [_p(f) if _atom_like(f) or f.is_Pow else _paren(_p(f)) for f in fs if f != 1]
        return "<mo>&#x2062;</mo>".join(parts) or "<mn>1</mn>"

    body = chain(num)
    return f"<mfrac><mrow>{body}</mrow><mrow>{chain(den)}</mrow></mfrac>" if den else body


def _p(e: sympy.Expr) -> str:
    if e.is_Symbol:
        return mathml_name(e.name)
    if e is sympy.pi:
        return "<mi>&#x3C0;</mi>"
    if e is sympy.E:
        return "<mi>e</mi>"
    if e.is_Number:
        return ("<mo>-</mo>" if e < 0 else "") + _number(e)
    if e.is_Add:
        out = ""
        for k, t in enumerate(e.args):
            neg = t.could_extract_minus_sign()
            body = _p(-t if neg else t)
            out += ("<mo>-</mo>" if neg else ("<mo>+</mo>" if k else "")) + body
        return f"<mrow>{out}</mrow>"
    if e.is_Mul:
        if e.could_extract_minus_sign():
            return f"<mrow><mo>-</mo>{_mul(-e)}</mrow>"
        return f"<mrow>{_mul(e)}</mrow>"
    if e.is_Pow:
        base, exp = e.args
        if exp == sympy.Rational(1, 2):
            return f"<msqrt>{_p(base)}</msqrt>"
        if exp.is_Number and exp < 0:
            return f"<mfrac><mn>1</mn>{_p(base ** (-exp))}</mfrac>"
        b = _p(base) if _atom_like(base) and not base.is_Function else _paren(_p(base))
        return f"<msup>{b}{_p(exp)}</msup>"
    if isinstance(e, sympy.exp):
        return f"<msup><mi>e</mi><mrow>{_p(e.args[0])}</mrow></msup>"
    if isinstance(e, AppliedUndef) or (e.is_Function and len(e.args) == 1):
        name = type(e).__name__
        head = f"<mi>{_text(name if isinstance(e, AppliedUndef) else _NAMES.get(name, name))}</mi>"
        return f"<mrow>{head}<mo>&#x2061;</mo>{_paren(_p(e.args[0]))}</mrow>"
    # Anything else: sympy's printer on a copy whose names are escaped (sympy writes them raw).
    safe = e.xreplace({v: sympy.Symbol(_text(v.name), **v.assumptions0) for v in e.free_symbols})
    return f"<mrow>{sympy.mathml(safe, printer='presentation')}</mrow>"


def fast_mathml(expr: sympy.Expr) -> str:
    """Presentation MathML of ``expr`` wrapped in ``<math>``."""
    return _MATH.format(_p(sympy.sympify(expr)))


# --- LaTeX ------------------------------------------------------------------------------------
_TEX_FUNS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "tanh": r"\tanh",
    "log": r"\log",
    "asin": r"\operatorname{asin}",
    "acos": r"\operatorname{acos}",
    "atan": r"\operatorname{atan}",
    "atanh": r"\operatorname{atanh}",
    "sign": r"\operatorname{sign}",
}


def _tex_name(n: str) -> str:
    base, _, sub = n.partition("_")
    if sub.isdigit():
        return f"{base}_{{{sub}}}"
    if isinstance(n, str) and n.startswith("phi_"):
        return r"\varphi_{" + n[4:].replace("_", ",") + "}"
    return rf"\mathrm{{{_tex_text(n)}}}" if len(n) > 1 else _tex_text(n)


_TEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"} | {
    "\\": r"\backslash{}",
    "^": r"\^{}",
    "~": r"\~{}",
}


def _tex_text(n: str) -> str:
    """A name as LaTeX text: its special characters escaped (a CSV column may hold any)."""
    return "".join(_TEX_SPECIAL.get(c, c) for c in n)


def _short(e: sympy.Expr) -> str:
    """``|e|`` as text: floats with up to 6 significant digits (formulas are rounded anyway)."""
    return f"{float(abs(e)):.6g}" if e.is_Float else sympy.sstr(abs(e))


def _tex_number(e: sympy.Expr) -> str:
    if e.is_Rational and not e.is_Integer:
        return rf"\frac{{{abs(e.p)}}}{{{e.q}}}"
    text = _short(e)
    mantissa, _, exp = text.partition("e")
    return rf"{mantissa} \cdot 10^{{{int(exp)}}}" if exp else text


def _tex_mul(e: sympy.Expr) -> str:
    num, den = _fraction(e)

    def chain(fs):
        fs = [f for f in fs if f != 1]
        parts = [
            _t(f) if _atom_like(f) or f.is_Pow or len(fs) == 1 else rf"\left({_t(f)}\right)"
            for f in fs
        ]
        return " ".join(parts) or "1"

    return rf"\frac{{{chain(num)}}}{{{chain(den)}}}" if den else chain(num)


def _t(e: sympy.Expr) -> str:
    if e.is_Symbol:
        return _tex_name(e.name)
    if e is sympy.pi:
        return r"\pi"
    if e is sympy.E:
        return "e"
    if e.is_Number:
        return ("-" if e < 0 else "") + _tex_number(e)
    if e.is_Add:
        out = ""
        for k, term in enumerate(e.args):
            neg = term.could_extract_minus_sign()
            body = _t(-term if neg else term)
            out += (" - " if neg else (" + " if k else "")) + body
        return out.lstrip()
    if e.is_Mul:
        return f"- {_tex_mul(-e)}" if e.could_extract_minus_sign() else _tex_mul(e)
    if e.is_Pow:
        base, exp = e.args
        if exp == sympy.Rational(1, 2):
            return rf"\sqrt{{{_t(base)}}}"
        if exp.is_Number and exp < 0:
            return rf"\frac{{1}}{{{_t(base ** (-exp))}}}"
        b = _t(base) if _atom_like(base) and not base.is_Function else rf"\left({_t(base)}\right)"
        return f"{b}^{{{_t(exp)}}}"
    if isinstance(e, sympy.exp):
        return rf"e^{{{_t(e.args[0])}}}"
    if isinstance(e, sympy.Abs):
        return rf"\left|{_t(e.args[0])}\right|"
    if isinstance(e, AppliedUndef) or (e.is_Function and len(e.args) == 1):
        name = type(e).__name__
        head = (
            _tex_name(name)
            if isinstance(e, AppliedUndef)
            else _TEX_FUNS.get(name, rf"\operatorname{{{name}}}")
        )
        return rf"{head}\left({_t(e.args[0])}\right)"
    return sympy.latex(e)  # anything else: sympy's printer


def fast_latex(expr: sympy.Expr) -> str:
    """LaTeX of ``expr``; placeholders ``phi_l_i_j`` print as ``\\varphi_{l,i,j}``."""
    return _t(sympy.sympify(expr))
