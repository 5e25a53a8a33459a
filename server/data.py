"""From a create request to a dataset and a fresh model: presets, formulas, CSV; the limits.

Everything here is synchronous and pure (no store, no threads) so it is testable on its own.
``SpecError`` carries a readable message that routes answer with 422.
"""

from __future__ import annotations

import math
from typing import Any

import torch

import kan_core
from kan_core import classification

from .budget import count_edges, over_budget
from .config import Settings
from .schemas import SessionCreate
from .tables import (
    SpecError,
    check_class_labels,
    csv_dataset,
    csv_targets,
    n_outputs,
    parse_csv,
    targets,
)

__all__ = [
    "SpecError",
    "build_dataset",
    "build_model",
    "build_spec",
    "check_class_labels",
    "check_formula",
    "check_limits",
    "parse_csv",
    "preset_preview",
    "presets",
    "targets",
]


def presets() -> list[dict[str, Any]]:
    from .lessons import LOOK_FOR  # (lessons imports sessions, which imports this module)

    return [
        {
            "name": p.name,
            "title": p.title,
            "formula": p.formula,
            "width": list(p.width),
            "ranges": _ranges_list(p.ranges, p.width[0]),
            "description": getattr(p, "description", ""),
            "look_for": LOOK_FOR.get(p.name, ""),
        }
        for p in kan_core.PRESETS
    ] + [
        {
            "name": p.name,
            "title": p.title,
            "formula": "",
            "width": list(p.width),
            "ranges": [list(r) for r in p.ranges],
            "description": p.description,
            "task": "classification",
            "look_for": p.look_for,
        }
        for p in classification.CLASSIFICATION_PRESETS
    ]


def check_formula(formula: str) -> dict[str, Any]:
    """Validate a formula for inline feedback: variables and LaTeX, or the parser's message."""
    try:
        parsed = _parse(formula)
    except SpecError as exc:
        return {"ok": False, "message": str(exc), "variables": [], "latex": None}
    return {
        "ok": True,
        "message": None,
        "variables": parsed.variables,
        "latex": kan_core.to_latex(parsed.expr),
    }


def preset_preview(name: str, n: int) -> dict[str, Any]:
    """The target on an ``n``×``n`` grid over the first two variables (others at their range's
    middle), for a thumbnail; a curve when there is only one variable."""
    if name in classification.BY_NAME:
        return _class_preview(name, n)
    by_name = {p.name: p for p in kan_core.PRESETS}
    if name not in by_name:
        raise SpecError(f"unknown preset {name!r}")
    p = by_name[name]
    parsed = _parse(p.formula)
    ranges = _ranges_list(p.ranges, len(parsed.variables))
    axes = [torch.linspace(lo, hi, n) for lo, hi in ranges[:2]]
    mids = [(lo + hi) / 2 for lo, hi in ranges]
    if len(axes) == 1:
        x = axes[0].reshape(-1, 1)
        return {
            "variables": parsed.variables,
            "x": axes[0].tolist(),
            "y": None,
            "z": [_finite(v) for v in parsed.fn(x).reshape(-1).tolist()],
        }
    gx, gy = torch.meshgrid(axes[0], axes[1], indexing="xy")
    x = torch.tensor(mids, dtype=torch.float32).repeat(n * n, 1)
    x[:, 0], x[:, 1] = gx.reshape(-1), gy.reshape(-1)
    z = parsed.fn(x).reshape(n, n).tolist()
    return {
        "variables": parsed.variables,
        "x": axes[0].tolist(),
        "y": axes[1].tolist(),
        "z": [[_finite(v) for v in row] for row in z],
    }


