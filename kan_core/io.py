"""Saving and loading a model: tensors plus a JSON header, never pickled code.

The file is a ``torch.save`` zip archive of ``{"meta": json_string, "tensors": {name: tensor}}``
loaded back with ``weights_only=True``, so loading a file can only ever produce tensors and
strings. ``meta`` holds ``format``, ``config`` (``KANConfig.to_dict``), ``width``, ``grids`` (grid
intervals per layer) and ``symbolic`` (per layer, ``[i, j, name, r2 or null]`` per snapped edge);
``tensors`` is the model's ``state_dict`` plus, optionally, ``reference_input``. Optional in
``meta``: ``pruned_nodes`` (``[l, i, [[layer, in, out], …]]`` per node ``prune_node`` masked).

Loading trusts nothing in the file: every problem is a ``ValueError("model file: …")`` naming
it, raised before the model is built (the stated ``width`` must match the tensors' shapes, so
what is allocated is bounded by the file's own size). A file is refused when

* it is not an uncompressed zip archive (``torch.save`` writes no other kind; a compressed
  entry could inflate to any size) or a tensor claims more elements than its storage holds;
* a key, tensor or symbolic entry is missing, unexpected, of the wrong type or out of range,
  or names a function outside ``SYMBOLIC_LIB``; a tensor's shape disagrees with the config;
* a tensor holds NaN or infinity (the trainer rolls such steps back, so no healthy model has
  them), a grid row decreases anywhere (repeated knots are allowed: ``update_grid`` makes them
  from float32 data that is narrow for its magnitude), or a mask holds anything but 0 and 1;
* the symbolic entries and ``sym_mask`` disagree about which edges are symbolic.

An R² stored as NaN means "unknown", as a missing one does. The model keeps the file's dtype
(float32 or float64, whatever torch's default dtype), so a float64 model loads bit-exact.
"""

from __future__ import annotations

import dataclasses
import io as _io
import json
import math
import os
import re
import zipfile

import torch

from .config import is_int, is_number
from .layer import BASE_FUNS
from .model import KAN, KANConfig
from .symbolic_lib import SYMBOLIC_LIB

__all__ = ["from_bytes", "load", "load_checkpoint", "save", "to_bytes"]

FORMAT = "kan-workbench/1"
LAYER_TENSORS = ("grid", "mask", "sym_mask", "coef", "scale_base", "scale_sp", "affine")
DTYPES = (torch.float32, torch.float64)
_LAYER_TENSOR_NAME = re.compile(r"layers\.(0|[1-9][0-9]*)\.([a-z_]+)")


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
        # what prune_node masked, for restore_node (optional: older files have none)
        "pruned_nodes": [[l, i, edges] for (l, i), edges in sorted(model.pruned_nodes.items())],
    }
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if model.reference_input is not None:
        tensors["reference_input"] = model.reference_input.clone()
    return {"meta": json.dumps(meta), "tensors": tensors}


# --- checks -----------------------------------------------------------------------------------
class _Bad(ValueError):
    """A problem with the file; ``from_bytes`` reports it as ``model file: …``."""


def _short(v) -> str:
    """``repr`` cut to a readable length: a tampered value may be enormous."""
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _read_archive(data: bytes) -> dict:
    """The unpickled payload, tensors only; a zip entry that could inflate is refused first."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _Bad(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        entries = zipfile.ZipFile(_io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _Bad(f"not a KAN Workbench model file (not a zip archive: {exc})") from None
    packed = [e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise _Bad(f"compressed archive entry {_short(packed[0])} (torch.save writes none)")
    try:
        payload = torch.load(_io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any malformed archive or pickle → one clear error
        raise _Bad(f"cannot read it: {exc}") from None
    if not isinstance(payload, dict) or not {"meta", "tensors"} <= payload.keys():
        raise _Bad("not a KAN Workbench model file (no meta and tensors)")
    if not isinstance(payload["meta"], str) or not isinstance(payload["tensors"], dict):
        raise _Bad("meta must be a JSON string and tensors a dict")
    return payload


def _read_meta(text: str) -> dict:
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _Bad(f"meta must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise _Bad(f"unsupported format {_short(meta.get('format'))} (expected {FORMAT!r})")
    for key in ("config", "width", "symbolic"):
        if key not in meta:
            raise _Bad(f"meta has no {key!r}")
    if not (isinstance(meta["width"], list) and len(meta["width"]) >= 2):
        raise _Bad(f"width must be a list of ≥ 2 layer sizes, got {_short(meta['width'])}")
    return meta


def _read_config(meta: dict) -> KANConfig:
    """The file's config with ``meta["width"]`` (the model's actual width) in place of the
    config's own; missing fields take their defaults (files older than the field)."""
    d = meta["config"]
    if not isinstance(d, dict):
        raise _Bad(f"config must be a JSON object, got {type(d).__name__}")
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(KANConfig)})
    if unknown:
        raise _Bad(f"config has unknown field(s) {_short(unknown)}")
    r = d.get("grid_range", (-1.0, 1.0))
    cfg = KANConfig(
        **{**d, "width": meta["width"], "grid_range": tuple(r) if isinstance(r, list) else r}
    )
    try:
        cfg.validate()
    except ValueError as exc:
        raise _Bad(f"config: {exc}") from None
    # what validate leaves to the constructor, which would fail only after allocating
    if not -(2**63) <= cfg.seed < 2**64:
        raise _Bad(f"config: seed {_short(cfg.seed)} does not fit in 64 bits")
    if not (isinstance(cfg.base_fun, str) and cfg.base_fun in BASE_FUNS):
        raise _Bad(f"config: unknown base_fun {_short(cfg.base_fun)}")
    return cfg


