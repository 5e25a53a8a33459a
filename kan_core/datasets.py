"""Datasets in pykan's dict form, built from a function or a (safely parsed) formula; presets."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .compat import pykan_keywords
from .config import is_int
from .parser import parse_formula

__all__ = ["PRESETS", "Preset", "create_dataset", "dataset_from_formula", "validate_dataset"]

KEYS = ("train_input", "train_label", "test_input", "test_label")
MAX_SAMPLES = 10_000_000  # per split


def _ranges(ranges, n_var: int) -> list[tuple[float, float]]:
    r = (
        [list(map(float, ranges))] * n_var
        if len(ranges) == 2 and not hasattr(ranges[0], "__len__")
        else [list(map(float, p)) for p in ranges]
    )
    if len(r) != n_var:
        raise ValueError(f"got {len(r)} ranges for {n_var} variable(s)")
    for k, (lo, hi) in enumerate(r):
        if not (lo < hi) or not all(map(lambda v: abs(v) < 1e9, (lo, hi))):
            raise ValueError(f"range {k + 1} must be a finite increasing pair, got {[lo, hi]}")
    return [(lo, hi) for lo, hi in r]


def create_dataset(
    f,
    n_var: int = 2,
    ranges=(-1, 1),
    train_num: int = 1000,
    test_num: int = 1000,
    seed: int = 0,
    **pykan_kw,
) -> dict:
    """Uniform samples in ``ranges`` (a pair, or one pair per variable); labels ``f(x)``.

    ``f`` maps ``(batch, n_var)`` to ``(batch, 1)`` (or ``(batch,)``). Non-finite labels raise.
    pykan's ``f_mode``, ``normalize_input``, ``normalize_label`` and ``device`` are accepted at
    their defaults (pass them by name: pykan's third positional argument is ``f_mode``).
    """
    pykan_keywords(
        "create_dataset",
        pykan_kw,
        at_default={
            "f_mode": "col",
            "normalize_input": False,
            "normalize_label": False,
            "device": "cpu",
        },
    )
    for name, v, least in (
        ("n_var", n_var, 1),
        ("train_num", train_num, 1),
        ("test_num", test_num, 1),
    ):
        if not (is_int(v, least) and v <= MAX_SAMPLES):
            raise ValueError(
                f"{name} must be a whole number in [{least}, {MAX_SAMPLES}], got {v!r}"
            )
    if not is_int(seed, None):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    r = _ranges(ranges, n_var)
    gen = torch.Generator().manual_seed(seed)
    lo = torch.tensor([p[0] for p in r])
    span = torch.tensor([p[1] - p[0] for p in r])

    def sample(n):
        x = torch.rand(n, n_var, generator=gen) * span + lo
        y = torch.as_tensor(f(x))  # (a NumPy result too)
        y = y.unsqueeze(1) if y.dim() == 1 else y
        if y.dim() != 2 or y.shape[0] != n:
            raise ValueError(f"f must map (batch, {n_var}) to (batch, n_out), got {tuple(y.shape)}")
        return x, y.to(x.dtype)

    tr_x, tr_y = sample(train_num)
    te_x, te_y = sample(test_num)
    ds = dict(zip(KEYS, (tr_x, tr_y, te_x, te_y), strict=True))
    validate_dataset(ds)
    return ds


def dataset_from_formula(
    text: str, ranges=(-1, 1), train_num: int = 1000, test_num: int = 1000, seed: int = 0
) -> dict:
    """``create_dataset`` for a formula string, e.g. ``"exp(sin(pi*x_1) + x_2**2)"``."""
    parsed = parse_formula(text)
    try:
        return create_dataset(parsed.fn, parsed.n_var, ranges, train_num, test_num, seed)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def validate_dataset(ds: dict, class_labels: bool = False) -> None:
    """Raise ``ValueError`` naming the problem: missing keys, bad shapes, NaN or inf.

    Labels are ``(n, n_out)``; with ``class_labels`` (training with a custom loss, e.g. pykan's
    classification with ``loss_fn=CrossEntropyLoss()``) also ``(n,)`` class indices."""
    missing = [k for k in KEYS if k not in ds]
    if missing:
        raise ValueError(f"dataset is missing {', '.join(missing)}")
    for part in ("train", "test"):
        x, y = ds[f"{part}_input"], ds[f"{part}_label"]
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
            raise ValueError(f"{part} data must be torch tensors")
        y_dims = (1, 2) if class_labels else (2,)
        if x.dim() != 2 or y.dim() not in y_dims or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(
                f"{part} shapes must be (n, n_var) and (n, n_out), got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        for name, t in ((f"{part}_input", x), (f"{part}_label", y)):
            bad = ~torch.isfinite(t)
            if bad.any():
                row = int(bad.any(1).nonzero()[0])
                raise ValueError(
                    f"{name} has {int(bad.sum())} NaN/inf value(s) (first in row {row}"
                    f"{', input ' + str(x[row].tolist()) if 'label' in name else ''})"
                )
    if ds["train_input"].shape[1] != ds["test_input"].shape[1]:
        raise ValueError("train and test inputs have different numbers of columns")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    formula: str
    width: list  # ints, or [n_sum, n_mult] for a layer with multiplication nodes
    ranges: list[tuple[float, float]] = field(default_factory=list)
    description: str = ""


PRESETS: list[Preset] = [
    Preset(
        "toy",
        "The KAN paper's toy",
        "exp(sin(pi*x_1) + x_2**2)",
        [2, 5, 1],
        [(-1, 1), (-1, 1)],
        "Two inputs, one hidden sum, an exponential on top.",
    ),
    Preset(
        "product",
        "Multiplication",
        "x_1*x_2",
        [2, 2, 1],
        [(-1, 1), (-1, 1)],
        "A product is a difference of squares: watch two hidden nodes learn x².",
    ),
    Preset(
        "sum_of_squares",
        "Sum of squares",
        "x_1**2 + x_2**2",
        [2, 1],
        [(-1, 1), (-1, 1)],
        "No hidden layer: each edge becomes a parabola.",
    ),
    Preset(
        "distance",
        "Distance from the origin",
        "sqrt(x_1**2 + x_2**2)",
        [2, 1, 1],
        [(-1, 1), (-1, 1)],
        "Squares summed, then a square root.",
    ),
    Preset(
        "damped_wave",
        "Damped wave",
        "exp(-x_1)*sin(2*pi*x_2)",
        [2, 3, 1],
        [(0, 2), (0, 1)],
        "A product of two shapes over a non-symmetric range.",
    ),
    Preset(
        "four_vars",
        "Four variables (pykan)",
        "exp((sin(pi*(x_1**2 + x_2**2)) + sin(pi*(x_3**2 + x_4**2)))/2)",
        [4, 4, 2, 1],
        [(-1, 1)] * 4,
        "The pykan paper's deeper example.",
    ),
]
