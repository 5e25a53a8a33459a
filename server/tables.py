"""CSV tables: parsing within the limits, which columns are targets (one, several, or a
classifier's class indices), and a CSV session's seeded train/test split.

Pure and synchronous, as server/data.py (which re-exports ``SpecError`` and ``parse_csv``).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import torch

from .config import Settings
from .schemas import SessionCreate

__all__ = [
    "SpecError",
    "check_class_labels",
    "csv_dataset",
    "csv_targets",
    "n_outputs",
    "parse_csv",
    "targets",
]


class SpecError(ValueError):
    """An invalid create request (unknown preset, bad formula, over a limit...): HTTP 422."""


def parse_csv(text: str, settings: Settings) -> tuple[list[str], torch.Tensor]:
    """CSV text with a header → (column names, float32 ``(rows, cols)``), within the limits."""
    if len(text.encode()) > settings.max_upload_bytes:
        raise SpecError(f"csv: larger than {settings.max_upload_bytes} bytes")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB field limit
        raise SpecError(f"csv: cannot read it ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 3:
        raise SpecError("csv: need a header row and at least 2 data rows")
    header = [h.strip() for h in rows[0]]
    if not 2 <= len(header) <= settings.max_csv_cols:
        raise SpecError(f"csv: need 2 to {settings.max_csv_cols} columns, got {len(header)}")
    if len(set(header)) != len(header) or not all(header):
        raise SpecError("csv: column names must be unique and non-empty")
    if len(rows) - 1 > settings.max_csv_rows:
        raise SpecError(f"csv: at most {settings.max_csv_rows} data rows")
    values = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SpecError(f"csv: line {n} has {len(row)} fields, expected {len(header)}")
        try:
            vals = [float(c) for c in row]
        except ValueError:
            raise SpecError(f"csv: line {n} has a non-numeric value") from None
        if not all(math.isfinite(v) for v in vals):
            raise SpecError(f"csv: line {n} has NaN or infinity")
        values.append(vals)
    return header, torch.tensor(values, dtype=torch.float32)


def n_outputs(width: list) -> int:
    """Nodes of a width's last layer (an entry may be ``[sum, mult]``)."""
    last = width[-1]
    return last if isinstance(last, int) else sum(last)


def csv_targets(req: SessionCreate, header: list[str], table: torch.Tensor):
    """``(target, width or None)`` of a JSON CSV create. One target column (``target``, default
    the last); a ``width`` ending in ``n > 1`` outputs takes the CSV's last ``n`` columns as the
    targets; ``train.loss`` cross_entropy reads the target as class indices (its width ends in
    one logit per class, by default as many as the labels name)."""
    width = list(req.width) if req.width else None
    n_out = n_outputs(width) if width else 1
    if req.train.loss == "cross_entropy" or n_out == 1:
        target = req.target or header[-1]
        if target not in header:
            raise SpecError(f"target: no column {target!r} in the CSV header {header}")
        if req.train.loss == "cross_entropy":
            labels = table[:, header.index(target)]
            n_classes = n_out if width else max(2, int(labels.max().clamp(min=0)) + 1)
            check_class_labels(labels, n_classes)
            width = width or [len(header) - 1, 5, n_classes]
        return target, width
    if req.target is not None:
        raise SpecError(
            f"target: a width ending in {n_out} outputs takes the CSV's last {n_out} columns as "
            "its targets; leave 'target' out (or reorder the columns)"
        )
    if len(header) <= n_out:
        raise SpecError(f"csv: {n_out} target columns need at least one input column besides")
    return header[-n_out:], width


def check_class_labels(labels: torch.Tensor, n_out: int) -> None:
    """A classifier's labels are class indices ``0 … n_out − 1``; SpecError naming a bad row."""
    if n_out < 2:
        raise SpecError(
            "loss: cross_entropy needs a model with one output (logit) per class, at least 2; "
            f"this model has {n_out}"
        )
    bad = (labels != labels.round()) | (labels < 0) | (labels > n_out - 1)
    if bool(bad.any()):
        row = int(bad.nonzero()[0])
        raise SpecError(
            f"data: the class column must hold class indices 0 … {n_out - 1} (one per output "
            f"logit); data row {row + 1} has {float(labels[row])!r}"
        )


def targets(spec: dict[str, Any]) -> list[str]:
    """The target column(s) of a spec: ``spec["target"]`` is one name, or a list of names (a
    model with several outputs, one per target)."""
    target = spec.get("target", "y")
    return list(target) if isinstance(target, list) else [target]


def csv_dataset(spec: dict[str, Any], csv_text: str | None, settings: Settings) -> dict:
    """A CSV session's split (seeded): labels ``(n, targets)``, or a classifier's class indices
    ``(n,)`` (int64)."""
    header, table = parse_csv(csv_text or "", settings)
    missing = [t for t in targets(spec) if t not in header]
    if missing:
        raise SpecError(f"target: no column {missing[0]!r} in the CSV header {header}")
    outs = [header.index(t) for t in targets(spec)]
    inputs = [c for c in range(len(header)) if c not in outs]
    gen = torch.Generator().manual_seed(spec["seed"])
    perm = torch.randperm(table.shape[0], generator=gen)
    n_test = max(1, int(round(table.shape[0] * spec["test_fraction"])))
    n_test = min(n_test, table.shape[0] - 1)
    labels = table[:, outs]
    if spec.get("task") == "classification":
        labels = labels[:, 0].round().long()  # class indices (checked when the session is made)
    test, train = perm[:n_test], perm[n_test:]
    return {
        "train_input": table[train][:, inputs],
        "train_label": labels[train],
        "test_input": table[test][:, inputs],
        "test_label": labels[test],
    }