def _check_tensor(name: str, t) -> None:
    if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
        raise _Bad(f"{name} is not a dense tensor")
    if t.dtype not in DTYPES:
        raise _Bad(f"{name} has dtype {t.dtype}; expected float32 or float64")
    # a stride-0 (expanded) tensor from a few bytes of storage can claim any number of elements
    if t.numel() * t.element_size() > t.untyped_storage().nbytes():
        raise _Bad(f"{name} claims more elements ({t.numel()}) than its storage holds")
    if not bool(torch.isfinite(t).all()):
        raise _Bad(f"{name} holds NaN or infinity")


def _check_tensor_names(tensors: dict, depth: int) -> None:
    """Exactly the layer tensors of ``depth`` layers (checked name by name: a tampered width
    may claim millions of layers)."""
    for name in tensors:
        m = _LAYER_TENSOR_NAME.fullmatch(name) if isinstance(name, str) else None
        if not (m and int(m[1]) < depth and m[2] in LAYER_TENSORS):
            raise _Bad(f"unexpected tensor {_short(name)} for a model of {depth} layer(s)")
    if len(tensors) < depth * len(LAYER_TENSORS):
        expected = (f"layers.{l}.{n}" for l in range(depth) for n in LAYER_TENSORS)
        raise _Bad(f"missing tensor {next(e for e in expected if e not in tensors)!r}")


def _layer_grids(cfg: KANConfig, tensors: dict) -> list[int]:
    """Each layer's grid intervals, after checking every layer tensor's shape and values."""
    nums = []
    nodes, subs = _dims(cfg)
    for l, (n_in, n_out) in enumerate(zip(nodes[:-1], subs[1:], strict=True)):
        p = f"layers.{l}."
        for n in LAYER_TENSORS:
            _check_tensor(p + n, tensors[p + n])
        grid = tensors[p + "grid"]
        n_knots = grid.shape[1] if grid.dim() == 2 else 0
        num = n_knots - 1 - 2 * cfg.k
        if grid.dim() != 2 or grid.shape[0] != n_in or num < 1:
            raise _Bad(
                f"{p}grid has shape {tuple(grid.shape)}; width {_short(cfg.width)} and k={cfg.k} "
                f"need ({n_in}, n) with n ≥ {2 * cfg.k + 2}"
            )
        # non-decreasing, not strictly: float32 quantiles of data narrow for its magnitude can
        # repeat a knot (the bases treat 0/0 as 0), and such files must keep loading
        if not bool((grid[:, 1:] >= grid[:, :-1]).all()):
            raise _Bad(f"{p}grid is not increasing along every row")
        shapes = {
            "mask": (n_in, n_out),
            "sym_mask": (n_in, n_out),
            "coef": (n_in, n_out, num + cfg.k),
            "scale_base": (n_in, n_out),
            "scale_sp": (n_in, n_out),
            "affine": (n_in, n_out, 4),
        }
        for n, shape in shapes.items():
            if tuple(tensors[p + n].shape) != shape:
                got = tuple(tensors[p + n].shape)
                raise _Bad(
                    f"{p}{n} has shape {got}, but width {_short(cfg.width)} with grid {num} and "
                    f"k={cfg.k} needs {shape}"
                )
        for n in ("mask", "sym_mask"):
            if not bool(((tensors[p + n] == 0) | (tensors[p + n] == 1)).all()):
                raise _Bad(f"{p}{n} holds values other than 0 and 1")
        nums.append(num)
    return nums