def _class_preview(name: str, n: int) -> dict[str, Any]:
    """A classification preset's classes on an ``n``×``n`` grid (each cell the class of the
    nearest of 2,000 sample points): the thumbnail of where each class lives."""
    p = classification.BY_NAME[name]
    ds = classification.classification_dataset(name, train_num=2000, test_num=2, seed=0)
    axes = [torch.linspace(lo, hi, n) for lo, hi in p.ranges]
    gx, gy = torch.meshgrid(axes[0], axes[1], indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    nearest = torch.cdist(grid, ds["train_input"]).argmin(1)
    z = ds["train_label"][nearest].reshape(n, n).float().tolist()
    return {"variables": ["x_1", "x_2"], "x": axes[0].tolist(), "y": axes[1].tolist(), "z": z}


def _finite(v: float) -> float | None:
    return round(v, 5) if math.isfinite(v) else None


def _ranges_list(ranges, n_var: int) -> list[list[float]]:
    """Normalise ``[lo, hi]`` or ``[[lo, hi], ...]`` to one pair per variable."""
    if ranges is None:
        ranges = (-1.0, 1.0)
    seq = list(ranges)
    if len(seq) == 2 and all(isinstance(v, int | float) for v in seq):
        seq = [seq] * n_var
    out = [[float(lo), float(hi)] for lo, hi in seq]
    if len(out) != n_var:
        raise SpecError(f"ranges: expected {n_var} [lo, hi] pairs, got {len(out)}")
    for lo, hi in out:
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise SpecError(f"ranges: need finite lo < hi, got [{lo}, {hi}]")
    return out


def build_spec(req: SessionCreate, settings: Settings) -> dict[str, Any]:
    """Validate a create request into a JSON-able spec (fast: no model or dataset built)."""
    spec: dict[str, Any] = {
        "grid": req.grid,
        "k": req.k,
        "seed": req.seed,
        "mult_arity": req.mult_arity,
        "train": req.train.model_dump(),
    }
    samples = req.train_num + req.test_num  # a CSV's own rows instead, below
    ce_ok = req.preset in classification.BY_NAME or req.csv is not None
    if req.train.loss == "cross_entropy" and not ce_ok:
        raise SpecError(
            "train.loss: cross_entropy needs class labels: use a classification preset, or a "
            "CSV whose target column holds class indices"
        )
    if req.preset in classification.BY_NAME:
        c = classification.BY_NAME[req.preset]
        variables, width = ["x_1", "x_2"], list(req.width or c.width)
        spec["train"]["loss"] = "cross_entropy"  # pykan's classification setup
        spec.update(kind="preset", preset=c.name, task="classification", target="class")
        spec["ranges"] = [list(r) for r in c.ranges]
    elif req.preset is not None:
        by_name = {p.name: p for p in kan_core.PRESETS}
        if req.preset not in by_name:
            raise SpecError(f"unknown preset {req.preset!r}; choose from {sorted(by_name)}")
        p = by_name[req.preset]
        width = list(req.width or p.width)
        variables = _parse(p.formula).variables
        spec.update(
            kind="preset",
            preset=p.name,
            formula=p.formula,
            ranges=_ranges_list(p.ranges, len(variables)),
        )
    elif req.formula is not None:
        variables = _parse(req.formula).variables
        width = list(req.width or [len(variables), 5, 1])
        spec.update(
            kind="formula", formula=req.formula, ranges=_ranges_list(req.ranges, len(variables))
        )
    else:
        header, table = parse_csv(req.csv, settings)
        samples = table.shape[0]
        target, width = csv_targets(req, header, table)
        variables = [h for h in header if h not in targets({"target": target})]
        width = width or [len(variables), 5, 1]
        spec.update(kind="csv", target=target, test_fraction=req.test_fraction)
        if req.train.loss == "cross_entropy":
            spec.update(task="classification")
    spec.update(variables=variables, width=width, train_num=req.train_num, test_num=req.test_num)
    check_limits(spec, settings, samples)
    return spec


def _parse(formula: str):
    try:
        return kan_core.parse_formula(formula)
    except ValueError as exc:  # FormulaError is a ValueError
        raise SpecError(f"formula: {exc}") from None
    except Exception as exc:  # anything else the parser trips on is still the input's fault
        raise SpecError(f"formula: cannot parse ({type(exc).__name__})") from None


def check_limits(spec: dict[str, Any], settings: Settings, samples: int) -> None:
    width, n_var = spec["width"], len(spec["variables"])
    arity = spec.get("mult_arity", 2)
    if width[0] not in (n_var, [n_var, 0]):
        raise SpecError(f"width: first layer must be {n_var} (one per variable), got {width[0]}")
    n_out = n_outputs(width)
    if spec.get("task") == "classification":
        if spec.get("kind") != "csv" and n_out != 2:  # the presets have two classes
            raise SpecError(f"width: last layer must be 2 (one logit per class), got {width[-1]}")
        if n_out < 2:
            raise SpecError(f"width: last layer must be ≥ 2 (one logit per class), got {width[-1]}")
    elif n_out != len(targets(spec)):
        n = len(targets(spec))
        raise SpecError(
            f"width: last layer must be {n} (one per target), got {width[-1]}"
            if n > 1
            else f"width: last layer must be 1 (one target), got {width[-1]}"
        )
    if len(width) - 1 > settings.max_depth:
        raise SpecError(f"width: at most {settings.max_depth} layers")
    if any(isinstance(w, list) and sum(w) == 0 for w in width):
        raise SpecError(f"width: every layer needs a node, got {width}")
    edges = count_edges(width, arity)
    if edges > settings.max_edges:
        raise SpecError(f"width: {edges} edges is over the limit of {settings.max_edges}")
    if spec["grid"] > settings.max_grid:
        raise SpecError(f"grid: at most {settings.max_grid}")
    if spec["k"] > settings.max_k:
        raise SpecError(f"k: at most {settings.max_k}")
    if spec["train_num"] + spec["test_num"] > settings.max_train_num:
        raise SpecError(f"train_num + test_num: at most {settings.max_train_num}")
    message = over_budget(width, spec["grid"], spec["k"], samples, settings.max_model_cost, arity)
    if message:
        raise SpecError(message)


def build_dataset(
    spec: dict[str, Any], csv_text: str | None, settings: Settings
) -> dict[str, torch.Tensor]:
    """The session's dataset, reproducible from spec (+ stored CSV) alone."""
    if spec["kind"] == "csv":
        dataset = csv_dataset(spec, csv_text, settings)
    elif spec.get("task") == "classification":
        try:
            dataset = classification.classification_dataset(
                spec["preset"], spec["train_num"], spec["test_num"], spec["seed"]
            )
        except ValueError as exc:
            raise SpecError(f"dataset: {exc}") from None
    else:
        dataset = kan_core.dataset_from_formula(
            spec["formula"],
            ranges=spec["ranges"],
            train_num=spec["train_num"],
            test_num=spec["test_num"],
            seed=spec["seed"],
        )
    try:
        kan_core.validate_dataset(dataset, class_labels=spec.get("task") == "classification")
    except ValueError as exc:
        raise SpecError(f"dataset: {exc}") from None
    return dataset


def build_model(spec: dict[str, Any], dataset: dict[str, torch.Tensor]) -> kan_core.KAN:
    """A fresh model for the spec; its grid spans the training inputs."""
    model = kan_core.KAN(
        width=list(spec["width"]),
        grid=spec["grid"],
        k=spec["k"],
        seed=spec["seed"],
        mult_arity=spec.get("mult_arity", 2),
        auto_save=False,  # (sessions keep their own edit history; no in-memory versions)
    )
    model.set_reference_input(dataset["train_input"])
    return model
