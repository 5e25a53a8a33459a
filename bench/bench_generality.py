"""The same recipe on many formulas, pykan 0.2.8 vs kan_core: recovered, time, exceptions.

Recipe (not tuned per formula): KAN(width, grid=5, k=3, seed=1); fit 50 LBFGS (lamb 0.002) ->
prune() -> fit 50 -> refine(10) -> fit 50 -> auto_symbolic() -> fit 50 -> symbolic_formula().
Recovered = the formula's test RMSE < 1e-3 of the target's std.

    .venv/bin/python bench/bench_generality.py [--only ours|pykan] [--cases 0,3,5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import traceback

import sympy
from _common import formula_rmse, print_table, probe_line, setup_torch, tutorial_recipe
from _pykan import PykanSandbox

from kan_core import KAN, dataset_from_formula, parse_formula, symbolic_formula

TAU = 2 * math.pi
CASES = [  # formula, ranges, width — 1 to 4 variables, ranges beyond [-1, 1], no-hidden widths
    ("sin(x_1)", [[0, TAU]], [1, 1]),
    ("sqrt(x_1)", [[0.5, 2]], [1, 1]),
    ("exp(-x_1**2)", [[-2, 2]], [1, 1]),
    ("x_1**2 + x_2**2", [[-1, 1], [-1, 1]], [2, 1]),
    ("exp(x_1) + 1/x_2", [[-1, 1], [0.5, 2]], [2, 1]),
    ("log(x_1) + sin(x_2)", [[0.5, 2], [0, TAU]], [2, 1]),
    ("x_1*x_2", [[0.5, 2], [0.5, 2]], [2, 2, 1]),
    ("x_1/x_2", [[0.5, 2], [0.5, 2]], [2, 2, 1]),
    ("exp(sin(pi*x_1) + x_2**2)", [[-1, 1], [-1, 1]], [2, 5, 1]),
    ("(x_1 + x_2)**2", [[-1, 1], [-1, 1]], [2, 1, 1]),
    ("sqrt(x_1**2 + x_2**2)", [[-1, 1], [-1, 1]], [2, 1, 1]),
    ("tanh(2*x_1 + x_2)", [[-1, 1], [-1, 1]], [2, 1, 1]),
    ("sin(x_1) + x_2**2 + exp(x_3) + x_4", [[0, TAU], [-1, 1], [-1, 1], [0.5, 2]], [4, 1]),
]


def run_ours(ds, width):
    m = tutorial_recipe(KAN(width, grid=5, k=3, seed=1), ds)
    return symbolic_formula(m)[0], m.width  # (real-valued symbols, as the scoring below)


def run_pykan(ds, width, sb):
    from kan import KAN as PyKAN

    with sb.run():
        pk = PyKAN(width=width, grid=5, k=3, seed=1, auto_save=False, ckpt_path=sb.ckpt_path)
        m = tutorial_recipe(pk, ds)
        return m.symbolic_formula()[0][0], list(m.width_in)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["ours", "pykan"])
    ap.add_argument("--cases", help="comma-separated case indices")
    args = ap.parse_args()
    setup_torch(0)
    picks = [int(c) for c in args.cases.split(",")] if args.cases else range(len(CASES))
    sides = [s for s in ("pykan", "ours") if args.only in (None, s)]
    sb = PykanSandbox()
    results = {s: [] for s in sides}
    rows = []
    for k in picks:
        text, ranges, width = CASES[k]
        ds = dataset_from_formula(text, ranges=ranges, seed=0)
        names = parse_formula(text).variables
        syms = [sympy.Symbol(n, real=True) for n in names]
        std = float(ds["test_label"].std())
        row = [text, str(width)]
        for side in sides:
            setup_torch(0)
            t0 = time.perf_counter()
            try:
                # a fresh list each time: pykan mutates the width list it is given
                expr, w = (
                    run_ours(ds, list(width)) if side == "ours" else run_pykan(ds, list(width), sb)
                )
                if side == "pykan":
                    expr = expr.subs({sympy.Symbol(f"x_{i + 1}"): s for i, s in enumerate(syms)})
                rel = formula_rmse(expr, syms, ds["test_input"], ds["test_label"]) / std
                ok = rel < 1e-3
                cell = f"{'yes' if ok else 'no'} ({rel:.1e}, {time.perf_counter() - t0:.1f}s)"
                results[side].append((ok, time.perf_counter() - t0, False))
            except Exception as e:  # noqa: BLE001 — counted and shown, never fatal
                cell = f"EXC {type(e).__name__} ({time.perf_counter() - t0:.1f}s)"
                results[side].append((False, time.perf_counter() - t0, True))
                if side == "ours":
                    traceback.print_exc()
            row.append(cell)
        rows.append(row)
    print_table(
        ["formula", "width", *[f"{s}: recovered (rel RMSE, time)" for s in sides]],
        rows,
        title="Generality: same recipe, unseen formulas",
    )
    for side in sides:
        r = results[side]
        print(
            f"{side}: recovered {sum(ok for ok, _, _ in r)}/{len(r)}, "
            f"exceptions {sum(e for _, _, e in r)}, "
            f"median {statistics.median(t for _, t, _ in r):.1f}s per formula"
        )
    print(probe_line())
    sb.close()


if __name__ == "__main__":
    main()