def _read_edge(entry, l: int, n_in: int, n_out: int) -> tuple[int, int, str, float | None]:
    where = f"symbolic entry {_short(entry)} of layer {l}"
    if not (isinstance(entry, list) and len(entry) in (3, 4)):
        raise _Bad(f"{where}: expected [i, j, name] or [i, j, name, r2]")
    i, j, name = entry[:3]
    if not (is_int(i, 0) and i < n_in and is_int(j, 0) and j < n_out):
        raise _Bad(f"{where}: edge ({_short(i)}, {_short(j)}) is not in a {n_in}×{n_out} layer")
    if not (isinstance(name, str) and name in SYMBOLIC_LIB):
        raise _Bad(f"{where}: unknown symbolic function {_short(name)}")
    r2 = entry[3] if len(entry) == 4 else None
    if r2 is not None and not (is_number(r2) and not math.isinf(r2)):
        raise _Bad(f"{where}: r2 must be a finite number or null")
    return i, j, name, None if r2 is None or math.isnan(r2) else float(r2)


def _read_symbolic(meta: dict, cfg: KANConfig, tensors: dict) -> list[tuple[dict, dict]]:
    """Per layer ``(sym_funs, sym_r2)``, checked against the layer's ``sym_mask``."""
    layers, depth = meta["symbolic"], len(cfg.width) - 1
    if not (isinstance(layers, list) and len(layers) == depth):
        raise _Bad(f"symbolic must be a list of {depth} list(s), one per layer")
    out = []
    for l, entries in enumerate(layers):
        if not isinstance(entries, list):
            raise _Bad(f"symbolic entries of layer {l} must be a list")
        funs, r2s = {}, {}
        for entry in entries:
            i, j, name, r2 = _read_edge(entry, l, *_dims(cfg, l))
            if (i, j) in funs:
                raise _Bad(f"edge ({l},{i},{j}) is listed as symbolic twice")
            funs[(i, j)] = name
            if r2 is not None:
                r2s[(i, j)] = r2
        marked = {tuple(ij) for ij in tensors[f"layers.{l}.sym_mask"].nonzero().tolist()}
        if differ := sorted(marked ^ set(funs)):
            i, j = differ[0]
            listed = "is" if (i, j) in funs else "is not"
            raise _Bad(f"edge ({l},{i},{j}) {listed} listed as symbolic, unlike its sym_mask")
        out.append((funs, r2s))
    return out


def _dims(cfg: KANConfig, l: int | None = None):
    """``(nodes per layer, subnodes per layer)``; with ``l``, layer ``l``'s edge shape."""
    nodes, subs = [n.n_nodes for n in cfg.layouts], [n.n_sub for n in cfg.layouts]
    return (nodes, subs) if l is None else (nodes[l], subs[l + 1])


def _read_pruned_nodes(meta: dict, cfg: KANConfig) -> dict:
    """``prune_node``'s record: node ``(l, i)`` → the edges it masked, each touching the node."""
    width, subs = _dims(cfg)
    layouts = cfg.layouts
    entries = meta.get("pruned_nodes", [])
    if not isinstance(entries, list):
        raise _Bad("pruned_nodes must be a list")
    out: dict = {}
    for entry in entries:
        where = f"pruned_nodes entry {_short(entry)}"
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], list)):
            raise _Bad(f"{where}: expected [l, i, [[layer, in, out], ...]]")
        l, i, edges = entry
        if not (is_int(l, 0) and is_int(i, 0) and l < len(width) - 1 and i < width[l]):
            raise _Bad(f"{where}: no prunable node ({_short(l)}, {_short(i)})")
        if (l, i) in out:
            raise _Bad(f"{where}: node ({l}, {i}) listed twice")
        for e in edges:
            ok = isinstance(e, list) and len(e) == 3 and all(is_int(v, None) for v in e)
            a, b, c = e if ok else (-1, -1, -1)
            in_model = ok and 0 <= a < len(width) - 1 and 0 <= b < width[a] and 0 <= c < subs[a + 1]
            end = (a + 1, layouts[a + 1].sub_to_node()[c]) if in_model else None
            if not (in_model and (l, i) in ((a, b), end)):
                raise _Bad(f"{where}: {_short(e)} is not an edge of node ({l}, {i})")
        out[(l, i)] = [tuple(e) for e in edges]
    return out


