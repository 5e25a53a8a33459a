"""One Adam training step (fwd + MSE + bwd + optimizer step), batch 1024, lr 1e-3, 2 threads:
pykan 0.2.8 (speed mode) vs kan_core vs an MLP of the same depth (SiLU) and ~ the same parameter
count. Median over timed reps after warm-up; the sides are timed round-robin.
"ours" trains on one fixed batch (full-batch training: the first layer's spline bases are reused
across steps); "ours mb" takes a new batch every step (minibatch training: nothing is reused).

    .venv/bin/python bench/bench_step.py [--only ours|pykan|mlp] [--widths 2,5,1 64,64,64]
                                         [--batch 1024] [--budget 3]
"""

from __future__ import annotations

import argparse
import math

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
from _pykan import PykanSandbox, report_pykan
from torch import nn

DEFAULT_WIDTHS = ["2,5,1", "4,10,10,1", "64,64,64", "256,256"]
SIDES = ("pykan", "ours", "ours_mb", "mlp")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp_widths(width: list[int], target: int) -> list[int]:
    """Same depth as the KAN; all hidden layers one size h, chosen so the parameter count is
    closest to `target`. A one-layer KAN ([256, 256]) has no hidden size to match, and a bare
    Linear has 11× fewer parameters, so it is compared with a one-hidden-layer MLP instead."""
    n_hidden = max(1, len(width) - 2)

    def count(h):
        ws = [width[0]] + [h] * n_hidden + [width[-1]]
        return sum(a * b + b for a, b in zip(ws[:-1], ws[1:], strict=False))

    best = min(range(1, 8192), key=lambda h: abs(count(h) - target))
    return [width[0]] + [best] * n_hidden + [width[-1]]


def make_mlp(ws: list[int]) -> nn.Module:
    layers = []
    for i, (a, b) in enumerate(zip(ws[:-1], ws[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(ws) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, rotate: int = 1):
    """One Adam step on (x, y); with ``rotate`` > 1 each step takes the next of that many fresh
    batches (minibatch training: nothing computed from the inputs can be reused)."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(1)
    xs = [x] + [torch.rand(x.shape, generator=g) * 2 - 1 for _ in range(rotate - 1)]
    turn = [0]

    def step():
        opt.zero_grad(set_to_none=True)
        turn[0] = (turn[0] + 1) % len(xs)
        loss = torch.mean((model(xs[turn[0]]) - y) ** 2)
        loss.backward()
        opt.step()
        return loss

    return step


def build(side: str, width: list[int], kan_params: int | None, sb: PykanSandbox):
    """(model, note) for one side; raises if the library is missing."""
    if side == "pykan":
        kan = try_import("kan")
        if kan is None:
            raise RuntimeError("pykan not installed")
        with sb.run():
            m = kan.KAN(
                width=list(width),
                grid=5,
                k=3,
                seed=0,
                auto_save=False,
                save_act=False,
                ckpt_path=sb.ckpt_path,
            )
            m = m.speed()
        return m, ""
    if side in ("ours", "ours_mb"):
        kc = try_import("kan_core")
        if kc is None or not hasattr(kc, "KAN"):
            raise RuntimeError("kan_core.KAN not importable")
        return kc.KAN(width=list(width), grid=5, k=3, seed=0), ""
    edges = sum(a * b for a, b in zip(width[:-1], width[1:], strict=False))
    ws = mlp_widths(width, kan_params or 11 * edges)
    return make_mlp(ws), "x".join(map(str, ws))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", choices=SIDES, help="run one side only")
    ap.add_argument("--widths", nargs="+", default=DEFAULT_WIDTHS, help="e.g. 2,5,1 256,256")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed steps per cell")
    ap.add_argument("--rounds", type=int, default=5, help="round-robin rounds over the sides")
    ap.add_argument("--stat", choices=["median", "min"], default="median")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    load_probe()
    sides = [s for s in SIDES if args.only in (None, s)]
    sb = PykanSandbox()

    rows, prow, notes = [], [], []
    for wtxt in args.widths:
        width = [int(v) for v in wtxt.split(",")]
        setup_torch(0)
        g = torch.Generator().manual_seed(0)
        x = torch.rand(args.batch, width[0], generator=g) * 2 - 1
        y = torch.randn(args.batch, width[-1], generator=g)
        # the MLP matches a KAN's parameter count at 11 per edge (8 coefs + 2 scales + 1: as in
        # pykan minus its symbolic branch), so its shape does not depend on which sides run
        ms, params, mlp_shape, fns = {}, {}, "", {}
        for side in [s for s in ("ours", "ours_mb", "pykan", "mlp") if s in sides]:
            torch.manual_seed(0)
            try:
                model, note = build(side, width, None, sb)
            except Exception as e:  # noqa: BLE001 - one failing cell must not kill the table
                notes.append(f"{side} {width}: {type(e).__name__}: {str(e)[:150]}")
                continue
            params[side] = n_params(model)
            mlp_shape = note or mlp_shape
            step = make_step(model, x, y, args.lr, rotate=4 if side == "ours_mb" else 1)
            if side == "pykan":

                def step(inner=step):
                    with sb.run():
                        return inner()

            fns[side] = step
        res = time_interleaved(
            fns, budget=args.budget * len(fns), rounds=args.rounds, warmup=3, stat=args.stat
        )
        for side, v in res.items():
            if isinstance(v, str):
                notes.append(f"{side} {width}: {v}")
            elif not math.isfinite(fns[side]().item()):
                notes.append(f"{side} {width}: loss not finite")
            else:
                ms[side] = v
        fns = res = step = model = None  # free pykan's big activations before the next width
        rows.append(
            [
                str(width),
                ms.get("pykan"),
                ms.get("ours"),
                ms.get("ours_mb"),
                ms.get("mlp"),
                ratio(ms.get("pykan"), ms.get("ours")),
                ratio(ms.get("pykan"), ms.get("ours_mb")),
                ratio(ms.get("ours"), ms.get("mlp")),
                ratio(ms.get("ours_mb"), ms.get("mlp")),
            ]
        )
        prow.append(
            [
                str(width),
                params.get("pykan"),
                params.get("ours"),
                mlp_shape or "-",
                params.get("mlp"),
            ]
        )

    print_table(
        [
            "width",
            "pykan ms",
            "ours ms",
            "ours mb ms",
            "mlp ms",
            "pykan/ours",
            "pykan/ours mb",
            "ours/mlp",
            "ours mb/mlp",
        ],
        rows,
        title=f"one Adam step (fwd + MSE + bwd + step), batch {args.batch}, "
        f"{torch.get_num_threads()} threads, {args.stat} ms, sides timed round-robin",
        digits=2,
    )
    print_table(
        ["width", "pykan params", "ours params", "mlp widths", "mlp params"],
        prow,
        title="trainable parameters (MLP: same depth, SiLU, hidden size matched)",
    )
    for n in notes:
        print("note:", n)
    if "pykan" in sides:
        report_pykan(sb, verbose=args.verbose)
    print(probe_line())
    sb.close()


if __name__ == "__main__":
    main()
