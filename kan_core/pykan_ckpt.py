"""pykan 0.2.8 checkpoints → kan_core models: pure conversion, no file I/O.

pykan's ``model.saveckpt(PATH)`` writes three files: ``PATH_config.yml`` (a YAML dict: width,
grid, k, mult_arity, base_fun_name, grid_eps, grid_range, symbolic_enabled, … and per layer
``symbolic.funs_name.{l}``, the ``[out][in]`` function names), ``PATH_state`` (``torch.save`` of
the ``state_dict``: per layer ``act_fun.{l}.{grid, coef, mask, scale_base, scale_sp}`` in
``(in, out, ·)`` order and ``symbolic_fun.{l}.{mask, affine}`` in ``(out, in, ·)`` order) and
``PATH_cache_data`` (``torch.save`` of the last forward's input, or ``None``).
:func:`from_pykan_checkpoint` takes their contents (text/bytes, or already-loaded objects) and
returns the same function as a kan_core :class:`~kan_core.model.KAN`.

How an edge maps. pykan adds a numeric branch (``act_fun.mask``) and a symbolic branch
(``symbolic_fun.mask``); a kan_core edge is one or the other (``mask`` and ``sym_mask``):

* numeric 1, symbolic 0 → an active spline edge; 0, 1 → a symbolic edge with pykan's
  ``c·f(a·x+b)+d`` (the same four numbers, the same function names); 0, 0 → a pruned edge;
* 1, 1 (pykan's ``set_mode(..., 'ns')``) is only accepted when the symbolic branch adds nothing
  (function ``'0'`` with ``d = 0``); anything else cannot be represented and is refused by name.

pykan's node affine maps (``subnode_scale_{l}``, ``subnode_bias_{l}``, ``node_scale_{l}``,
``node_bias_{l}``; trainable only with ``affine_trainable=True``) have no kan_core counterpart:
scales are folded into the incoming edges (``scale_base``, ``scale_sp`` and the symbolic ``c``,
``d``; a mult node's scale into its first factor), biases must be 0 or the file is refused.
``input_id`` is not in pykan's ``state_dict`` (its ``loadckpt`` resets it too). pykan saves no
seed: the model's ``config.seed`` is 0.

Nothing is trusted: the state is read with ``torch.load(weights_only=True)`` after refusing
compressed zip entries; every key, shape, dtype and value is checked before anything is built,
and the model is finally built through :func:`kan_core.io.from_bytes` (its own full checks).
Every problem is a ``ValueError`` starting with the part's name (``pykan_config: …``,
``pykan_state: …``, ``pykan_cache_data: …``).
"""

from __future__ import annotations

import io as _io
import json
import zipfile
from typing import Any

import torch
import yaml

from . import io as kio
from .config import KANConfig
from .layer import BASE_FUNS
from .model import KAN
from .symbolic_lib import SYMBOLIC_LIB

__all__ = ["from_pykan_checkpoint", "read_config", "read_state", "read_cache_data"]

MAX_DEPTH = 64  # layers; far beyond any notebook's, checked before anything is sized by it
ACT = ("grid", "coef", "mask", "scale_base", "scale_sp")
SYM = ("mask", "affine")
NODE = ("node_bias", "node_scale", "subnode_bias", "subnode_scale")  # per layer: `{name}_{l}`


class _Bad(ValueError):
    pass


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


# --- the three parts ---------------------------------------------------------------------------
def read_config(config: str | bytes | dict) -> dict:
    """The YAML text (``yaml.safe_load`` only: no Python tags) as a checked dict."""
    if isinstance(config, bytes | bytearray):
        try:
            config = bytes(config).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("pykan_config: not UTF-8 text (expected PATH_config.yml)") from None
    if isinstance(config, str):
        try:
            config = yaml.safe_load(config)
        except (yaml.YAMLError, RecursionError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"pykan_config: not valid YAML ({why})") from None
    if not isinstance(config, dict):
        raise ValueError(
            f"pykan_config: expected a YAML mapping (pykan's saveckpt), got {type(config).__name__}"
        )
    missing = [k for k in ("width", "grid", "k") if k not in config]
    if missing:
        raise ValueError(f"pykan_config: no {missing[0]!r} (is this pykan's PATH_config.yml?)")
    return config


