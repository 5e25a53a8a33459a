"""``kanpiler``: a KAN whose edges are symbolic functions that together compute a given sympy
expression exactly (pykan 0.2.8's KAN compiler, KAN 2.0 §4).

The expression tree becomes the network: a sum ``u + v + …`` a sum node, a product ``u·v·…`` a
mult node (one subnode per factor; a factor that is itself a sum feeds its terms straight into
the subnode), a function ``f(u)`` an edge ``c·f(a·u + b) + d`` into a node of its own. Numbers
never need nodes: a term's factor and offset become its edge's ``c`` and ``d``, a node's own
scale and offset (``2·x·y + 1`` inside ``sin``) the ``a`` and ``b`` of the edge that reads it.
Every input occurrence is padded with identity edges down to the input layer, so all paths have
the same length; edges not on the tree are the zero function. Unlike pykan (which has per-node
affine parameters), kan_core puts every number on an edge, and a product at the very top gets one
more layer (an identity edge into a sum output node): kan_core's outputs are sum nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy

from .symbolic_lib import SYMBOLIC_LIB

__all__ = ["expr2kan", "kanpiler"]

_FUNCS = {
    sympy.exp: "exp",
    sympy.sin: "sin",
    sympy.cos: "cos",
    sympy.tan: "tan",
    sympy.log: "log",
    sympy.tanh: "tanh",
    sympy.cosh: "cosh",
    sympy.asin: "arcsin",
    sympy.acos: "arccos",
    sympy.atan: "arctan",
    sympy.atanh: "arctanh",
    sympy.sign: "sgn",
    sympy.Abs: "abs",
}
_POWERS = {
    sympy.Rational(1, 2): "sqrt",
    sympy.Rational(-1, 2): "1/sqrt(x)",
    sympy.Rational(3, 2): "x^1.5",
    **{sympy.Integer(n): f"x^{n}" for n in range(2, 6)},
    sympy.Integer(-1): "1/x",
    **{sympy.Integer(-n): f"1/x^{n}" for n in range(2, 6)},
}


@dataclass
class _Edge:
    fun: str
    child: _Node
    a: float = 1.0
    b: float = 0.0
    c: float = 1.0
    d: float = 0.0


@dataclass
class _Node:
    """A KAN node: ``scale · (sum of its one subnode, or product of its subnodes) + bias``; an
    input occurrence has ``var`` set and no subnodes."""

    subnodes: list[list[_Edge]] = field(default_factory=list)
    mult: bool = False
    var: int | None = None
    scale: float = 1.0
    bias: float = 0.0
    layer: int = -1
    index: int = -1


def _split_affine(expr) -> tuple[sympy.Expr, float, float]:
    """``expr = scale · core + bias`` with the numbers of a top-level sum / product taken out."""
    scale, bias = sympy.Integer(1), sympy.Integer(0)
    while expr.func in (sympy.Add, sympy.Mul):
        nums = [a for a in expr.args if a.is_number]
        if not nums:
            break
        rest = [a for a in expr.args if not a.is_number]
        if expr.func == sympy.Add:
            bias += scale * sympy.Add(*nums)
        else:
            scale *= sympy.Mul(*nums)
        expr = expr.func(*rest)
    return expr, _real(scale, expr), _real(bias, expr)


def _real(v, where) -> float:
    try:
        out = complex(sympy.N(v))
    except TypeError:
        raise ValueError(f"cannot compile {where}: {v} is not a number") from None
    if out.imag != 0 or not math.isfinite(out.real):
        raise ValueError(f"cannot compile {where}: {v} is not a finite real number")
    return out.real


class _Builder:
    def __init__(self, variables):
        self.index = {v: n for n, v in enumerate(variables)}

    def node(self, expr) -> _Node:
        core, scale, bias = _split_affine(expr)
        if core.is_Symbol:
            if core not in self.index:
                raise ValueError(f"{core} is not one of the input variables {list(self.index)}")
            return _Node(var=self.index[core], scale=scale, bias=bias)
        if core.is_number:
            raise ValueError(f"cannot compile {expr}: it has no variable (a constant)")
        if core.func == sympy.Add:
            return _Node([self.sum_edges(core)], scale=scale, bias=bias)
        if core.func == sympy.Mul:
            subs = [self.sum_edges(factor) for factor in core.args]
            return _Node(subs, mult=True, scale=scale, bias=bias)
        return _Node([[self.edge(core)]], scale=scale, bias=bias)

    def sum_edges(self, expr) -> list[_Edge]:
        """The edges into a subnode whose value is ``expr``."""
        core, scale, bias = _split_affine(expr)
        terms = core.args if core.func == sympy.Add else (core,)
        edges = [self.edge(t) for t in terms]
        for e in edges:
            e.c, e.d = e.c * scale, e.d * scale
        edges[0].d += bias
        return edges

    def edge(self, term) -> _Edge:
        """One edge whose output is ``term``."""
        core, scale, bias = _split_affine(term)
        if core.is_Symbol or core.func in (sympy.Add, sympy.Mul):
            return _Edge("x", self.node(core), c=scale, d=bias)
        if core.func == sympy.Pow:
            base, power = core.args
            if base.is_number:  # base**u = exp(log(base)·u)
                e = _Edge("exp", self.node(power), c=scale, d=bias)
                e.a = _real(sympy.log(base), term)
                return e
            if power not in _POWERS:
                raise ValueError(f"cannot compile {term}: no edge function for the power {power}")
            return _Edge(_POWERS[power], self.node(base), c=scale, d=bias)
        name = _FUNCS.get(core.func)
        if name is None or len(core.args) != 1:
            raise ValueError(f"cannot compile {term}: no edge function for {core.func.__name__}")
        return _Edge(name, self.node(core.args[0]), c=scale, d=bias)


def _fold(node: _Node, reader: _Edge | None) -> None:
    """Move every node's scale and bias onto edges (the edge reading it: ``a``, ``b``)."""
    if reader is not None:
        reader.a, reader.b = reader.a * node.scale, reader.b + reader.a * node.bias
        node.scale, node.bias = 1.0, 0.0
    for sub in node.subnodes:
        for e in sub:
            _fold(e.child, e)


