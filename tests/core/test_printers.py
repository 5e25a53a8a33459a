"""The fast MathML printer: well-formed, and it shows what the expression holds."""

import xml.dom.minidom

import sympy
import torch

from kan_core import KAN, symbolic_formula
from kan_core.printers import fast_latex, fast_mathml


def test_fast_mathml_is_well_formed_and_complete():
    x1, x2 = sympy.symbols("x_1 x_2", real=True)
    phi = sympy.Function("phi_0_1_0")
    e = (
        sympy.exp(x2**2 + sympy.sin(sympy.pi * x1))
        - 0.25 * sympy.sqrt(x1 + 1) / (x2 - 3)
        + phi(x2)
        + sympy.Rational(3, 4) * sympy.Abs(x1) ** 3
    )
    out = fast_mathml(e)
    dom = xml.dom.minidom.parseString(out.replace("&#x", "&amp;#x"))  # entities aside
    text = dom.documentElement.toxml()
    for token in ("phi_0_1_0", "sin", "abs", "msqrt", "mfrac", "msup", ">3<", "0.25"):
        assert token in text, token
    assert out.startswith("<math") and out.endswith("</math>")


def test_fast_mathml_prints_every_placeholder_of_a_large_formula():
    m = KAN([4, 10, 10, 1], seed=0)
    m.set_reference_input(torch.rand(50, 4))
    (expr,) = symbolic_formula(m, placeholders=True)
    out = fast_mathml(expr)
    assert out.count("phi_") == str(expr).count("phi_") > 100
    xml.dom.minidom.parseString(out.replace("&#x", "&amp;#x"))


def test_fast_latex_shows_every_part_with_balanced_groups():
    x1, x2 = sympy.symbols("x_1 x_2", real=True)
    phi = sympy.Function("phi_0_1_0")
    e = (
        sympy.exp(x2**2 + sympy.sin(sympy.pi * x1))
        - 0.25 * sympy.sqrt(x1 + 1) / (x2 - 3)
        + phi(x2)
        + sympy.Rational(3, 4) * sympy.Abs(x1) ** 3
        + sympy.atan(x1)
    )
    out = fast_latex(e)
    for token in (
        r"\varphi_{0,1,0}",
        r"\sin",
        r"\sqrt{",
        r"\frac{",
        "e^{",
        r"\pi",
        "x_{1}",
        r"\left|",
        "0.25",
        r"\operatorname{atan}",
    ):
        assert token in out, (token, out)
    depth = 0
    for ch in out:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert out.count(r"\left") == out.count(r"\right")


def test_fast_latex_prints_every_placeholder_of_a_large_formula():
    m = KAN([4, 10, 10, 1], seed=0)
    m.set_reference_input(torch.rand(50, 4))
    (expr,) = symbolic_formula(m, placeholders=True)
    assert fast_latex(expr).count(r"\varphi_{") == str(expr).count("phi_") > 100
