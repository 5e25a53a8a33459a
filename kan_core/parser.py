"""A safe parser for user formulas such as ``exp(sin(pi*x_1) + x_2**2)``.

The text is parsed with Python's ``ast`` and walked against a whitelist: numbers, variables,
``+ - * / **`` (``^`` means power), unary minus, and calls to known functions with positional
arguments. Anything else — attribute access, subscripts, lambdas, keywords, dunder names, strings,
unknown functions, huge exponents or literals, over-long text — raises ``FormulaError``. Nothing is
ever ``eval``-ed or ``sympify``-ed: the tree is turned into a sympy expression and a torch function
node by node.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import sympy
import torch

__all__ = ["FUNCTIONS", "FormulaError", "ParsedFormula", "parse_formula"]

MAX_CHARS = 500
MAX_NODES = 300
MAX_DEPTH = 40
MAX_EXPONENT = 16.0
MAX_LITERAL = 1e12
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class FormulaError(ValueError):
    """A formula was refused; the message says why in words a user understands."""


# name → (sympy function, torch function, number of arguments)
FUNCTIONS: dict[str, tuple[Callable, Callable, int]] = {
    "sin": (sympy.sin, torch.sin, 1),
    "cos": (sympy.cos, torch.cos, 1),
    "tan": (sympy.tan, torch.tan, 1),
    "sinh": (sympy.sinh, torch.sinh, 1),
    "cosh": (sympy.cosh, torch.cosh, 1),
    "tanh": (sympy.tanh, torch.tanh, 1),
    "exp": (sympy.exp, torch.exp, 1),
    "log": (sympy.log, torch.log, 1),
    "sqrt": (sympy.sqrt, torch.sqrt, 1),
    "abs": (sympy.Abs, torch.abs, 1),
    "sign": (sympy.sign, torch.sign, 1),
    "asin": (sympy.asin, torch.asin, 1),
    "acos": (sympy.acos, torch.acos, 1),
    "atan": (sympy.atan, torch.atan, 1),
    "atanh": (sympy.atanh, torch.atanh, 1),
}
for _alias, _name in {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctanh": "atanh",
    "sgn": "sign",
}.items():
    FUNCTIONS[_alias] = FUNCTIONS[_name]
CONSTANTS = {"pi": (sympy.pi, math.pi), "e": (sympy.E, math.e)}


@dataclass
class ParsedFormula:
    text: str
    expr: sympy.Expr
    variables: list[str]  # in column order
    fn: Callable[[torch.Tensor], torch.Tensor]  # (batch, n_var) → (batch, 1)

    @property
    def n_var(self) -> int:
        return len(self.variables)


def _order_variables(names: set[str]) -> list[str]:
    """``x_1 … x_n`` by index (every index up to the largest is a column); others by name."""
    indexed = [n for n in names if re.fullmatch(r"x_?([1-9][0-9]?)", n)]
    if indexed and len(indexed) == len(names):
        n = max(int(re.sub(r"\D", "", v)) for v in indexed)
        style = "x_" if any("_" in v for v in indexed) else "x"
        if any(("_" in v) != (style == "x_") for v in indexed):
            raise FormulaError(
                f"variables {sorted(names)} mix two styles: write x_1, x_2, … or x1, x2, …"
            )
        return [f"{style}{i}" for i in range(1, n + 1)]
    return sorted(
        names, key=lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
    )


def _const_value(node: ast.AST) -> float | None:
    """Value of a numbers-only sub-tree (for bounding exponents), else None."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id][1]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _const_value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.Mult | ast.Add | ast.Sub):
        a, b = _const_value(node.left), _const_value(node.right)
        if a is None or b is None or (isinstance(node.op, ast.Div) and b == 0):
            return None
        return {ast.Div: a / b if b else None, ast.Mult: a * b, ast.Add: a + b, ast.Sub: a - b}[
            type(node.op)
        ]
    return None