def _root(expr, variables) -> _Node:
    root = _Builder(variables).node(sympy.sympify(expr))
    if root.var is not None or root.mult:  # outputs are sum nodes: one identity edge more
        root = _Node([[_Edge("x", root, c=root.scale, d=root.bias)]])
        root.subnodes[0][0].child.scale, root.subnodes[0][0].child.bias = 1.0, 0.0
    else:  # a sum output: its own scale and bias go on the edges into it
        for e in root.subnodes[0]:
            e.c, e.d = e.c * root.scale, e.d * root.scale
        root.subnodes[0][0].d += root.bias
        root.scale, root.bias = 1.0, 0.0
    _fold(root, None)
    return root


def _height(node: _Node) -> int:
    if node.var is not None:
        return 0
    return 1 + max(_height(e.child) for sub in node.subnodes for e in sub)


def _pad(node: _Node, depth: int) -> None:
    """Stretch every path so input occurrences sit exactly ``depth`` layers below ``node``."""
    for sub in node.subnodes:
        for e in sub:
            if e.child.var is not None:
                for _ in range(depth - 1):
                    e.child = _Node([[_Edge("x", e.child)]])
            _pad(e.child, depth - 1)


def _layout(root: _Node, n_vars: int) -> tuple[list[list[_Node]], list]:
    """Give every node its layer and index; returns the non-input nodes per layer (sum nodes
    first) and pykan's nested width."""
    per_layer: list[list[_Node]] = [[] for _ in range(_height(root) + 1)]

    def visit(node: _Node, layer: int) -> None:
        node.layer = layer
        if node.var is None:
            per_layer[layer].append(node)
        for sub in node.subnodes:
            for e in sub:
                visit(e.child, layer - 1)

    visit(root, len(per_layer) - 1)
    width: list = [n_vars]
    for layer in per_layer[1:]:
        layer.sort(key=lambda n: n.mult)  # (stable: sum nodes, then mult nodes, in tree order)
        for n, node in enumerate(layer):
            node.index = n
        n_mult = sum(node.mult for node in layer)
        width.append([len(layer) - n_mult, n_mult] if n_mult else len(layer))
    return per_layer, width


def _edges(per_layer) -> list[tuple[int, int, int, _Edge]]:
    """Every tree edge as ``(layer of edges, input node, output subnode, edge)``."""
    out = []
    for layer in per_layer[1:]:
        sub = 0
        for node in layer:
            for edges in node.subnodes:
                for e in edges:
                    child = e.child.var if e.child.var is not None else e.child.index
                    out.append((node.layer - 1, child, sub, e))
                sub += 1
    return out


def kanpiler(input_variables, expr, grid=5, k=3, auto_save=False, **kan_kw):
    """A ``KAN`` computing ``expr`` (a sympy expression, or a formula string read by sympy) of
    ``input_variables`` (sympy symbols, in input order) with symbolic edges only; its splines
    (``grid`` intervals, order ``k``) start near zero and are masked off until trained or
    switched on (``set_mode``, ``perturb``). ``model(x)`` equals ``expr`` at ``x``."""
    from .model import KAN
    from .symbolic import SymbolicFit, fix_symbolic

    del auto_save  # (pykan's keyword: kan_core keeps no files)
    variables = [sympy.sympify(v) for v in input_variables]
    if not variables or not all(v.is_Symbol for v in variables):
        raise ValueError(f"input_variables must be sympy symbols, got {input_variables!r}")
    root = _root(expr, variables)
    for extra in (0, 1):  # one layer more if two terms read the same input into one node
        _pad(root, _height(root) + extra)
        per_layer, width = _layout(root, len(variables))
        edges = _edges(per_layer)
        if len({e[:3] for e in edges}) == len(edges):
            break
    arity = [[len(n.subnodes) for n in layer if n.mult] for layer in per_layer]
    has_mult = any(arity)
    model = KAN(width=width, grid=grid, k=k, mult_arity=arity if has_mult else 2, **kan_kw)
    for l, i, j in model.edges():
        fix_symbolic(model, l, i, j, "0", fit=SymbolicFit("0", 1.0, 0.0, 1.0, 0.0, 1.0, 0))
    for l, i, j, e in edges:
        fit = SymbolicFit(e.fun, e.a, e.b, e.c, e.d, 1.0, SYMBOLIC_LIB[e.fun].complexity)
        fix_symbolic(model, l, i, j, e.fun, fit=fit)
    return model


expr2kan = sf2kan = kanpiler  # pykan's other names
