"""The typed library of symbolic edge functions ``f`` used as ``c·f(a·x + b) + d``.

Each entry carries a torch function (safe: finite everywhere, clamped near singularities so a
snapped edge that drifts during training never produces NaN), a sympy function (built-ins only,
so ``sympy.lambdify`` works on every formula), a complexity (lower is simpler; used to prefer the
simplest candidate that is nearly as good), and a domain on which the function is honestly defined.
A candidate whose argument ``a·x + b`` leaves that domain on the data is excluded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import sympy
import torch

__all__ = ["SYMBOLIC_LIB", "SymbolicFunction", "check_names", "domain_ok", "resolve_lib"]

_EPS = 1e-6
HALF_PI = math.pi / 2


@dataclass(frozen=True)
class SymbolicFunction:
    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    # "all" | "positive" | "nonneg" | "nonzero" | "unit_closed" | "unit_open" | "half_pi"
    domain: str = "all"
    power: float | None = None  # f(z) = z**power for the power family (x^2, 1/x, sqrt, …)


def _recip(z: torch.Tensor, power: float) -> torch.Tensor:
    # The floor is a tensor like z: torch.where with Python scalars would return torch's
    # default dtype, not z's (a float32 search under a float64 default then fails).
    floor = torch.full_like(z, 1e-4)
    safe = torch.where(z.abs() < 1e-4, torch.where(z < 0, -floor, floor), z)
    return safe.pow(-power) if power != 1 else 1.0 / safe


def _entries() -> list[SymbolicFunction]:
    S = sympy
    return [
        SymbolicFunction("x", lambda z: z, lambda z: z, 1),
        SymbolicFunction("x^2", lambda z: z * z, lambda z: z**2, 2, power=2),
        SymbolicFunction("x^3", lambda z: z**3, lambda z: z**3, 3, power=3),
        SymbolicFunction("x^4", lambda z: z**4, lambda z: z**4, 3, power=4),
        SymbolicFunction("x^5", lambda z: z**5, lambda z: z**5, 3, power=5),
        SymbolicFunction("1/x", lambda z: _recip(z, 1), lambda z: 1 / z, 2, "nonzero", power=-1),
        SymbolicFunction("1/x^2", lambda z: _recip(z, 2), lambda z: z**-2, 2, "nonzero", power=-2),
        SymbolicFunction("1/x^3", lambda z: _recip(z, 3), lambda z: z**-3, 3, "nonzero", power=-3),
        SymbolicFunction("1/x^4", lambda z: _recip(z, 4), lambda z: z**-4, 4, "nonzero", power=-4),
        SymbolicFunction("1/x^5", lambda z: _recip(z, 5), lambda z: z**-5, 5, "nonzero", power=-5),
        SymbolicFunction(
            "sqrt", lambda z: z.clamp_min(_EPS).sqrt(), S.sqrt, 2, "nonneg", power=0.5
        ),
        SymbolicFunction(
            "x^0.5", lambda z: z.clamp_min(_EPS).sqrt(), S.sqrt, 2, "nonneg", power=0.5
        ),
        SymbolicFunction(
            "x^1.5",
            lambda z: z.clamp_min(0) ** 1.5,
            lambda z: z ** S.Rational(3, 2),
            4,
            "nonneg",
            power=1.5,
        ),
        SymbolicFunction(
            "1/sqrt(x)",
            lambda z: z.clamp_min(1e-4).rsqrt(),
            lambda z: 1 / S.sqrt(z),
            2,
            "positive",
            power=-0.5,
        ),
        SymbolicFunction(
            "1/x^0.5",
            lambda z: z.clamp_min(1e-4).rsqrt(),
            lambda z: 1 / S.sqrt(z),
            2,
            "positive",
            power=-0.5,
        ),
        SymbolicFunction("exp", lambda z: z.clamp(max=40).exp(), S.exp, 2),
        SymbolicFunction("log", lambda z: z.clamp_min(1e-6).log(), S.log, 2, "positive"),
        SymbolicFunction("abs", torch.abs, S.Abs, 3),
        SymbolicFunction("sin", torch.sin, S.sin, 2),
        SymbolicFunction("cos", torch.cos, S.cos, 2),
        SymbolicFunction(
            "tan", lambda z: z.clamp(-HALF_PI + 1e-3, HALF_PI - 1e-3).tan(), S.tan, 3, "half_pi"
        ),
        SymbolicFunction("tanh", torch.tanh, S.tanh, 3),
        SymbolicFunction("sgn", torch.sign, S.sign, 3),
        SymbolicFunction(
            "arcsin", lambda z: z.clamp(-1 + _EPS, 1 - _EPS).asin(), S.asin, 4, "unit_closed"
        ),
        SymbolicFunction(
            "arccos", lambda z: z.clamp(-1 + _EPS, 1 - _EPS).acos(), S.acos, 4, "unit_closed"
        ),
        SymbolicFunction("arctan", torch.atan, S.atan, 4),
        SymbolicFunction(
            "arctanh", lambda z: z.clamp(-1 + _EPS, 1 - _EPS).atanh(), S.atanh, 4, "unit_open"
        ),
        SymbolicFunction("0", torch.zeros_like, lambda z: S.Integer(0), 0),
        SymbolicFunction("gaussian", lambda z: torch.exp(-z * z), lambda z: S.exp(-(z**2)), 3),
        SymbolicFunction("cosh", lambda z: z.clamp(-40, 40).cosh(), S.cosh, 3),
        SymbolicFunction("sigmoid", torch.sigmoid, lambda z: 1 / (1 + S.exp(-z)), 4),
    ]


SYMBOLIC_LIB: dict[str, SymbolicFunction] = {f.name: f for f in _entries()}


def check_names(names, what: str) -> list[str]:
    """``names`` (one name, or an iterable of names) as a list of known names, duplicates
    dropped; ``what`` names the argument in the errors. A lone string is one name, not its
    characters (``"x^2"`` must not mean ``["x", "^", "2"]``)."""
    if isinstance(names, str):
        names = [names]
    try:
        names = list(dict.fromkeys(names))
    except TypeError:
        raise TypeError(f"{what}: expected function names, got {type(names).__name__}") from None
    unknown = [n for n in names if not isinstance(n, str) or n not in SYMBOLIC_LIB]
    if unknown:
        raise ValueError(f"{what}: unknown symbolic function(s): {', '.join(map(repr, unknown))}")
    return names


# pykan's names for the same functions as "sqrt" and "1/sqrt(x)": kept for fix_symbolic, left
# out of the default library so a candidate list never shows one function twice
ALIASES = {"x^0.5": "sqrt", "1/x^0.5": "1/sqrt(x)"}


def resolve_lib(lib) -> list[SymbolicFunction]:
    """``None`` → the whole library (without ``ALIASES``); otherwise a name or names (unknown
    names or none raise)."""
    if lib is None:
        return [f for name, f in SYMBOLIC_LIB.items() if name not in ALIASES]
    names = check_names(lib, "lib")
    if not names:
        raise ValueError(f"lib: the symbolic library is empty ({lib!r}); pass None for all")
    return [SYMBOLIC_LIB[n] for n in names]


def domain_ok(domain: str, zlo: torch.Tensor, zhi: torch.Tensor) -> torch.Tensor:
    """Whether ``[zlo, zhi]`` (elementwise) lies inside the function's domain, with a margin."""
    m = 1e-3
    if domain == "all":
        return torch.ones_like(zlo, dtype=torch.bool)
    if domain == "positive":
        return zlo > m
    if domain == "nonneg":
        return zlo >= 0
    if domain == "nonzero":
        return (zlo > m) | (zhi < -m)
    if domain == "unit_closed":
        return (zlo >= -1) & (zhi <= 1)
    if domain == "unit_open":
        return (zlo > -1 + m) & (zhi < 1 - m)
    if domain == "half_pi":
        return (zlo > -HALF_PI + 0.05) & (zhi < HALF_PI - 0.05)
    raise ValueError(f"unknown domain {domain!r}")
