"""Datasets in pykan's dict form, built from a function or a (safely parsed) formula; presets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .compat import check_device, pykan_keywords
from .config import is_int
from .parser import parse_formula

__all__ = [
    "PRESETS",
    "Preset",
    "create_dataset",
    "create_dataset_from_data",
    "dataset_from_formula",
    "validate_dataset",
]

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
    f_mode: str = "col",
    normalize_input: bool = False,
    normalize_label: bool = False,
    **pykan_kw,
) -> dict:
    """Uniform samples in ``ranges`` (a pair, or one pair per variable); labels ``f(x)``.

    ``f`` maps ``(batch, n_var)`` to ``(batch, 1)`` (or ``(batch,)``); with ``f_mode="row"``
    (pykan's) it takes ``(n_var, batch)``, so ``f = lambda x: x[0] * x[1]``. Non-finite labels
    raise. ``normalize_input`` / ``normalize_label``: shift and scale to the training split's
    mean 0 and std 1, as pykan. pykan's ``device`` is accepted for the CPU. (pykan's third
    positional argument is ``f_mode``; a string there is taken as one.)
    """
    pykan_keywords("create_dataset", pykan_kw, at_default={"device": "cpu"})
    if isinstance(ranges, str):  # create_dataset(f, 2, "row") in pykan's argument order
        f_mode, ranges = ranges, (-1, 1)
    if f_mode not in ("col", "row"):
        raise ValueError(f"f_mode must be 'col' or 'row', got {f_mode!r}")
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
        y = torch.as_tensor(f(x if f_mode == "col" else x.T))  # (a NumPy result too)
        y = y.unsqueeze(1) if y.dim() == 1 else y
        if y.dim() != 2 or y.shape[0] != n:
            raise ValueError(f"f must map (batch, {n_var}) to (batch, n_out), got {tuple(y.shape)}")
        return x, y.to(x.dtype)

    tr_x, tr_y = sample(train_num)
    te_x, te_y = sample(test_num)
    ds = dict(zip(KEYS, (tr_x, tr_y, te_x, te_y), strict=True))
    validate_dataset(ds)
    for part, on in (("input", normalize_input), ("label", normalize_label)):
        if on:
            train = ds[f"train_{part}"]
            mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True)
            if train.shape[0] < 2 or bool((std == 0).any()):
                raise ValueError(f"cannot normalize the {part}s: a column has no spread")
            for split in ("train", "test"):
                ds[f"{split}_{part}"] = (ds[f"{split}_{part}"] - mean) / std
    return ds


def create_dataset_from_data(inputs, labels, train_ratio: float = 0.8, device="cpu", seed=None):
    """pykan's ``create_dataset_from_data``: a random ``train_ratio`` of the rows for training,
    the rest for testing (``seed``: a fixed split; pykan's draws from NumPy's global state, as
    here without one). ``inputs`` ``(n, n_var)``, ``labels`` ``(n, n_out)`` or ``(n,)``."""
    check_device(device)
    inputs, labels = torch.as_tensor(inputs), torch.as_tensor(labels)
    if inputs.dim() != 2 or labels.dim() not in (1, 2) or labels.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"inputs must be (n, n_var) and labels (n, n_out) with the same n, got "
            f"{tuple(inputs.shape)} and {tuple(labels.shape)}"
        )
    if not (isinstance(train_ratio, int | float) and 0 < train_ratio < 1):
        raise ValueError(f"train_ratio must be between 0 and 1, got {train_ratio!r}")
    n = inputs.shape[0]
    n_train = int(n * train_ratio)
    if n_train < 1 or n_train >= n:
        raise ValueError(f"{n} rows with train_ratio {train_ratio} leave a split empty")
    if seed is None:
        order = torch.from_numpy(np.random.permutation(n))
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    train_id, test_id = order[:n_train].sort().values, order[n_train:].sort().values
    return {
        "train_input": inputs[train_id].detach(),
        "test_input": inputs[test_id].detach(),
        "train_label": labels[train_id].detach(),
        "test_label": labels[test_id].detach(),
    }


def augment_input(orig_vars, aux_vars, x):
    """pykan's ``augment_input``: columns of ``aux_vars`` (sympy expressions in the symbols
    ``orig_vars``, e.g. ``[a + b, a * b]``) computed from ``x`` and put *before* its columns.
    ``x``: a ``(batch, len(orig_vars))`` tensor, or a dataset dict (its inputs are replaced, in
    place, and it is returned). Expressions must be sympy objects (a string is refused: it would
    be code)."""
    import sympy

    if isinstance(x, dict):
        for key in ("train_input", "test_input"):
            x[key] = augment_input(orig_vars, aux_vars, x[key])
        return x
    orig_vars, aux_vars = list(orig_vars), list(aux_vars)
    for e in aux_vars:
        if not isinstance(e, sympy.Basic):
            raise TypeError(f"aux_vars must be sympy expressions, got {e!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != len(orig_vars):
        raise ValueError(f"x must be a (batch, {len(orig_vars)}) tensor, one column per variable")
    cols = [x[:, i].detach().double().numpy() for i in range(len(orig_vars))]
    extra = []
    for e in aux_vars:
        v = np.asarray(sympy.lambdify(orig_vars, e, modules="numpy")(*cols), dtype=np.float64)
        extra.append(torch.from_numpy(np.broadcast_to(v, (x.shape[0],)).copy()).to(x.dtype))
    return torch.cat([torch.stack(extra, 1), x], 1) if extra else x


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
