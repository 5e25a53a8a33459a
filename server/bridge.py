"""Open a model in the workbench: a session from an uploaded kan_core model file or a pykan
checkpoint, with or without a dataset.

The parts of a multipart ``POST /api/sessions``: ``model`` (a kan_core file, ``KAN.save``), or
``pykan_config`` + ``pykan_state`` (+ optional ``pykan_cache_data``: pykan's ``saveckpt``
files), and an optional CSV ``data`` (the model's inputs, then its output).

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
from .data import SpecError, build_dataset, check_limits, parse_csv
from .manager import stored
from .schemas import TrainSettings
from .sessions import CommandError, Session

__all__ = ["PARTS", "create_session", "read_model", "reference_inputs", "table_csv", "upload_spec"]

log = logging.getLogger("kan_workbench.bridge")
PARTS = ("model", "pykan_config", "pykan_state", "pykan_cache_data", "data")
GRID_SAMPLES = 1000  # inputs drawn on the grid span when no data came with the model
NO_DATA = (
    "this session has no dataset (its target is the uploaded model's own output): "
    "upload a dataset (a CSV part 'data' with the model's inputs, then its output) to train"
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
    if model.width_out[-1] != 1:
        raise SpecError(
            f"the model has {model.width_out[-1]} outputs; the workbench opens one-output "
            "models only"
        )
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
    n_in = model.width_in[0]
    max_rows = min(
        settings.max_csv_rows,
        settings.max_upload_bytes // (25 * (n_in + 1)),
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


def table_csv(model: kan_core.KAN, x: torch.Tensor) -> str:
    """CSV text ``x_1 … x_n, y``: the inputs and the model's output on them."""
    with torch.no_grad():
        y = model(x).float()
    if not bool(torch.isfinite(y).all()):
        raise SpecError("the model's outputs on its reference inputs hold NaN or infinity")
    names = [f"x_{i + 1}" for i in range(x.shape[1])]
    rows = [",".join([*names, "y"])]
    pairs = zip(x.tolist(), y[:, 0].tolist(), strict=True)
    rows += [",".join(_fmt(v) for v in (*xr, yr)) for xr, yr in pairs]
    return "\n".join(rows) + "\n"


def check_csv(model: kan_core.KAN, data: str, settings: Settings) -> tuple[list[str], str, int]:
    """``(input names, target name, rows)`` of an uploaded CSV that fits the model's width."""
    n_in = model.width_in[0]
    header, table = parse_csv(data, settings)
    if len(header) != n_in + 1:
        raise SpecError(
            f"data: the model takes {n_in} input(s) and gives 1 output, so the CSV needs "
            f"{n_in + 1} columns (inputs, then the output); it has {len(header)}"
        )
    return header[:-1], header[-1], table.shape[0]


def upload_spec(
    model: kan_core.KAN,
    variables: list[str],
    target: str,
    origin: str,
    source: str,
    samples: int,
    settings: Settings,
) -> dict[str, Any]:
    """The session's spec (a CSV session's keys, so a restart rebuilds it), within limits."""
    flat = _largest_arity(model)
    n_test = max(1, round(samples * 0.2))
    spec: dict[str, Any] = {
        "kind": "csv",
        "target": target,
        "test_fraction": 0.2,
        "grid": max(layer.num for layer in model.layers),
        "k": model.config.k,
        "seed": 0,
        "mult_arity": flat,  # the largest arity: an upper bound for the cost budget
        "train": TrainSettings().model_dump(),
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


def _build(parts: dict[str, bytes], settings: Settings):
    """``(model, spec, csv text, dataset)`` of an upload, checked."""
    model, ref, source = read_model(parts)
    data = parts.get("data")
    try:
        text = None if data is None else data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError("data: the CSV is not UTF-8 text") from None
    if text is not None:
        variables, target, rows = check_csv(model, text, settings)
        spec = upload_spec(model, variables, target, "csv", source, rows, settings)
        csv_text = text
    else:
        width, arity = model.width, _largest_arity(model)
        per_sample = model_cost(
            width, max(layer.num for layer in model.layers), model.config.k, 1, arity
        )
        x, origin = reference_inputs(model, ref, settings, per_sample)
        names = [f"x_{i + 1}" for i in range(x.shape[1])]
        # the limits first: the model runs on the inputs only once they are known to fit
        spec = upload_spec(model, names, "y", origin, source, x.shape[0], settings)
        csv_text = table_csv(model, x)
    dataset = build_dataset(spec, csv_text, settings)
    model.set_reference_input(dataset["train_input"])
    return model, spec, csv_text, dataset
