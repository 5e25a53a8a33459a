"""``get_feynman_dataset``: a few equations of the Feynman symbolic-regression benchmark under
pykan 0.2.8's names and numbers (``'I.34.14'`` or ``36``), for its KAN-compiler tutorial.

Only a handful of pykan's 120 problems are here; any other raises ``KeyError`` listing these.
Returns pykan's ``(variables, expr, f, ranges)``: sympy symbols, the sympy expression, ``f`` a
torch function ``(batch, n_var) → (batch, 1)``, and the sampling range of each variable.
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

__all__ = ["FEYNMAN", "get_feynman_dataset"]


def _gauss(theta, sigma):
    return sympy.exp(-(theta**2) / (2 * sigma**2)) / sympy.sqrt(2 * sympy.pi * sigma**2)


def _problems():
    s = sympy.symbols
    x, y = s("x y")
    th, th1, sg = s("theta theta1 sigma")
    x1, x2, y1, y2, x3, y3 = s("x1 x2 y1 y2 x3 y3")
    m0, v, c, om0, hbar, om = s("m0 v c omega_0 hbar omega")
    # number: (name, variables, expression, ranges)
    return {
        0: ("test", [x, y], (x + y) * sympy.sin(sympy.exp(2 * y)), [[-1, 1]] * 2),
        1: ("I.6.20a", [th], _gauss(th, 1), [[-3, 3]]),
        2: ("I.6.20", [th, sg], _gauss(th, sg), [[-1, 1], [0.5, 2]]),
        3: ("I.6.20b", [th, th1, sg], _gauss(th - th1, sg), [[-1.5, 1.5], [-1.5, 1.5], [0.5, 2]]),
        4: ("I.8.4", [x1, x2, y1, y2], sympy.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2), [[-1, 1]] * 4),
        6: ("I.10.7", [m0, v, c], m0 / sympy.sqrt(1 - v**2 / c**2), [[0, 1], [0, 1], [1, 2]]),
        7: ("I.11.19", [x1, y1, x2, y2, x3, y3], x1 * y1 + x2 * y2 + x3 * y3, [[-1, 1]] * 6),
        36: (
            "I.34.14",
            [om0, v, c],
            om0 * (1 + v / c) / sympy.sqrt(1 - v**2 / c**2),
            [[0, 1], [-0.9, 0.9], [1.1, 2]],
        ),
        37: ("I.34.27", [hbar, om], hbar * om, [[-1, 1], [-1, 1]]),
    }


FEYNMAN = _problems()


def _torch_function(fn, n: int):
    """``fn`` of ``n`` NumPy arrays as pykan's ``f``: ``(batch, n)`` tensor → ``(batch, 1)``
    (evaluated in float64)."""

    def f(x: torch.Tensor) -> torch.Tensor:
        cols = x.detach().double().numpy()
        out = np.broadcast_to(fn(*(cols[:, k] for k in range(n))), (x.shape[0],))
        return torch.as_tensor(np.array(out), dtype=x.dtype).reshape(-1, 1)

    return f


def get_feynman_dataset(name):
    """pykan's ``get_feynman_dataset(name)``: ``name`` a problem number or its equation name."""
    for number, (eq, variables, expr, ranges) in FEYNMAN.items():
        if name == number or name == eq or (name == "test" and number == 0):
            fn = sympy.lambdify(variables, expr, modules="numpy")
            f = _torch_function(fn, len(variables))
            var = variables if len(variables) > 1 else [variables[0]]
            return tuple(var) if len(var) > 1 else var, expr, f, [list(r) for r in ranges]
    known = ", ".join(f"{n} ({eq})" for n, (eq, *_) in FEYNMAN.items())
    raise KeyError(f"Feynman problem {name!r} is not in kan_core's set: {known}")
