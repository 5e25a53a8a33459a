"""``KAN``'s symbolic front door (a mixin): pykan's ``suggest_symbolic``, ``fix_symbolic``,
``unfix_symbolic``, ``auto_symbolic`` and ``symbolic_formula`` over ``symbolic`` and
``formula``, with pykan's keywords checked and the version history logged."""

from __future__ import annotations

import math

from .compat import SYMBOLIC_KEYWORDS, pykan_keywords

__all__ = ["SymbolicMethods"]


class SymbolicMethods:
    def suggest_symbolic(
        self, l, i, j, lib=None, topk=5, x=None, exclude=(), weight_simple=0.8, **pykan_kw
    ):
        from .symbolic import suggest_symbolic

        pykan_keywords("suggest_symbolic", pykan_kw, *SYMBOLIC_KEYWORDS)
        return suggest_symbolic(self, l, i, j, lib, topk, x, exclude, weight_simple)

    def fix_symbolic(self, l, i, j, name, x=None, fit=None, fit_params_bool=True, **pykan_kw):
        """Snap edge ``(l, i, j)`` to ``name``, fitting ``c·f(a·x+b)+d`` to the edge on ``x``
        (default: the reference input, else the last input); returns the ``SymbolicFit``.
        ``fit_params_bool=False`` (pykan's) sets ``a, b, c, d = 1, 0, 1, 0`` without fitting."""
        from .symbolic import SymbolicFit, fix_symbolic
        from .symbolic_lib import SYMBOLIC_LIB

        pykan_keywords("fix_symbolic", pykan_kw, *SYMBOLIC_KEYWORDS)
        if not fit_params_bool and fit is None and name in SYMBOLIC_LIB:
            fit = SymbolicFit(name, 1.0, 0.0, 1.0, 0.0, math.nan, SYMBOLIC_LIB[name].complexity)
        result = fix_symbolic(self, l, i, j, name, x=x, fit=fit)
        self.log_history("fix_symbolic")
        return result

    def symbolic_fit(self, l, i, j):
        from .symbolic import symbolic_fit

        return symbolic_fit(self, *self._edge(l, i, j))

    def unfix_symbolic(self, l, i, j):
        from .symbolic import unfix_symbolic

        unfix_symbolic(self, *self._edge(l, i, j))
        self.log_history("unfix_symbolic")

    def auto_symbolic(
        self, lib=None, r2_threshold=None, x=None, exclude=None, merge_nodes=True, **pykan_kw
    ):
        from .symbolic import auto_symbolic

        pykan_keywords("auto_symbolic", pykan_kw, *SYMBOLIC_KEYWORDS)
        done = auto_symbolic(self, lib, r2_threshold, x=x, exclude=exclude, merge_nodes=merge_nodes)
        self.log_history("auto_symbolic")
        return done

    def symbolic_formula(
        self, var=None, normalizer=None, output_normalizer=None, *, placeholders=None, digits=5
    ):
        """pykan's ``(exprs, variables)``: one sympy expression per output and the input
        symbols (plain ``sympy.Symbol``s, ``x_1 …`` or ``var``: names or sympy expressions), so
        ``formula.subs('x_1', v)`` works. ``normalizer=[means, stds]`` writes the formula in
        un-normalised inputs, ``output_normalizer`` un-normalises outputs. While some unpruned
        edge is still a spline it appears as ``phi_l_i_j(input)`` (``placeholders=False``
        raises instead; pykan silently counts such an edge as 0). (``kan_core.
        symbolic_formula(model, names)`` is the plain list, in real-valued symbols.)"""
        from .formula import formula_complete, pykan_formula

        if placeholders is None:
            placeholders = not formula_complete(self)
        return pykan_formula(self, var, normalizer, output_normalizer, placeholders, digits)
