"""The fast MathML printer: well-formed, and it shows what the expression holds."""

import xml.dom.minidom

import sympy
import torch

from kan_core import KAN
from kan_core.mathml import fast_mathml


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
    (expr,) = m.symbolic_formula(placeholders=True)
    out = fast_mathml(expr)
    assert out.count("phi_") == str(expr).count("phi_") > 100
    xml.dom.minidom.parseString(out.replace("&#x", "&amp;#x"))
