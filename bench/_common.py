"""Shared helpers for the bench scripts: timing, tables, the toy dataset, RNG slots, load probe,
pykan's tutorial recipe. (pykan sandboxing lives in _pykan.py.)"""

from __future__ import annotations

import contextlib
import math
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # so `import kan_core` works when run as `python bench/x.py`
    sys.path.insert(0, str(REPO))

os.environ.setdefault("MPLBACKEND", "Agg")
THREADS = 2


def setup_torch(seed: int = 0) -> None:
    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- timing
def time_interleaved(
    fns: dict,
    budget: float = 3.0,
    rounds: int = 5,
    warmup: int = 2,
    max_reps: int = 200,
    stat: str = "median",
) -> dict:
    """ms per call for each `fns[name]()`, measured round-robin so that load from elsewhere on
    the box (this is a shared 2-core VM) hits every contender alike. After `warmup` calls each,
    every round times each fn for ~budget/rounds seconds (at least one call); returns the median
    (or min) over all its timed calls. A fn that raises is dropped and its error returned as str."""
    out, first = {}, {}
    for name, fn in fns.items():
        try:
            for _ in range(max(warmup - 1, 0)):
                fn()
            t0 = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - caller reports it
            out[name] = f"{type(e).__name__}: {str(e)[:150]}"
    live = {n: f for n, f in fns.items() if n in first}
    times = {n: [] for n in live}
    per_round = budget / rounds
    for _ in range(rounds):
        for name, fn in live.items():
            n = int(min(max_reps // rounds or 1, max(1, per_round / max(first[name], 1e-6))))
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        out[name] = (min(ts) if stat == "min" else statistics.median(ts)) * 1e3
    return out


class Stopwatch:
    """`with sw("stage"): ...` records seconds per stage, in order."""

    def __init__(self):
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0


_PROBES: list[float] = []


def load_probe() -> float:
    """ms for a fixed small workload (50 fp32 256x256 matmuls, best of 5); recorded in _PROBES.
    On a quiet box it is stable; a jump between the start and the end of a run means the box was
    busy with something else (other VMs share this host) and the timings are suspect."""
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    a @ a  # thread-pool / BLAS warm-up
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(50):
            a @ a
        best = min(best, time.perf_counter() - t0)
    _PROBES.append(best * 1e3)
    return best * 1e3


def probe_line() -> str:
    load_probe()
    kc = sys.modules.get("kan_core")
    tuned = getattr(kc, "ALLOCATOR_TUNED", None)
    alloc = "" if tuned is None else f"; malloc thresholds tuned by kan_core (all sides): {tuned}"
    return (
        "load probe (50x 256^2 matmul, ms; higher = busier box): "
        + ", ".join(f"{v:.2f}" for v in _PROBES)
        + alloc
    )


class RngSlot:
    """Private torch/numpy/random RNG state for one side of a comparison, so that two pipelines
    can run interleaved stage by stage (pykan reseeds torch's global RNG inside prune/refine)."""

    def __init__(self, seed: int):
        import numpy as np

        self._np = np
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        self.state = self._capture()

    def _capture(self):
        return torch.get_rng_state(), self._np.random.get_state(), random.getstate()

    @contextlib.contextmanager
    def active(self):
        t, n, r = self.state
        torch.set_rng_state(t)
        self._np.random.set_state(n)
        random.setstate(r)
        try:
            yield
        finally:
            self.state = self._capture()


# --------------------------------------------------------------------------- tables
def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 10**-(digits)):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}f}"
    return str(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def print_table(headers, rows, title: str | None = None, digits: int = 3) -> None:
    """Markdown-style table (pastes straight into README.md)."""
    cells = [[fmt(c, digits) for c in r] for r in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
        for i, h in enumerate(headers)
    ]
    if title:
        print(f"\n{title}\n")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print(
            "| "
            + " | ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
        )
    sys.stdout.flush()


# --------------------------------------------------------------------------- data
def toy_fn(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


def toy_dataset(n_train: int = 1000, n_test: int = 1000, seed: int = 1) -> dict:
    """Same recipe as pykan's create_dataset (uniform on [-1, 1]); one dataset fed to both sides."""
    g = torch.Generator().manual_seed(seed)
    xtr = torch.rand(n_train, 2, generator=g) * 2 - 1
    xte = torch.rand(n_test, 2, generator=g) * 2 - 1
    return {
        "train_input": xtr,
        "train_label": toy_fn(xtr),
        "test_input": xte,
        "test_label": toy_fn(xte),
    }


def formula_rmse(expr, symbols, x: torch.Tensor, y: torch.Tensor) -> float:
    """RMSE of a sympy expression in `symbols` (one per input column) on (x, y)."""
    import numpy as np
    import sympy

    f = sympy.lambdify(list(symbols), expr, modules="numpy")
    xs = x.detach().double().numpy()
    with np.errstate(all="ignore"):
        pred = np.asarray(f(*[xs[:, i] for i in range(xs.shape[1])]), dtype=float)
    pred = np.broadcast_to(pred, (xs.shape[0],)).reshape(-1)
    return float(np.sqrt(np.mean((pred - y.detach().double().numpy().reshape(-1)) ** 2)))


def net_rmse(model, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y) ** 2)))


# --------------------------------------------------------------------------- libraries
def try_import(name: str):
    """Module or None; the reason is kept in IMPORT_ERRORS."""
    import importlib

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        IMPORT_ERRORS[name] = f"{type(e).__name__}: {e}"
        return None


IMPORT_ERRORS: dict[str, str] = {}


# --------------------------------------------------------------------------- the recipe
def tutorial_recipe(model, ds, **fit_options):
    """pykan's tutorial recipe, on a pykan or a kan_core model alike (same method names):
    fit 50 LBFGS (lamb 0.002) -> prune() -> fit 50 -> refine(10) -> fit 50 -> auto_symbolic()
    -> fit 50. Returns the final model (prune and refine return new ones). ``fit_options`` go to
    every fit (kan_core's ``scale_aware=True``, as the workbench trains; pykan takes none)."""
    model.fit(ds, opt="LBFGS", steps=50, lamb=0.002, **fit_options)
    model = model.prune()
    model.fit(ds, opt="LBFGS", steps=50, **fit_options)
    model = model.refine(10)
    model.fit(ds, opt="LBFGS", steps=50, **fit_options)
    model.auto_symbolic()
    model.fit(ds, opt="LBFGS", steps=50, **fit_options)
    return model
