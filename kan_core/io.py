"""Saving and loading a model: tensors plus a JSON header, never pickled code.

The file is a ``torch.save`` of ``{"meta": json_string, "tensors": {name: tensor}}`` loaded back
with ``weights_only=True``, so loading a file can only ever produce tensors and strings.
"""

from __future__ import annotations

import io as _io
import json

import torch

from .model import KAN, KANConfig

__all__ = ["from_bytes", "load", "save", "to_bytes"]

FORMAT = "kan-workbench/1"


def _payload(model: KAN) -> dict:
    meta = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "width": model.width,
        "grids": [layer.num for layer in model.layers],
        "symbolic": [
            [
                [i, j, name, layer.sym_r2.get((i, j))]
                for (i, j), name in sorted(layer.sym_funs.items())
            ]
            for layer in model.layers
        ],
    }
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if model.reference_input is not None:
        tensors["reference_input"] = model.reference_input.clone()
    return {"meta": json.dumps(meta), "tensors": tensors}


def _restore(payload: dict) -> KAN:
    if not isinstance(payload, dict) or "meta" not in payload or "tensors" not in payload:
        raise ValueError("not a KAN Workbench model file")
    meta = json.loads(payload["meta"])
    if meta.get("format") != FORMAT:
        raise ValueError(f"unsupported model format {meta.get('format')!r}")
    cfg = KANConfig.from_dict(meta["config"])
    cfg.width = list(meta["width"])
    model = KAN(config=cfg)
    tensors = dict(payload["tensors"])
    ref = tensors.pop("reference_input", None)
    for l, layer in enumerate(model.layers):  # grids may differ in size from the config's
        n_knots = tensors[f"layers.{l}.grid"].shape[1]
        layer.grid = torch.empty(layer.in_dim, n_knots)
        layer.num = n_knots - 1 - 2 * layer.k
        layer.set_coef(torch.empty(layer.in_dim, layer.out_dim, layer.num + layer.k))
        entries = meta["symbolic"][l]
        layer.sym_funs = {(int(e[0]), int(e[1])): str(e[2]) for e in entries}
        layer.sym_r2 = {
            (int(e[0]), int(e[1])): float(e[3]) for e in entries if len(e) > 3 and e[3] is not None
        }
        layer.invalidate()
    model.load_state_dict(tensors)
    if ref is not None:
        model.set_reference_input(ref)
    return model


def to_bytes(model: KAN) -> bytes:
    buf = _io.BytesIO()
    torch.save(_payload(model), buf)
    return buf.getvalue()


def from_bytes(data: bytes) -> KAN:
    try:
        payload = torch.load(_io.BytesIO(data), weights_only=True)
    except Exception as exc:  # any malformed file → one clear error
        raise ValueError(f"cannot read model: {exc}") from None
    return _restore(payload)


def save(model: KAN, path) -> None:
    with open(path, "wb") as fh:
        fh.write(to_bytes(model))


def load(path) -> KAN:
    with open(path, "rb") as fh:
        return from_bytes(fh.read())
