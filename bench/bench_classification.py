"""The lesson classification problems (circle, XOR, two Gaussians, spiral) in pykan's setup —
CrossEntropyLoss on 2 logits, class-index labels, LBFGS, no penalty — trained by kan_core and by
pykan 0.2.8 on the same data, and an MLP of about the same parameter count (the workbench's
"Compare with an MLP"). Test accuracy after each run and its wall time.

    .venv/bin/python bench/bench_classification.py [--steps 20]
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (puts the repo on sys.path)
import torch
from _pykan import PykanSandbox

import kan_core
from kan_core.classification import CLASSIFICATION_PRESETS, accuracy, classification_dataset
from server.compare import build_mlp, kan_parameters, mlp_parameters, mlp_width


def ours(ds: dict, width: list, steps: int) -> tuple[float, float, int]:
    model = kan_core.KAN(width=width, grid=5, k=3, seed=0)
    t0 = time.perf_counter()
    kan_core.fit(model, ds, opt="LBFGS", steps=steps, loss_fn=torch.nn.CrossEntropyLoss())
    return (
        accuracy(model, ds["test_input"], ds["test_label"]),
        time.perf_counter() - t0,
        kan_parameters(model),
    )


def pykan(ds: dict, width: list, steps: int, sb: PykanSandbox) -> tuple[float, float]:
    from kan import KAN

    with sb.run():
        model = KAN(width=width, grid=5, k=3, seed=0, auto_save=False, ckpt_path=sb.ckpt_path)
        t0 = time.perf_counter()
        model.fit(ds, opt="LBFGS", steps=steps, loss_fn=torch.nn.CrossEntropyLoss())
        dt = time.perf_counter() - t0
        with torch.no_grad():
            acc = float((model(ds["test_input"]).argmax(1) == ds["test_label"]).float().mean())
    return acc, dt


def mlp(ds: dict, width: list, steps: int, target: int) -> tuple[float, float, list]:
    mw = mlp_width(width[0], width[-1], len(width) - 2, target)
    net = build_mlp(mw, seed=0)
    opt = torch.optim.LBFGS(net.parameters(), lr=1, history_size=10, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(net(ds["train_input"]), ds["train_label"])
        loss.backward()
        return loss

    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step(closure)
    dt = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((net(ds["test_input"]).argmax(1) == ds["test_label"]).float().mean())
    return acc, dt, mw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(_common.THREADS)
    sb = PykanSandbox()
    print(f"test accuracy after {args.steps} LBFGS steps (1000 train / 1000 test points, seed 0)")
    print(
        f"{'problem':10s} {'width':10s} {'ours':>14s} {'pykan 0.2.8':>14s} {'MLP (≈ params)':>26s}"
    )
    for p in CLASSIFICATION_PRESETS:
        ds = classification_dataset(p.name, 1000, 1000, seed=0)
        a, t, n = ours(ds, list(p.width), args.steps)
        pa, pt = pykan(ds, list(p.width), args.steps, sb)  # (pykan rewrites width in place)
        ma, mt, mw = mlp(ds, list(p.width), args.steps, n)
        print(
            f"{p.name:10s} {str(p.width):10s} {a:6.1%} {t:5.1f} s  {pa:6.1%} {pt:5.1f} s  "
            f"{ma:6.1%} {mt:4.1f} s {str(mw)} {mlp_parameters(mw)}/{n}"
        )
    sb.close()


if __name__ == "__main__":
    main()
