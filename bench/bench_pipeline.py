"""The toy pipeline, pykan 0.2.8 vs kan_core, stage by stage.

exp(sin(pi*x_1) + x_2**2), width [2,5,1], grid 5, k 3, 1000/1000 samples, seed 1:
fit 50 LBFGS (lamb 0.002) -> prune -> fit 50 -> refine(10) -> fit 50 -> auto_symbolic (full
library) -> fit 50 -> symbolic_formula.

    .venv/bin/python bench/bench_pipeline.py [--only ours|pykan] [--steps 50] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import traceback

import numpy as np
import sympy
import torch
from _common import (
    RngSlot,
    Stopwatch,
    formula_rmse,
    load_probe,
    net_rmse,
    print_table,
    probe_line,
    ratio,
    setup_torch,
    toy_dataset,
    try_import,
)
from _pykan import PykanSandbox, report_pykan

STAGES = [
    "fit 1 (lamb)",
    "prune",
    "fit 2",
    "refine(10)",
    "fit 3",
    "auto_symbolic",
    "fit 4",
    "symbolic_formula",
]
WIDTH, GRID, K, SEED = [2, 5, 1], 5, 3, 1


def seed_all(seed: int) -> None:
    setup_torch(seed)
    np.random.seed(seed)
    random.seed(seed)


def run_pykan(dataset, steps, sb: PykanSandbox, out: dict):
    """Generator: runs one stage per next(); timings and results go into `out`."""
    kan = try_import("kan")
    if kan is None:
        raise RuntimeError("pykan not installed (bash bench/setup.sh)")
    rng, sw = RngSlot(SEED), Stopwatch()
    out["times"] = sw.times

    def stage(name):
        return _Stage(sw(name), rng.active(), sb.run())

    with rng.active(), sb.run():
        model = kan.KAN(
            width=list(WIDTH), grid=GRID, k=K, seed=SEED, auto_save=False, ckpt_path=sb.ckpt_path
        )
    with stage("fit 1 (lamb)"):
        model.fit(dataset, opt="LBFGS", steps=steps, lamb=0.002)
    yield
    with stage("prune"):
        model = model.prune()
    out["pruned_width"] = [w[0] if isinstance(w, list) else w for w in model.width]
    yield
    with stage("fit 2"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    with stage("refine(10)"):
        model = model.refine(10)
    yield
    with stage("fit 3"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    with stage("auto_symbolic"):
        model.auto_symbolic(lib=None)  # None = pykan's full SYMBOLIC_LIB
    yield
    with stage("fit 4"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    with stage("symbolic_formula"):
        formulas, variables = model.symbolic_formula()
    out["formula"] = formulas[0]
    out["symbols"] = variables
    out["net_rmse"] = net_rmse(model, dataset["test_input"], dataset["test_label"])


def run_ours(dataset, steps, out: dict):
    """Generator: runs one stage per next(); timings and results go into `out`."""
    kc = try_import("kan_core")
    if kc is None or not hasattr(kc, "KAN"):
        raise RuntimeError("kan_core.KAN not importable yet")
    rng, sw = RngSlot(SEED), Stopwatch()
    out["times"] = sw.times

    def stage(name):
        return _Stage(sw(name), rng.active())

    with rng.active():
        model = kc.KAN(width=list(WIDTH), grid=GRID, k=K, seed=SEED)
    with stage("fit 1 (lamb)"):
        model.fit(dataset, opt="LBFGS", steps=steps, lamb=0.002)
    yield
    with stage("prune"):
        model = model.prune()
    out["pruned_width"] = list(model.width)
    out["prune_warnings"] = list(getattr(model, "prune_warnings", []) or [])
    yield
    with stage("fit 2"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    with stage("refine(10)"):
        model = model.refine(10)
    yield
    with stage("fit 3"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    with stage("auto_symbolic"):
        fits = model.auto_symbolic()
    out["fits"] = {k: getattr(v, "name", v) for k, v in (fits or {}).items()}
    yield
    with stage("fit 4"):
        model.fit(dataset, opt="LBFGS", steps=steps)
    yield
    names = ["x_1", "x_2"]
    with stage("symbolic_formula"):
        formulas, _ = model.symbolic_formula(names)
    out["formula"] = formulas[0]
    out["symbols"] = sympy.symbols(names)
    out["net_rmse"] = net_rmse(model, dataset["test_input"], dataset["test_label"])
    if hasattr(kc, "formula_fidelity"):
        try:
            out["fidelity"] = kc.formula_fidelity(model, dataset)
        except Exception as e:  # noqa: BLE001
            out["fidelity"] = f"{type(e).__name__}: {e}"


class _Stage(contextlib.ExitStack):
    """Enter several context managers at once (stopwatch innermost)."""

    def __init__(self, timer, *ctxs):
        super().__init__()
        self._ctxs = (*ctxs, timer)

    def __enter__(self):
        super().__enter__()
        for c in self._ctxs:
            self.enter_context(c)
        return self


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=["ours", "pykan"], help="run one side only")
    ap.add_argument("--steps", type=int, default=50, help="LBFGS steps per fit (default 50)")
    ap.add_argument("--verbose", action="store_true", help="also dump what pykan printed")
    args = ap.parse_args()
    load_probe()
    setup_torch(SEED)
    # torch.optim imports torch._dynamo (~1 s) the first time any optimiser is built; both
    # libraries build one, so pay that process-level import up front instead of in one side
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    dataset = toy_dataset(1000, 1000, seed=SEED)

    # the two sides run interleaved, stage by stage, so that load from elsewhere on this shared
    # box hits both alike; each side keeps its own RNG state (RngSlot)
    results, errors, sb = {}, {}, PykanSandbox()
    sides = [s for s in ("pykan", "ours") if args.only in (None, s)]
    gens = {}
    for side in sides:
        results[side] = {}
        gens[side] = (
            run_pykan(dataset, args.steps, sb, results[side])
            if side == "pykan"
            else run_ours(dataset, args.steps, results[side])
        )
    while gens:
        for side in list(gens):
            try:
                next(gens[side])
            except StopIteration:
                del gens[side]
            except Exception as e:  # noqa: BLE001 - report and carry on with the other side
                errors[side] = f"{type(e).__name__}: {e}"
                results.pop(side, None)
                del gens[side]
                if args.verbose:
                    traceback.print_exc()

    p, o = results.get("pykan", {}).get("times", {}), results.get("ours", {}).get("times", {})
    rows = [[s, p.get(s), o.get(s), ratio(p.get(s), o.get(s))] for s in STAGES]
    rows.append(
        [
            "total",
            sum(p.values()) if p else None,
            sum(o.values()) if o else None,
            ratio(sum(p.values()), sum(o.values())) if p and o else None,
        ]
    )
    print_table(
        ["stage", "pykan s", "ours s", "pykan/ours"],
        rows,
        title=f"toy pipeline exp(sin(pi*x_1)+x_2**2), width {WIDTH}, "
        f"{args.steps} LBFGS steps per fit, 2 threads",
    )

    rows = []
    for side in sides:
        r = results.get(side)
        if r is None:
            rows.append([side, "-", "-", "-", "ERROR: " + errors[side][:80]])
            continue
        f_rmse = formula_rmse(
            r["formula"], r["symbols"], dataset["test_input"], dataset["test_label"]
        )
        text = str(r["formula"])
        rows.append(
            [
                side,
                str(r["pruned_width"]),
                r["net_rmse"],
                f_rmse,
                text if len(text) <= 90 else text[:87] + "...",
            ]
        )
    print_table(
        ["side", "width after prune", "net test RMSE", "formula test RMSE", "formula"],
        rows,
        title="results (test set, 1000 samples)",
        digits=4,
    )
    for side in sides:
        r = results.get(side, {})
        if "formula" in r:
            print(f"{side} formula: {r['formula']}")
        if r.get("prune_warnings"):
            print(f"{side} prune warnings: {r['prune_warnings']}")
        if r.get("fits"):
            print(f"{side} auto_symbolic: {r['fits']}")
        if "fidelity" in r:
            print(f"{side} formula_fidelity: {r['fidelity']}")
        if side in errors:
            print(f"{side} failed: {errors[side]}")
    if "pykan" in sides:
        report_pykan(sb, verbose=args.verbose)
    print(probe_line())
    sb.close()


if __name__ == "__main__":
    main()