class _Builder:
    """Turns a checked AST into (sympy expr, torch closure over a dict of columns)."""

    def __init__(self):
        self.names: set[str] = set()
        self.symbols: dict[str, sympy.Symbol] = {}

    def build(self, node: ast.AST, depth: int = 0):
        if depth > MAX_DEPTH:
            raise FormulaError("formula is nested too deeply")
        meth = getattr(self, "_" + type(node).__name__, None)
        if meth is None:
            raise FormulaError(f"'{type(node).__name__}' is not allowed in a formula")
        return meth(node, depth + 1)

    def _Constant(self, node, depth):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise FormulaError(f"only numbers are allowed as literals, got {v!r}")
        if not math.isfinite(float(v)) or abs(v) > MAX_LITERAL:
            raise FormulaError(f"number {v!r} is too large (limit {MAX_LITERAL:g})")
        s = sympy.Integer(v) if isinstance(v, int) else sympy.Float(v)
        return s, lambda cols, v=float(v): v

    def _Name(self, node, depth):
        name = node.id
        if name in CONSTANTS:
            s, v = CONSTANTS[name]
            return s, lambda cols, v=v: v
        if name in FUNCTIONS:
            raise FormulaError(f"{name} is a function: call it, e.g. {name}(x_1)")
        if name.startswith("_") or not _NAME.match(name):
            raise FormulaError(f"'{name}' is not an allowed variable name")
        self.names.add(name)
        sym = self.symbols.setdefault(name, sympy.Symbol(name, real=True))
        return sym, lambda cols, n=name: cols[n]

    def _UnaryOp(self, node, depth):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise FormulaError("only unary + and - are allowed")
        s, f = self.build(node.operand, depth)
        if isinstance(node.op, ast.UAdd):
            return s, f
        return -s, lambda cols: -f(cols)

    def _BinOp(self, node, depth):
        ops = {
            ast.Add: (sympy.Add, torch.add),
            ast.Sub: (None, torch.sub),
            ast.Mult: (sympy.Mul, torch.mul),
            ast.Div: (None, torch.div),
            ast.Pow: (sympy.Pow, None),
        }
        if type(node.op) not in ops:
            raise FormulaError(f"operator '{type(node.op).__name__}' is not allowed")
        if isinstance(node.op, ast.Pow):
            p = _const_value(node.right)
            if p is None:
                raise FormulaError("exponents must be constant numbers, e.g. x_1**2")
            if abs(p) > MAX_EXPONENT:
                raise FormulaError(f"exponent {p:g} is too large (limit {MAX_EXPONENT:g})")
        ls, lf = self.build(node.left, depth)
        rs, rf = self.build(node.right, depth)
        if isinstance(node.op, ast.Pow):
            return sympy.Pow(ls, rs), lambda c: _as_tensor(lf(c), c) ** rf(c)
        if isinstance(node.op, ast.Sub):
            return ls - rs, lambda c: lf(c) - rf(c)
        if isinstance(node.op, ast.Div):
            return ls / rs, lambda c: lf(c) / rf(c)
        sym_op, _ = ops[type(node.op)]
        if isinstance(node.op, ast.Add):
            return sym_op(ls, rs), lambda c: lf(c) + rf(c)
        return sym_op(ls, rs), lambda c: lf(c) * rf(c)

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            raise FormulaError("only plain function calls like sin(x_1) are allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            raise FormulaError(f"unknown function {name}; allowed: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"{name}() takes plain positional arguments")
        sym_fn, torch_fn, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise FormulaError(f"{name}() takes {arity} argument(s), got {len(node.args)}")
        s, f = self.build(node.args[0], depth)
        return sym_fn(s), lambda c: torch_fn(_as_tensor(f(c), c))


def _as_tensor(v, cols) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    ref = next(iter(cols.values()), None)
    return torch.full_like(ref, v) if ref is not None else torch.tensor(v)


def parse_formula(text: str, n_var: int | None = None) -> ParsedFormula:
    """Parse ``text`` safely. ``n_var``: require exactly this many variables (columns)."""
    if not isinstance(text, str):
        raise FormulaError("formula must be a string")
    if len(text) > MAX_CHARS:
        raise FormulaError(f"formula is longer than {MAX_CHARS} characters")
    if "__" in text:
        raise FormulaError("'__' is not allowed in a formula")
    src = text.strip().replace("^", "**")
    if not src:
        raise FormulaError("formula is empty")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse formula: {exc.msg} (at column {exc.offset})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise FormulaError(f"formula has more than {MAX_NODES} parts")
    b = _Builder()
    expr, f = b.build(tree.body)
    variables = _order_variables(b.names)
    if not variables:
        raise FormulaError("formula has no variables (use x_1, x_2, …)")
    if n_var is not None and len(variables) != n_var:
        raise FormulaError(f"formula uses {len(variables)} variable(s), expected {n_var}")

    def fn(x: torch.Tensor) -> torch.Tensor:
        cols = {name: x[:, k] for k, name in enumerate(variables)}
        return _as_tensor(f(cols), cols).reshape(-1, 1).to(x.dtype)

    return ParsedFormula(text, expr, variables, fn)
