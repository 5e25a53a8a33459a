"""A single KAN layer, forward + backward (sum of outputs), batch 1024, 2 threads, grid 5 / k 3
(each library's defaults otherwise): kan_core vs flashkan vs inkan (torch.compile'd basis, and
eager) vs an efficient-kan-style layer vs pykan's KANLayer. Median ms after warm-up (the warm-up
includes torch.compile for flashkan / inkan); the contenders are timed round-robin.

    .venv/bin/python bench/bench_layer.py [--sizes 64 256] [--batch 1024] [--only NAME ...]
"""

from __future__ import annotations

import argparse

import torch
from _common import (
    load_probe,
    print_table,
    probe_line,
    ratio,
    setup_torch,
    time_interleaved,
    try_import,
)
from _efficient_kan import EfficientKANLinear
from _pykan import PykanSandbox


def make_ours(n):
    kc = try_import("kan_core")
    if kc is None or not hasattr(kc, "KAN"):
        raise RuntimeError("kan_core.KAN not importable")
    return kc.KAN(width=[n, n], grid=5, k=3, seed=0).layers[0]


def make_flashkan(n):
    m = try_import("flashkan")
    if m is None:
        raise RuntimeError("flashkan not installed")
    return m.KANLayer(n, n, grid_size=5, spline_order=3)


def make_inkan(n, compiled=True):
    m = try_import("inkan")
    if m is None:
        raise RuntimeError("inkan not installed")
    return m.KANLayer(n, n, grid_size=5, spline_order=3, compile_basis=compiled)


def make_pykan(n, sb):
    m = try_import("kan.KANLayer")
    if m is None:
        raise RuntimeError("pykan not installed")
    with sb.run():
        return m.KANLayer(in_dim=n, out_dim=n, num=5, k=3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[64, 256])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument(
        "--input-grad",
        action="store_true",
        help="x requires grad (a hidden layer): nothing can be cached across calls",
    )
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timed calls per cell")
    ap.add_argument("--rounds", type=int, default=5, help="round-robin rounds over the layers")
    ap.add_argument("--stat", choices=["median", "min"], default="median")
    ap.add_argument(
        "--only", nargs="+", help="subset of: ours flashkan inkan inkan-eager efficient-kan pykan"
    )
    args = ap.parse_args()
    load_probe()
    sb = PykanSandbox()
    impls = {
        "ours (kan_core)": ("ours", make_ours),
        "flashkan 0.2.0": ("flashkan", make_flashkan),
        "inkan 0.5.2": ("inkan", make_inkan),
        "inkan 0.5.2 eager": ("inkan-eager", lambda n: make_inkan(n, compiled=False)),
        "efficient-kan style": ("efficient-kan", lambda n: EfficientKANLinear(n, n)),
        "pykan 0.2.8 KANLayer": ("pykan", lambda n: make_pykan(n, sb)),
    }
    impls = {k: v for k, v in impls.items() if not args.only or v[0] in args.only}

    ms: dict[tuple[str, int], float] = {}
    params: dict[tuple[str, int], int] = {}
    notes = []
    for n in args.sizes:
        setup_torch(0)
        x = torch.rand(args.batch, n, generator=torch.Generator().manual_seed(0)) * 2 - 1
        if args.input_grad:  # a layer inside a network: bases recomputed, input gradient needed
            x.requires_grad_()
        fns = {}
        for label, (key, make) in impls.items():
            torch.manual_seed(0)
            try:
                layer = make(n)
            except Exception as e:  # noqa: BLE001 - report, keep going
                notes.append(f"{label} {n}: {type(e).__name__}: {str(e)[:150]}")
                continue
            ps = [p for p in layer.parameters() if p.requires_grad]
            params[(label, n)] = sum(p.numel() for p in ps)

            def fb(layer=layer, ps=ps, x=x, in_sandbox=(key == "pykan")):
                for p in ps:
                    p.grad = None
                if in_sandbox:
                    with sb.run():
                        out = layer(x)
                else:
                    out = layer(x)
                if isinstance(out, tuple):  # pykan's KANLayer returns (y, preacts, ...)
                    out = out[0]
                out.sum().backward()

            fns[label] = fb
        res = time_interleaved(
            fns, budget=args.budget * len(fns), rounds=args.rounds, warmup=3, stat=args.stat
        )
        for label, v in res.items():
            if isinstance(v, str):
                notes.append(f"{label} {n}: {v}")
            else:
                ms[(label, n)] = v
        fns = res = None

    ours = "ours (kan_core)"
    headers = ["layer"]
    for n in args.sizes:
        headers += [f"{n}->{n} ms", f"/ours {n}"]
    headers += [f"params {n}" for n in args.sizes]
    rows = []
    for label in impls:
        r = [label]
        for n in args.sizes:
            r += [ms.get((label, n)), ratio(ms.get((label, n)), ms.get((ours, n)))]
        r += [params.get((label, n)) for n in args.sizes]
        rows.append(r)
    print_table(
        headers,
        rows,
        digits=2,
        title=f"one KAN layer, fwd + bwd, batch {args.batch}, grid 5, k 3, "
        f"{torch.get_num_threads()} threads, {args.stat} ms over interleaved calls "
        f"(/ours: time relative to ours)",
    )
    for note in notes:
        print("note:", note)
    print(probe_line())
    sb.close()


if __name__ == "__main__":
    main()
