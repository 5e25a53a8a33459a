"""Open a model in the workbench: a session from an uploaded kan_core model file or a pykan
checkpoint, with or without a dataset.

The parts of a multipart ``POST /api/sessions``: ``model`` (a kan_core file, ``KAN.save``), or
``pykan_config`` + ``pykan_state`` (+ optional ``pykan_cache_data``: pykan's ``saveckpt``
files), an optional CSV ``data`` (the model's inputs, then its outputs), and an optional text
field ``loss`` (``mse``, the default, or ``cross_entropy`` for a classifier).

A model may have several outputs (UPLOAD_HELP says how each kind of upload reads them):

* a regression (``loss`` mse): the CSV's last ``n_out`` columns are the targets, named as the
  CSV names them (without a CSV: ``y_1 … y_n``, or ``y`` for one output);
* a classifier (``loss=cross_entropy``, ``n_out ≥ 2`` logits, pykan's classification setup):
  the CSV has one last column of class indices ``0 … n_out − 1``; without a CSV the labels are
  the model's own predicted classes. A CSV of ``n_in + 1`` columns for a model of ``n_out ≥ 2``
  outputs can only be class labels, so it makes a classifier without the field.

An uploaded session is stored as a CSV session (``spec["kind"] == "csv"``), so a restart
rebuilds it as any other: the CSV is the uploaded one, or — without one — a table the server
writes once: the reference inputs (the checkpoint's cached data, the file's reference input, or
1000 seeded samples on the first layer's grid span) and the uploaded model's own outputs as the
target. Such a session has no data to learn from (``spec["labels"] == "model"``): edges,
curves, scores, formulas, pruning and snapping work; training answers 409 "upload a dataset".
"""

from __future__ import annotations

import logging
from typing import Any

import torch

import kan_core
from kan_core.pykan_ckpt import from_pykan_checkpoint

from .budget import model_cost
from .config import Settings
from .data import SpecError, build_dataset, check_class_labels, check_limits, parse_csv
from .manager import stored
from .schemas import TrainSettings
from .sessions import CommandError, Session

__all__ = ["PARTS", "create_session", "read_model", "reference_inputs", "table_csv", "upload_spec"]

log = logging.getLogger("kan_workbench.bridge")
PARTS = ("model", "pykan_config", "pykan_state", "pykan_cache_data", "data", "loss")
LOSSES = ("mse", "cross_entropy")
UPLOAD_HELP = (
    "open a model: 'model' (a kan_core file) or 'pykan_config' + 'pykan_state' "
    "(+ 'pykan_cache_data'), an optional CSV 'data' and an optional text field 'loss'. "
    "A model may have several outputs. Regression ('loss' mse, the default): the CSV holds the "
    "model's inputs, then one column per output (its last n_out columns are the targets); "
    "without a CSV the targets are the model's own outputs y_1 … y_n. Classifier "
    "('loss=cross_entropy', n_out ≥ 2 logits, as pykan's classification): the CSV's last column "
    "holds class indices 0 … n_out − 1 (a CSV of n_in + 1 columns for a model of n_out ≥ 2 "
    "outputs is read so without the field); without a CSV the labels are the model's own "
    "predicted classes. Without a CSV the session cannot train (409)."
)
GRID_SAMPLES = 1000  # inputs drawn on the grid span when no data came with the model
NO_DATA = (
    "this session has no dataset (its target is the uploaded model's own output): "
    "upload a dataset (a CSV part 'data' with the model's inputs, then its outputs) to train"
)


def read_model(parts: dict[str, bytes]) -> tuple[kan_core.KAN, torch.Tensor | None, str]:
    """``(model, reference inputs or None, source)`` from the upload's parts; ``SpecError``
    (422) naming the part and the problem."""
    has_pykan = "pykan_config" in parts or "pykan_state" in parts
    if "model" in parts and has_pykan:
        raise SpecError("give either a 'model' file or a pykan checkpoint, not both")
    try:
        if "model" in parts:
            model = kan_core.KAN.from_bytes(parts["model"])
            ref, source = model.reference_input, "kan_core"
        elif has_pykan:
            missing = [p for p in ("pykan_config", "pykan_state") if p not in parts]
            if missing:
                raise SpecError(f"a pykan checkpoint needs a {missing[0]!r} part too")
            model, ref = from_pykan_checkpoint(
                parts["pykan_config"], parts["pykan_state"], parts.get("pykan_cache_data")
            )
            source = "pykan"
        else:
            raise SpecError(
                "give a 'model' file part (a kan_core model), or 'pykan_config' and "
                "'pykan_state' (pykan's saveckpt files)"
            )
    except SpecError:
        raise
    except (ValueError, TypeError, RuntimeError) as exc:  # every reader names its part
        raise SpecError(str(exc)) from None
    # sessions compute in float32 (their data is float32); a float64 file converts exactly
    # enough for every view (pykan's own default is float32)
    model.to(torch.float32)
    return model, ref, source


