"""auto_symbolic alone, full function library, pykan 0.2.8 vs kan_core, on the toy model as the
pipeline leaves it just before that stage: exp(sin(pi*x_1)+x_2**2), width [2,5,1], grid 5, k 3,
seed 1: fit 50 (lamb 0.002) -> prune -> fit 50 -> refine(10) -> fit 50 -> [auto_symbolic, timed].
With --unpruned, also auto_symbolic on the unpruned [2,5,1] model after the first fit (15 edges).

    .venv/bin/python bench/bench_symbolic.py [--only ours|pykan] [--steps 50] [--unpruned]
"""

from __future__ import annotations

import argparse
import time

from _common import (
    load_probe,
    print_table,
    probe_line,
    ratio,
    toy_dataset,
    try_import,
)
from _pykan import PykanSandbox, report_pykan
from bench_pipeline import GRID, SEED, WIDTH, K, seed_all


def active_edges_pykan(model) -> int:
    return sum(int((layer.mask > 0).sum()) for layer in model.act_fun)


def pykan_choices(model) -> dict:
    out = {}
    for l, sf in enumerate(model.symbolic_fun):
        for j in range(sf.out_dim):
            for i in range(sf.in_dim):
                if sf.mask[j, i] > 0 and sf.funs_name[j][i] != "0":
                    out[(l, i, j)] = sf.funs_name[j][i]
    return out


def bench_pykan(dataset, steps, sb, pruned: bool) -> dict:
    kan = try_import("kan")
    if kan is None:
        raise RuntimeError("pykan not installed (bash bench/setup.sh)")
    seed_all(SEED)
    with sb.run():
        model = kan.KAN(
            width=list(WIDTH), grid=GRID, k=K, seed=SEED, auto_save=False, ckpt_path=sb.ckpt_path
        )
        model.fit(dataset, opt="LBFGS", steps=steps, lamb=0.002)
        if pruned:
            model = model.prune()
            model.fit(dataset, opt="LBFGS", steps=steps)
            model = model.refine(10)
            model.fit(dataset, opt="LBFGS", steps=steps)
        edges = active_edges_pykan(model)
        t0 = time.perf_counter()
        model.auto_symbolic(lib=None)
        dt = time.perf_counter() - t0
    return {"s": dt, "edges": edges, "choices": pykan_choices(model)}


def bench_ours(dataset, steps, pruned: bool) -> dict:
    kc = try_import("kan_core")
    if kc is None or not hasattr(kc, "KAN"):
        raise RuntimeError("kan_core.KAN not importable yet")
    seed_all(SEED)
    model = kc.KAN(width=list(WIDTH), grid=GRID, k=K, seed=SEED)
    model.fit(dataset, opt="LBFGS", steps=steps, lamb=0.002)
    if pruned:
        model = model.prune()
        model.fit(dataset, opt="LBFGS", steps=steps)
        model = model.refine(10)
        model.fit(dataset, opt="LBFGS", steps=steps)
    edges = sum(
        model.edge_state(l, i, j) == "active"
        for l in range(model.depth)
        for i in range(model.width[l])
        for j in range(model.width[l + 1])
    )
    t0 = time.perf_counter()
    fits = model.auto_symbolic()
    dt = time.perf_counter() - t0
    choices = {k: v.name for k, v in (fits or {}).items() if getattr(v, "name", "0") != "0"}
    return {"s": dt, "edges": edges, "choices": choices}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=["ours", "pykan"], help="run one side only")
    ap.add_argument("--steps", type=int, default=50, help="LBFGS steps per fit (default 50)")
    ap.add_argument(
        "--unpruned",
        action="store_true",
        help="also the 15-edge unpruned case (pykan needs 3-7 min for it)",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    load_probe()
    seed_all(SEED)
    dataset = toy_dataset(1000, 1000, seed=SEED)
    sides = [s for s in ("pykan", "ours") if args.only in (None, s)]
    cases = [("after prune+refine(10)", True)] + (
        [("unpruned [2,5,1], grid 5", False)] if args.unpruned else []
    )
    sb, rows, details = PykanSandbox(), [], []
    for case, pruned in cases:
        res = {}
        for side in sides:
            try:
                res[side] = (
                    bench_pykan(dataset, args.steps, sb, pruned)
                    if side == "pykan"
                    else bench_ours(dataset, args.steps, pruned)
                )
                details.append(f"{case} / {side}: {res[side]['choices']}")
            except Exception as e:  # noqa: BLE001
                details.append(f"{case} / {side}: ERROR {type(e).__name__}: {e}")
        p, o = res.get("pykan", {}), res.get("ours", {})
        rows.append(
            [
                case,
                p.get("edges"),
                p.get("s"),
                o.get("edges"),
                o.get("s"),
                ratio(p.get("s"), o.get("s")),
                p["s"] / p["edges"] if p.get("edges") else None,
                o["s"] / o["edges"] if o.get("edges") else None,
            ]
        )
    print_table(
        [
            "model",
            "pykan edges",
            "pykan s",
            "ours edges",
            "ours s",
            "pykan/ours",
            "pykan s/edge",
            "ours s/edge",
        ],
        rows,
        title="auto_symbolic, full library, 2 threads (edges = active edges fitted)",
    )
    print("\nchosen functions (non-zero edges):")
    for d in details:
        print("  " + d)
    if "pykan" in sides:
        report_pykan(sb, verbose=args.verbose)
    print(probe_line())
    sb.close()


if __name__ == "__main__":
    main()