def _load_torch(data: bytes | bytearray | memoryview, part: str):
    """``torch.load`` of a ``torch.save`` zip archive, tensors and plain containers only."""
    data = bytes(data)
    try:
        entries = zipfile.ZipFile(_io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"{part}: not a torch.save file (not a zip archive: {exc})") from None
    packed = [e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise ValueError(f"{part}: compressed archive entry {_short(packed[0])}")
    try:
        return torch.load(_io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # malformed archive, or a pickle that names code
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ValueError(f"{part}: cannot read it safely ({why})") from None


def read_state(state: bytes | dict) -> dict[str, torch.Tensor]:
    """pykan's ``state_dict`` (the bytes of ``PATH_state``, or the dict itself)."""
    if isinstance(state, bytes | bytearray | memoryview):
        state = _load_torch(state, "pykan_state")
    if not isinstance(state, dict):
        raise ValueError(f"pykan_state: expected a state_dict, got {type(state).__name__}")
    for name, t in state.items():
        if not isinstance(name, str):
            raise ValueError(f"pykan_state: key {_short(name)} is not a string")
        _check_tensor(f"pykan_state: {name}", t)
    return dict(state)


def read_cache_data(cache: bytes | torch.Tensor | None, n_in: int) -> torch.Tensor | None:
    """pykan's cached input ``(batch, n_in)`` (the bytes of ``PATH_cache_data``), or None when
    the model never ran forward before it was saved."""
    if isinstance(cache, bytes | bytearray | memoryview):
        cache = _load_torch(cache, "pykan_cache_data")
    if cache is None:
        return None
    _check_tensor("pykan_cache_data", cache)
    if cache.dim() != 2 or cache.shape[1] != n_in or cache.shape[0] < 2:
        raise ValueError(
            f"pykan_cache_data: shape {tuple(cache.shape)}; the model needs (rows ≥ 2, {n_in})"
        )
    return cache.clone()


def _check_tensor(where: str, t) -> None:
    if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
        raise ValueError(f"{where} is not a dense tensor")
    if t.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{where} has dtype {t.dtype}; expected float32 or float64")
    if t.numel() * t.element_size() > t.untyped_storage().nbytes():
        raise ValueError(f"{where} claims more elements ({t.numel()}) than its storage holds")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{where} holds NaN or infinity")


# --- conversion --------------------------------------------------------------------------------
def _kan_config(cfg: dict) -> KANConfig:
    width = cfg["width"]
    if not (isinstance(width, list) and 2 <= len(width) <= MAX_DEPTH + 1):
        raise _Bad(f"width must be a list of 2 to {MAX_DEPTH + 1} layers, got {_short(width)}")
    grid_range = cfg.get("grid_range", [-1, 1])
    base = cfg.get("base_fun_name", "silu")
    if not (isinstance(base, str) and base in BASE_FUNS):
        raise _Bad(f"base_fun_name {_short(base)} is not one of {sorted(BASE_FUNS)}")
    kc = KANConfig(
        width=width,
        grid=cfg["grid"],
        k=cfg["k"],
        seed=0,
        grid_range=tuple(grid_range) if isinstance(grid_range, list) else grid_range,
        base_fun=base,
        grid_eps=cfg.get("grid_eps", 0.02),
        mult_arity=cfg.get("mult_arity", 2),
    )
    try:
        kc.validate()
    except (ValueError, TypeError) as exc:
        raise _Bad(str(exc)) from None
    return kc


def _funs_names(cfg: dict, l: int, n_in: int, n_out: int) -> list:
    key = f"symbolic.funs_name.{l}"
    names = cfg.get(key)
    if names is None:
        return [["0"] * n_in for _ in range(n_out)]
    ok = isinstance(names, list) and len(names) == n_out
    ok = ok and all(isinstance(row, list) and len(row) == n_in for row in names)
    if not ok:
        raise _Bad(f"{key} must be {n_out} lists of {n_in} function names")
    return names


def _output_scales(state: dict, l: int, layout) -> torch.Tensor:
    """Per subnode of node layer ``l + 1``, the scale pykan applies after summing its edges
    (``subnode_scale``, times ``node_scale`` for a sum node or a mult node's first factor);
    refuses non-zero biases."""
    n_nodes, n_sub = layout.n_nodes, layout.n_sub
    t = {n: state[f"{n}_{l}"] for n in NODE}
    for n, size in (("node", n_nodes), ("subnode", n_sub)):
        for kind in ("bias", "scale"):
            name = f"{n}_{kind}_{l}"
            if tuple(t[f"{n}_{kind}"].shape) != (size,):
                raise _Bad(f"{name} has shape {tuple(t[f'{n}_{kind}'].shape)}; expected ({size},)")
    for name in ("node_bias", "subnode_bias"):
        if bool((t[name] != 0).any()):
            raise _Bad(
                f"{name}_{l} is not zero (trained with affine_trainable=True): kan_core nodes "
                "have no bias"
            )
    scale = t["subnode_scale"].clone()
    first: dict[int, int] = {}
    for sub, node in enumerate(layout.sub_to_node()):
        first.setdefault(int(node), sub)
    for node, sub in first.items():
        scale[sub] *= t["node_scale"][node]
    return scale


def _layer(cfg: dict, state: dict, l: int, n_in: int, n_out: int, sym_on: bool):
    """kan_core's tensors of layer ``l`` and its symbolic entries, from pykan's."""
    act = {n: state[f"act_fun.{l}.{n}"] for n in ACT}
    sym = {n: state[f"symbolic_fun.{l}.{n}"] for n in SYM}
    num = act["grid"].shape[1] - 1 - 2 * cfg["k"] if act["grid"].dim() == 2 else 0
    shapes = {
        f"act_fun.{l}.grid": (act["grid"], (n_in, num + 1 + 2 * cfg["k"])),
        f"act_fun.{l}.coef": (act["coef"], (n_in, n_out, num + cfg["k"])),
        f"act_fun.{l}.mask": (act["mask"], (n_in, n_out)),
        f"act_fun.{l}.scale_base": (act["scale_base"], (n_in, n_out)),
        f"act_fun.{l}.scale_sp": (act["scale_sp"], (n_in, n_out)),
        f"symbolic_fun.{l}.mask": (sym["mask"], (n_out, n_in)),
        f"symbolic_fun.{l}.affine": (sym["affine"], (n_out, n_in, 4)),
    }
    if num < 1:
        raise _Bad(f"act_fun.{l}.grid has shape {tuple(act['grid'].shape)}: too few knots")
    for name, (t, shape) in shapes.items():
        if tuple(t.shape) != shape:
            raise _Bad(f"{name} has shape {tuple(t.shape)}; the config's width needs {shape}")
    n_mask = act["mask"]
    s_mask = sym["mask"].T if sym_on else torch.zeros_like(n_mask)
    for name, m in ((f"act_fun.{l}.mask", n_mask), (f"symbolic_fun.{l}.mask", s_mask)):
        if not bool(((m == 0) | (m == 1)).all()):
            raise _Bad(f"{name} holds values other than 0 and 1")
    affine = sym["affine"].permute(1, 0, 2).contiguous()  # (out, in, 4) → (in, out, 4)
    names = _funs_names(cfg, l, n_in, n_out)
    sym_mask = torch.zeros_like(n_mask)
    entries = []
    for i, j in (s_mask > 0).nonzero().tolist():
        name = names[j][i]
        if not (isinstance(name, str) and name in SYMBOLIC_LIB):
            raise _Bad(f"edge ({l},{i},{j}): unknown symbolic function {_short(name)}")
        if n_mask[i, j] > 0:  # both branches on: only a symbolic branch that adds nothing fits
            if name == "0" and float(affine[i, j, 3]) == 0.0:
                continue
            raise _Bad(
                f"edge ({l},{i},{j}) is both numeric and symbolic ({name!r}; pykan's set_mode "
                "'ns'): a kan_core edge is one or the other"
            )
        sym_mask[i, j] = 1.0
        entries.append([i, j, name, None])
    tensors = {
        "grid": act["grid"],
        "mask": torch.maximum(n_mask, sym_mask),
        "sym_mask": sym_mask,
        "coef": act["coef"],
        "scale_base": act["scale_base"],
        "scale_sp": act["scale_sp"],
        "affine": affine,
    }
    return num, {f"layers.{l}.{n}": t.clone() for n, t in tensors.items()}, entries


def _fold_scales(ts: dict, l: int, scale: torch.Tensor) -> None:
    """Multiply each edge's output by its subnode's ``scale`` (exact when every scale is 1)."""
    if bool((scale == 1).all()):
        return
    p = f"layers.{l}."
    ts[p + "scale_base"] *= scale
    ts[p + "scale_sp"] *= scale
    ts[p + "affine"][..., 2:] *= scale[:, None]


def _check_keys(state: dict, depth: int) -> None:
    expected = [f"act_fun.{l}.{n}" for l in range(depth) for n in ACT]
    expected += [f"symbolic_fun.{l}.{n}" for l in range(depth) for n in SYM]
    expected += [f"{n}_{l}" for l in range(depth) for n in NODE]
    unknown = sorted(set(state) - set(expected))
    if unknown:
        raise _Bad(f"unexpected tensor {_short(unknown[0])} for a {depth}-layer model")
    missing = [k for k in expected if k not in state]
    if missing:
        raise _Bad(f"missing tensor {missing[0]!r} (the config says {depth} layer(s))")


def from_pykan_checkpoint(
    config: str | bytes | dict,
    state: bytes | dict,
    cache_data: bytes | torch.Tensor | None = None,
) -> tuple[KAN, torch.Tensor | None]:
    """``(model, cached input or None)`` from pykan's ``saveckpt`` parts.

    ``config``: the text of ``PATH_config.yml`` (or the loaded dict); ``state``: the bytes of
    ``PATH_state`` (or the state_dict); ``cache_data``: the bytes of ``PATH_cache_data`` (or the
    tensor), optional. The model's ``reference_input`` is the cached input when there is one.
    Raises ``ValueError`` naming the part and the problem.
    """
    cfg = read_config(config)
    try:
        kc = _kan_config(cfg)
    except _Bad as exc:
        raise ValueError(f"pykan_config: {exc}") from None
    layouts = kc.layouts
    depth = len(layouts) - 1
    sd = read_state(state)
    sym_on = cfg.get("symbolic_enabled", True) is not False
    tensors, nums, symbolic = {}, [], []
    try:
        _check_keys(sd, depth)
        for l in range(depth):
            n_in, n_out = layouts[l].n_nodes, layouts[l + 1].n_sub
            num, ts, entries = _layer(cfg, sd, l, n_in, n_out, sym_on)
            _fold_scales(ts, l, _output_scales(sd, l, layouts[l + 1]))
            nums.append(num)
            tensors.update(ts)
            symbolic.append(entries)
    except _Bad as exc:
        raise ValueError(f"pykan_state: {exc}") from None
    ref = read_cache_data(cache_data, layouts[0].n_nodes)
    dtype = tensors["layers.0.coef"].dtype
    if ref is not None:
        tensors["reference_input"] = ref.to(dtype)
    meta = {
        "format": kio.FORMAT,
        "config": {**kc.to_dict(), "grid": max(nums) if nums else kc.grid},
        "width": kc.width,
        "grids": nums,
        "symbolic": symbolic,
    }
    buf = _io.BytesIO()
    tensors = {k: v.to(dtype) for k, v in tensors.items()}
    torch.save({"meta": json.dumps(meta), "tensors": tensors}, buf)
    try:
        model = kio.from_bytes(buf.getvalue())
    except ValueError as exc:  # io's own checks: grids increasing, dtypes, …
        raise ValueError(f"pykan_state: {str(exc).removeprefix('model file: ')}") from None
    return model, ref