def _grid_samples(model: kan_core.KAN, n: int, seed: int) -> torch.Tensor:
    """``n`` seeded uniform samples on each input's grid span (the first layer's inner knots)."""
    layer = model.layers[0]
    lo, hi = layer.grid[:, layer.k], layer.grid[:, -layer.k - 1]
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, layer.in_dim, generator=gen, dtype=torch.float32)
    return lo.float() + u * (hi - lo).float()


def _fmt(v: float) -> str:
    return repr(float(v))  # float32 → shortest float64 repr: parses back to the same float32


def reference_inputs(
    model: kan_core.KAN, ref: torch.Tensor | None, settings: Settings, per_sample: int
) -> tuple[torch.Tensor, str]:
    """``(inputs, origin)`` when no data came: the file's reference inputs (a seeded subset
    within the row limit, the CSV size limit at ≤ 25 characters a number, and the cost budget
    at ``per_sample`` units a sample), else seeded samples on the grid span."""
    columns = model.width_in[0] + model.width_out[-1]
    max_rows = min(
        settings.max_csv_rows,
        settings.max_upload_bytes // (25 * columns),
        settings.max_model_cost // max(per_sample, 1),
    )
    max_rows = max(max_rows, 2)  # fewer cannot be a dataset: the budget check then says why
    if ref is None:
        return _grid_samples(model, min(GRID_SAMPLES, max_rows), seed=0), "grid"
    x = ref.float()
    if x.shape[0] > max_rows:
        keep = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
        x = x[keep[:max_rows]]
    return x, "checkpoint"


def output_names(n_out: int, classifier: bool) -> str | list[str]:
    """The target column(s) of a table written from the model: ``y``; ``y_1 … y_n``; ``class``."""
    if classifier:
        return "class"
    return "y" if n_out == 1 else [f"y_{k + 1}" for k in range(n_out)]


def table_csv(model: kan_core.KAN, x: torch.Tensor, classifier: bool = False) -> str:
    """CSV text ``x_1 … x_n`` then the model's outputs on them: one column per output, or a
    classifier's predicted class (the index of the largest logit)."""
    with torch.no_grad():
        y = model(x).float()
    if not bool(torch.isfinite(y).all()):
        raise SpecError("the model's outputs on its reference inputs hold NaN or infinity")
    target = output_names(y.shape[1], classifier)
    names = [f"x_{i + 1}" for i in range(x.shape[1])]
    names += target if isinstance(target, list) else [target]
    if classifier:
        y = y.argmax(dim=1, keepdim=True).float()
    rows = [",".join(names)]
    pairs = zip(x.tolist(), y.tolist(), strict=True)
    rows += [",".join(_fmt(v) for v in (*xr, *yr)) for xr, yr in pairs]
    return "\n".join(rows) + "\n"


def check_csv(
    model: kan_core.KAN, data: str, settings: Settings, loss: str
) -> tuple[list[str], str | list[str], int, bool]:
    """``(input names, target name(s), rows, classifier)`` of an uploaded CSV that fits the
    model's width: inputs then one column per output, or (a classifier) one class column."""
    n_in, n_out = model.width_in[0], model.width_out[-1]
    header, table = parse_csv(data, settings)
    classifier = loss == "cross_entropy" or (n_out >= 2 and len(header) == n_in + 1)
    n_labels = 1 if classifier else n_out
    if len(header) != n_in + n_labels:
        what = "one column of class indices" if classifier else f"{n_out} output column(s)"
        if n_out >= 2 and not classifier:
            what += f" (a classifier's CSV: {n_in + 1} columns, the last of class indices)"
        raise SpecError(
            f"data: the model takes {n_in} input(s) and gives {n_out} output(s), so the CSV "
            f"needs {n_in + n_labels} columns: the inputs, then {what}; it has {len(header)}"
        )
    if classifier:
        check_class_labels(table[:, -1], n_out)
    target = header[-1] if n_labels == 1 else header[n_in:]
    return header[:n_in], target, table.shape[0], classifier


