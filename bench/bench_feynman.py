"""A Feynman-style formula set (products, ratios, roots, trig of products; 1-4 variables, ranges
away from zero, target spreads ~0.05-50): pykan 0.2.8's tutorial recipe, kan_core's same recipe,
kan_core.discover (when it exists) and pyoperon, side by side.

Recipe (pykan's tutorial, not tuned per formula; as bench_generality.py): KAN(width, grid=5, k=3,
seed=1); fit 50 LBFGS (lamb 0.002) -> prune() -> fit 50 -> refine(10) -> fit 50 ->
auto_symbolic() -> fit 50 -> symbolic_formula(). "ours" runs it as the workbench does, every fit
with `scale_aware=True` (λ independent of the target's units; the server trains so);
"ours-exact" with kan_core.fit's default, pykan's loss. discover: `discover(ds, budget_s, seed=0)`.
pyoperon: `SymbolicRegressor(max_time=budget, n_threads=2, random_state=0)`, defaults otherwise
except the function set (+ sin, cos, exp, log, sqrt, square, tanh).

Recovered = the returned formula's test NRMSE (RMSE / std(y)) < 1e-3 AND ops (sympy.count_ops
of the formula as returned) <= 3 * ops(truth) + 6.

    .venv/bin/python bench/bench_feynman.py [--only pykan,ours,ours-exact,discover,operon]
        [--cases 0,3,5] [--budget 30] [--set ours|aif]

--set aif: 34 equations of the AI Feynman table with its published ranges (bench/aif_set.py).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import traceback
import warnings

import sympy
from _common import formula_rmse, load_probe, print_table, probe_line, setup_torch, tutorial_recipe
from _pykan import PykanSandbox
from aif_set import AIF

from kan_core import KAN, dataset_from_formula, parse_formula, symbolic_formula

NRMSE_OK = 1e-3
SIDES = ("pykan", "ours", "ours-exact", "discover", "operon")
OPERON_SYMBOLS = "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square,tanh"

# (formula, ranges) — Feynman-like laws with the constants folded in or scaled; target std from
# ~0.05 (0.05*x_1*x_2) to ~60 (x_1*x_2*x_3*x_4). Named after the AI Feynman law they resemble.
CASES = [
    ("x_1*x_2", [[1, 5], [1, 5]]),  # F = m a
    ("x_1/x_2", [[1, 5], [1, 5]]),  # v = d / t
    ("sqrt(x_1*x_2)", [[0.5, 2], [0.5, 2]]),  # geometric mean
    ("x_1*x_2/x_3", [[1, 5], [1, 5], [1, 5]]),  # I = q v / L
    ("sin(x_1*x_2)", [[0.5, 2], [0.5, 2]]),  # sin(omega t)
    ("exp(-x_1**2/2)/sqrt(2*pi)", [[1, 3]]),  # I.6.2a, the Gaussian
    ("x_1*x_2*x_3", [[1, 5], [1, 5], [1, 5]]),  # E = q E d
    ("x_1*sin(x_2)", [[1, 5], [0.5, 2]]),  # F sin(theta)
    ("(x_1 - x_2)**2", [[1, 5], [1, 5]]),  # squared distance
    ("0.05*x_1*x_2", [[0.5, 2], [0.5, 2]]),  # small scale
    ("30*x_1/x_2", [[1, 5], [1, 5]]),  # large scale
    ("sqrt(x_1**2 + x_2**2)", [[1, 5], [1, 5]]),  # |v|
    ("x_1*x_2**2/2", [[1, 5], [1, 5]]),  # I.13? kinetic energy m v^2 / 2
    ("x_1/(4*pi*x_2**2)", [[1, 5], [1, 5]]),  # I.12.4, Coulomb field
    ("x_1*cos(x_2)", [[1, 5], [0.5, 2]]),  # I.18.12-ish, F cos(theta)
    ("x_1*x_2*sin(x_3)", [[1, 5], [1, 5], [0.5, 2]]),  # torque r F sin(theta)
    ("exp(-x_1/x_2)", [[1, 3], [1, 3]]),  # Boltzmann factor
    ("x_1*x_2/(x_1 + x_2)", [[1, 5], [1, 5]]),  # parallel resistors / reduced mass
    ("sqrt(x_1/x_2)", [[1, 5], [1, 5]]),  # wave speed sqrt(T / mu)
    ("x_1*x_2*x_3*x_4", [[1, 5], [1, 5], [1, 5], [1, 5]]),  # four-factor product
    ("x_1*x_2 + x_3*x_4", [[1, 5], [1, 5], [1, 5], [1, 5]]),  # work of two forces
    ("x_1*exp(-x_2)", [[1, 5], [0.5, 2]]),  # decay
    ("sqrt(x_1*x_2/x_3)", [[1, 5], [1, 5], [1, 5]]),  # sqrt(k q / m)-like
    ("x_1*x_2*x_3/(x_4**2)", [[1, 5], [1, 5], [1, 5], [1, 5]]),  # G m1 m2 / r^2
]


def width_for(n_var: int) -> list[int]:
    """As in bench_generality: no hidden layer for one variable, a few hidden nodes otherwise."""
    return [1, 1] if n_var == 1 else [n_var, max(2, n_var), 1]


# --------------------------------------------------------------------------- the contenders
def run_ours(ds, width, budget, scale_aware=True):
    m = tutorial_recipe(KAN(width, grid=5, k=3, seed=1), ds, scale_aware=scale_aware)
    return symbolic_formula(m)[0]  # (real-valued symbols, as the scoring below)


def run_pykan(ds, width, budget, sb):
    from kan import KAN as PyKAN

    with sb.run():
        pk = PyKAN(width=width, grid=5, k=3, seed=1, auto_save=False, ckpt_path=sb.ckpt_path)
        m = tutorial_recipe(pk, ds)
        return m.symbolic_formula()[0][0]


def run_discover(ds, width, budget):
    from kan_core import discover

    return discover(ds, budget_s=budget, seed=0).best["formula"]


def operon_to_sympy(text: str, n_var: int):
    """pyoperon's infix string (X1..Xn, `^` for powers, `square(.)`) -> sympy in x_1..x_n.
    The string comes from the library (bench code), so sympy.parse_expr is acceptable here."""
    local = {f"X{i + 1}": sympy.Symbol(f"x_{i + 1}", real=True) for i in range(n_var)}
    local |= {
        "square": lambda e: e**2,
        "sqrtabs": lambda e: sympy.sqrt(sympy.Abs(e)),
        "logabs": lambda e: sympy.log(sympy.Abs(e)),
        "aq": lambda a, b: a / sympy.sqrt(1 + b**2),
        "cbrt": sympy.cbrt,
    }
    return sympy.parse_expr(text.replace("^", "**"), local_dict=local)


def run_operon(ds, width, budget):
    from pyoperon.sklearn import SymbolicRegressor

    x = ds["train_input"].double().numpy()
    y = ds["train_label"].double().numpy().reshape(-1)
    reg = SymbolicRegressor(
        allowed_symbols=OPERON_SYMBOLS,
        max_time=int(math.ceil(budget)),
        n_threads=2,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its "uncertainty left at the default" warning
        reg.fit(x, y)
    return operon_to_sympy(reg.get_model_string(reg.model_, precision=12), x.shape[1])


def available(side: str) -> str | None:
    """None when the side can run, else why not."""
    try:
        if side == "pykan":
            import kan  # noqa: F401
        elif side == "discover":
            from kan_core import discover  # noqa: F401
        elif side == "operon":
            import pyoperon.sklearn  # noqa: F401
    except Exception as e:  # noqa: BLE001 - reported as "n/a"
        return f"{type(e).__name__}: {str(e)[:120]}"
    return None


# --------------------------------------------------------------------------- scoring
def score(expr, syms, ds, std, ops_limit):
    """(recovered, nrmse, ops) of a sympy expression, its symbols matched to ours by name."""
    by_name = {s.name: s for s in syms}
    expr = sympy.sympify(expr)
    expr = expr.subs({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
    nrmse = formula_rmse(expr, syms, ds["test_input"], ds["test_label"]) / std
    ops = int(sympy.count_ops(expr))
    ok = bool(nrmse < NRMSE_OK and ops <= ops_limit)  # NaN -> False
    return ok, nrmse, ops, expr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(SIDES))
    ap.add_argument("--cases", help="comma-separated case indices")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds for discover and operon")
    ap.add_argument("--set", choices=("ours", "aif"), default="ours", help="aif: bench/aif_set.py")
    args = ap.parse_args()
    cases = CASES if args.set == "ours" else [(f, r) for _, f, r in AIF]
    sides = [s for s in SIDES if args.only is None or s in args.only.split(",")]
    picks = [int(c) for c in args.cases.split(",")] if args.cases else range(len(cases))
    setup_torch(0)
    load_probe()  # once at the start, once at the end (probe_line)
    missing = {s: why for s in sides if (why := available(s))}
    for s, why in missing.items():
        print(f"{s}: n/a ({why})")
    sb = PykanSandbox()
    runners = {
        "ours": run_ours,
        "ours-exact": lambda ds, w, b: run_ours(ds, w, b, scale_aware=False),
        "pykan": lambda ds, w, b: run_pykan(ds, w, b, sb),
        "discover": run_discover,
        "operon": run_operon,
    }
    results = {s: [] for s in sides}  # (recovered, seconds) per run
    rows, formulas = [], []
    for k in picks:
        text, ranges = cases[k]
        parsed = parse_formula(text)
        syms = [sympy.Symbol(n, real=True) for n in parsed.variables]
        truth = parsed.expr.subs(
            {s: sympy.Symbol(s.name, real=True) for s in parsed.expr.free_symbols}
        )
        truth_ops = int(sympy.count_ops(truth))
        ops_limit = 3 * truth_ops + 6
        ds = dataset_from_formula(text, ranges=ranges, train_num=1000, test_num=1000, seed=0)
        std = float(ds["test_label"].std())
        width = width_for(parsed.n_var)
        row = [k, text, f"{std:.3g}", f"{truth_ops}/{ops_limit}"]
        for side in sides:
            if side in missing:
                row.append("n/a")
                continue
            setup_torch(0)
            t0 = time.perf_counter()
            try:
                # a fresh list each time: pykan mutates the width list it is given
                expr = runners[side](ds, list(width), args.budget)
                secs = time.perf_counter() - t0
                ok, nrmse, ops, expr = score(expr, syms, ds, std, ops_limit)
                cell = f"{'yes' if ok else 'no'} {nrmse:.1e} {ops} {secs:.1f}s"
                formulas.append((k, side, str(expr)))
            except Exception as e:  # noqa: BLE001 - shown in the table, never fatal
                secs = time.perf_counter() - t0
                ok = False
                cell = f"EXC {type(e).__name__} {secs:.1f}s"
                formulas.append((k, side, f"{type(e).__name__}: {str(e)[:150]}"))
                if side != "pykan":
                    traceback.print_exc()
            results[side].append((ok, secs))
            row.append(cell)
            print(f"[{k}] {text} {side}: {cell}", flush=True)
        rows.append(row)

    print_table(
        ["#", "formula", "std(y)", "ops truth/max", *sides],
        rows,
        title=(
            "Feynman set: recovered NRMSE ops seconds "
            f"(recovered = NRMSE < {NRMSE_OK:g} and ops <= max; budget {args.budget:g} s)"
        ),
    )
    print()
    print_table(
        ["library", "recovered", "median s", "total s"],
        [
            [
                s,
                f"{sum(ok for ok, _ in results[s])}/{len(results[s])}",
                f"{statistics.median(t for _, t in results[s]):.1f}",
                f"{sum(t for _, t in results[s]):.0f}",
            ]
            if s not in missing and results[s]
            else [s, "n/a", "-", "-"]
            for s in sides
        ],
    )
    print("\nreturned formulas (first 160 characters):")
    for k, side, f in formulas:
        print(f"  [{k}] {side}: {f[:160]}")
    print(probe_line())
    sb.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