# --- loading ----------------------------------------------------------------------------------
def _restore(payload: dict) -> KAN:
    meta = _read_meta(payload["meta"])
    tensors = dict(payload["tensors"])
    ref = tensors.pop("reference_input", None)
    # first, as it costs nothing: the file's tensors bound the depth a width may claim
    _check_tensor_names(tensors, len(meta["width"]) - 1)
    cfg = _read_config(meta)
    nums = _layer_grids(cfg, tensors)
    if "grids" in meta and meta["grids"] != nums:
        raise _Bad(f"grids {_short(meta['grids'])} disagree with the grid tensors' {nums}")
    dtypes = {t.dtype for t in tensors.values()}
    if len(dtypes) > 1:
        raise _Bad(f"the model's tensors mix dtypes {sorted(map(str, dtypes))}")
    if ref is not None:
        _check_tensor("reference_input", ref)
    symbolic = _read_symbolic(meta, cfg, tensors)
    pruned_nodes = _read_pruned_nodes(meta, cfg)
    model = _build(cfg, nums, dtypes.pop(), tensors, symbolic, ref)
    model.pruned_nodes = pruned_nodes
    return model


def _build(cfg, nums, dtype, tensors, symbolic, ref) -> KAN:
    """The model, from checked parts. It is built with the smallest of the file's grids, so the
    throwaway random initialisation is no bigger than the file's own tensors."""
    small = dataclasses.replace(cfg, width=list(cfg.width), grid=min(*nums, cfg.grid))
    model = KAN(config=small, auto_save=False)  # (a file holds one version, no history)
    model.config = cfg
    model.to(dtype)  # keep the file's dtype, whatever torch's default
    for layer, num, (funs, r2s) in zip(model.layers, nums, symbolic, strict=True):
        if num != layer.num:  # layers' grids may differ from the config's and each other's
            layer.grid = torch.empty(layer.in_dim, num + 1 + 2 * layer.k, dtype=dtype)
            layer.num = num
            layer.set_coef(torch.empty(layer.in_dim, layer.out_dim, num + layer.k, dtype=dtype))
        layer.sym_funs, layer.sym_r2 = funs, r2s
        layer.invalidate()
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:  # (the checks above should leave nothing for this to find)
        raise _Bad(f"tensors do not fit the model: {exc}") from None
    if ref is not None:
        try:
            model.set_reference_input(ref)
        except ValueError as exc:
            raise _Bad(f"reference_input: {exc}") from None
    return model


def to_bytes(model: KAN) -> bytes:
    buf = _io.BytesIO()
    torch.save(_payload(model), buf)
    return buf.getvalue()


def from_bytes(data: bytes) -> KAN:
    """The model saved by ``to_bytes``; ``ValueError("model file: …")`` for anything else."""
    try:
        return _restore(_read_archive(data))
    except _Bad as exc:
        raise ValueError(f"model file: {exc}") from None


def save(model: KAN, path) -> None:
    with open(path, "wb") as fh:
        fh.write(to_bytes(model))


def load(path) -> KAN:
    with open(path, "rb") as fh:
        return from_bytes(fh.read())


def load_checkpoint(path) -> KAN:
    """``KAN.loadckpt``: the kan_core file at ``path``, else pykan's checkpoint files
    ``{path}_config.yml``, ``{path}_state`` and, if present, ``{path}_cache_data`` (converted by
    ``pykan_ckpt``; the cached input becomes the reference input and ``cache_data``)."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return load(path)
    config, state, cache = (f"{path}{s}" for s in ("_config.yml", "_state", "_cache_data"))
    if not (os.path.isfile(config) and os.path.isfile(state)):
        raise FileNotFoundError(
            f"no model file {path!r} and no pykan checkpoint {config!r} + {state!r}"
        )
    from .pykan_ckpt import from_pykan_checkpoint

    with open(config, "rb") as fh:
        config_text = fh.read()
    with open(state, "rb") as fh:
        state_bytes = fh.read()
    cache_bytes = None
    if os.path.isfile(cache):
        with open(cache, "rb") as fh:
            cache_bytes = fh.read()
    model, cached = from_pykan_checkpoint(config_text, state_bytes, cache_bytes)
    if cached is not None:
        model._remember_input(cached)
    return model