def upload_spec(
    model: kan_core.KAN,
    variables: list[str],
    target: str | list[str],
    origin: str,
    source: str,
    samples: int,
    settings: Settings,
    classifier: bool = False,
) -> dict[str, Any]:
    """The session's spec (a CSV session's keys, so a restart rebuilds it), within limits.
    ``target``: one column name, or one per output (a multi-output regression)."""
    flat = _largest_arity(model)
    n_test = max(1, round(samples * 0.2))
    train = TrainSettings().model_dump()
    spec: dict[str, Any] = {
        "kind": "csv",
        "target": target,
        "test_fraction": 0.2,
        "grid": max(layer.num for layer in model.layers),
        "k": model.config.k,
        "seed": 0,
        "mult_arity": flat,  # the largest arity: an upper bound for the cost budget
        "train": {**train, "loss": "cross_entropy"} if classifier else train,
        "variables": variables,
        # plain layers as plain numbers ([[2, 0], [3, 2], [1, 0]] → [2, [3, 2], 1]), as a
        # JSON create writes them
        "width": [w if isinstance(w, int) else w[0] if not w[1] else list(w) for w in model.width],
        "train_num": samples - n_test,
        "test_num": n_test,
        "upload": source,  # "kan_core" or "pykan"
        "data_origin": origin,  # "csv", "checkpoint" (cached inputs) or "grid"
        "labels": "csv" if origin == "csv" else "model",
    }
    if classifier:
        spec["task"] = "classification"  # labels are class indices; pykan's classification loss
    check_limits(spec, settings, samples)
    return spec


def _largest_arity(model: kan_core.KAN) -> int:
    arity = model.config.mult_arity
    return arity if isinstance(arity, int) else max([2, *(a for row in arity for a in row)])


def create_session(manager, parts: dict[str, bytes]) -> Session:
    """Validate, build, persist and start a session from an upload (blocking)."""
    settings: Settings = manager.settings
    if stored(manager.store.count_sessions) >= settings.max_sessions:
        raise CommandError(429, f"at most {settings.max_sessions} sessions; delete one first")
    try:
        model, spec, csv_text, dataset = _build(parts, settings)
    except SpecError:
        raise
    except Exception as exc:  # a model that loads but cannot run here is still the upload's fault
        log.warning("upload failed: %r", exc)
        raise SpecError(f"cannot open this model: {type(exc).__name__}: {exc}") from None
    return manager.start_new(spec, csv_text, dataset, model)


def _text(parts: dict[str, bytes], name: str) -> str | None:
    raw = parts.get(name)
    try:
        return None if raw is None else raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(f"{name}: not UTF-8 text") from None


def _loss(parts: dict[str, bytes]) -> str:
    loss = (_text(parts, "loss") or "mse").strip()
    if loss not in LOSSES:
        raise SpecError(f"loss: {loss[:50]!r} is not one of {', '.join(LOSSES)}")
    return loss


def _build(parts: dict[str, bytes], settings: Settings):
    """``(model, spec, csv text, dataset)`` of an upload, checked."""
    loss = _loss(parts)
    model, ref, source = read_model(parts)
    text = _text(parts, "data")
    if text is not None:
        variables, target, rows, classifier = check_csv(model, text, settings, loss)
        spec = upload_spec(model, variables, target, "csv", source, rows, settings, classifier)
        csv_text = text
    else:
        classifier = loss == "cross_entropy"
        if classifier:
            check_class_labels(torch.zeros(1), model.width_out[-1])
        width, arity = model.width, _largest_arity(model)
        per_sample = model_cost(
            width, max(layer.num for layer in model.layers), model.config.k, 1, arity
        )
        x, origin = reference_inputs(model, ref, settings, per_sample)
        names = [f"x_{i + 1}" for i in range(x.shape[1])]
        target = output_names(model.width_out[-1], classifier)
        # the limits first: the model runs on the inputs only once they are known to fit
        spec = upload_spec(model, names, target, origin, source, x.shape[0], settings, classifier)
        csv_text = table_csv(model, x, classifier)
    dataset = build_dataset(spec, csv_text, settings)
    model.set_reference_input(dataset["train_input"])
    return model, spec, csv_text, dataset
