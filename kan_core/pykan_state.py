"""pykan's model state that lives beside the network: the activation cache of the last forward
pass and the version history (``auto_save``, ``rewind``), as a mixin of ``KAN``.

Activation cache. pykan's ``forward`` stores a dozen tensors on every call (``acts``,
``spline_preacts``, ``spline_postacts``, ``acts_scale``, …). Here ``forward`` only keeps a
reference to its input (``cache_data``); the tensors are computed from it, on the model as it
is now, the first time one is read, and kept until the input or the model changes. Training
never reads them, so it pays nothing. Shapes are pykan's: per layer ``(batch, out, in)`` for
edges, ``(out, in)`` for scales, ``(batch, nodes)`` for node values.

Version history. pykan writes a checkpoint folder (``./model``) and ``history.txt``; kan_core
writes no files: each version is an in-memory copy of the model, shared by every model derived
from it (copies, pruned and refined models), and numbered as pykan numbers them —
``"{round}.{state_id}"``, ``0.0`` at construction, one more after each ``fit``, ``prune``,
``refine``, ``fix_symbolic``, … and a new round after ``rewind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .compat import pykan_keywords
from .config import is_int

__all__ = [
    "ActivationCache",
    "History",
    "PykanState",
    "SymbolicView",
    "init_pykan",
    "sparse_mask",
    "zero_frozen_grads",
]

MAX_HISTORY_NUMBERS = 50_000_000  # tensor elements kept by one history (~200 MB of float32)


def sparse_mask(in_dim: int, out_dim: int) -> torch.Tensor:
    """pykan's sparse initialisation ``(in, out)``: nodes of both layers placed evenly on
    [0, 1]; each input keeps its edge to the nearest output and each output to the nearest
    input."""
    in_pos = (torch.arange(in_dim) + 0.5) / in_dim
    out_pos = (torch.arange(out_dim) + 0.5) / out_dim
    dist = (out_pos[:, None] - in_pos[None, :]).abs()  # (out, in)
    mask = torch.zeros(in_dim, out_dim)
    mask[torch.arange(in_dim), dist.argmin(0)] = 1.0
    mask[dist.argmin(1), torch.arange(out_dim)] = 1.0
    return mask


def init_pykan(model, auto_save, kw: dict) -> None:
    """pykan's constructor options: the initialisation ones in ``model.config`` applied to the
    fresh layers, the rest stored (``save_act``, ``ckpt_path``) or checked, then version 0.0."""
    kw = pykan_keywords(
        "KAN",
        kw,
        at_default={"symbolic_enabled": True, "affine_trainable": False},
        own=("save_act", "ckpt_path", "first_init", "state_id", "round"),
    )
    for name in ("state_id", "round"):
        if not is_int(kw.get(name, 0), 0):
            raise ValueError(f"{name} must be a whole number ≥ 0, got {kw[name]!r}")
    cfg = model.config
    with torch.no_grad():
        for layer in model.layers:
            bound = layer.in_dim**-0.5  # (the layer drew scale_base = U(-1, 1)·bound)
            if (cfg.scale_base_mu, cfg.scale_base_sigma) != (0.0, 1.0):
                layer.scale_base.mul_(cfg.scale_base_sigma).add_(cfg.scale_base_mu * bound)
            if cfg.sparse_init:
                mask = sparse_mask(layer.in_dim, layer.out_dim).to(layer.mask)
                layer.mask.copy_(mask)
                layer.scale_sp.mul_(mask)
    model.save_act = bool(kw.get("save_act", True))
    model.ckpt_path = str(kw.get("ckpt_path", "./model"))  # (kan_core writes nothing there)
    model._start_history(
        auto_save, kw.get("first_init", True), kw.get("state_id", 0), kw.get("round", 0)
    )


@dataclass
class ActivationCache:
    """Everything pykan's ``forward`` records, for input ``x`` (see the module docstring)."""

    acts: list  # per node layer (batch, width_in[l]): node values, inputs first
    acts_premult: list  # per layer (batch, width_out[l+1]): subnode values (before mult nodes)
    spline_preacts: list  # per layer (batch, out, in): each edge's input
    spline_postacts: list  # per layer (batch, out, in): each edge's output (masked)
    spline_postsplines: list  # per layer (batch, out, in): the raw spline (coefficients only)
    acts_scale: list  # per layer (out, in): std(edge output) / (std(edge input) + 0.1)
    acts_scale_spline: list  # per layer (out, in): the same for the numeric branch only
    edge_actscale: list  # per layer (out, in): std of each edge's output
    subnode_actscale: list  # per layer (width_out[l+1],): std of each subnode


@torch.no_grad()
def activation_cache(model, x: torch.Tensor) -> ActivationCache:
    nodes, subs = model.layer_values(x)
    parts: dict[str, list] = {f: [] for f in ActivationCache.__dataclass_fields__}
    parts["acts"], parts["acts_premult"] = list(nodes), list(subs[1:])
    for l, layer in enumerate(model.layers):
        h = nodes[l]
        pre = h[:, None, :].expand(-1, layer.out_dim, -1)
        post = layer.edge_activations(h).permute(0, 2, 1)
        numeric = (layer.numeric_activations(h) * layer.mask * (1.0 - layer.sym_mask)).permute(
            0, 2, 1
        )
        in_range = pre.std(0) + 0.1
        parts["spline_preacts"].append(pre)
        parts["spline_postacts"].append(post)
        parts["spline_postsplines"].append(layer.spline_values(h).permute(0, 2, 1))
        parts["edge_actscale"].append(post.std(0))
        parts["acts_scale"].append(post.std(0) / in_range)
        parts["acts_scale_spline"].append(numeric.std(0) / in_range)
        parts["subnode_actscale"].append(subs[l + 1].std(0))
    return ActivationCache(**parts)


def _model_key(model) -> tuple:
    """Changes whenever anything a forward pass depends on changes."""
    key = []
    for layer in model.layers:
        for t in (layer.packed, layer.grid, layer.mask, layer.sym_mask):
            key.append((t.data_ptr(), t._version, tuple(t.shape)))
        key.append(tuple(sorted(layer.sym_funs.items())))
    return tuple(key)


class SymbolicView:
    """pykan's ``symbolic_fun[l]`` (a ``Symbolic_KANLayer``) as a read-only view of layer ``l``:
    ``funs_name[j][i]`` (``"0"`` for a numeric edge), ``mask`` and ``affine`` in pykan's
    ``(out, in, ·)`` order (views of the layer's tensors)."""

    def __init__(self, layer):
        self._layer = layer
        self.in_dim, self.out_dim = layer.in_dim, layer.out_dim

    @property
    def funs_name(self) -> list[list[str]]:
        funs = self._layer.sym_funs
        return [[funs.get((i, j), "0") for i in range(self.in_dim)] for j in range(self.out_dim)]

    @property
    def mask(self) -> torch.Tensor:
        return self._layer.sym_mask.T

    @property
    def affine(self) -> torch.Tensor:
        return self._layer.affine.permute(1, 0, 2)

    def __repr__(self) -> str:
        return f"SymbolicView(in_dim={self.in_dim}, out_dim={self.out_dim})"


@dataclass
class History:
    """The versions of a model family: ``{"round.state_id": model copy}`` and pykan's log lines."""

    versions: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)  # tensor elements per version

    def save(self, model, version: str) -> None:
        self.versions.pop(version, None)  # (a number reused after a rewind: the newer wins)
        snapshot = model.copy()
        snapshot.history_store = None  # (no reference cycle: a dropped model is freed at once)
        self.versions[version] = snapshot
        self.sizes[version] = sum(t.numel() for t in model.state_dict().values())
        while len(self.versions) > 1 and sum(self.sizes.values()) > MAX_HISTORY_NUMBERS:
            oldest = next(iter(self.versions))  # forget the oldest, never the newest
            del self.versions[oldest], self.sizes[oldest]

    def __deepcopy__(self, memo):  # copies of a model share its history, as pykan's share a folder
        return self


class PykanState:
    """Mixed into ``KAN``: ``cache_data`` and the activation attributes, ``get_act``,
    ``get_fun``, ``get_range``, ``act_fun``/``symbolic_fun``, and the version history."""

    cache_data: torch.Tensor | None = None
    _act_memo = None

    # --- activation cache -------------------------------------------------------------------
    def _remember_input(self, x: torch.Tensor) -> None:
        """Called by ``forward``: one reference, no computation (written to the instance dict
        directly: ``nn.Module.__setattr__`` costs ~1 µs per forward pass)."""
        self.__dict__["cache_data"] = x.detach() if x.requires_grad else x

    def _activations(self) -> ActivationCache:
        if self.cache_data is None:
            raise AttributeError(
                "no activations yet: run the model on data first (model(x) or model.get_act(x))"
            )
        key = (id(self.cache_data), self.cache_data._version, _model_key(self))
        memo = self._act_memo
        if memo is None or memo[0] != key or memo[1] is not self.cache_data:
            memo = (key, self.cache_data, activation_cache(self, self.cache_data))
            self._act_memo = memo
        return memo[2]

    # pykan's attributes, each read from the cache (AttributeError before any forward pass)
    acts = property(lambda self: None if self.cache_data is None else self._activations().acts)
    acts_premult = property(lambda self: self._activations().acts_premult)
    spline_preacts = property(lambda self: self._activations().spline_preacts)
    spline_postacts = property(lambda self: self._activations().spline_postacts)
    spline_postsplines = property(lambda self: self._activations().spline_postsplines)
    acts_scale = property(lambda self: self._activations().acts_scale)
    acts_scale_spline = property(lambda self: self._activations().acts_scale_spline)
    edge_actscale = property(lambda self: self._activations().edge_actscale)
    subnode_actscale = property(lambda self: self._activations().subnode_actscale)

    def get_act(self, x=None) -> None:
        """pykan's ``get_act``: a forward pass on ``x`` (a tensor, or a dataset dict: its
        ``train_input``; default: the last input) that fills the activation cache."""
        if isinstance(x, dict):
            x = x["train_input"]
        if x is None:
            if self.cache_data is None:
                raise ValueError("missing input data x: pass x, or run the model on data first")
            x = self.cache_data
        with torch.no_grad():
            self.forward(x)
        self._activations()

    def get_fun(self, l, i, j) -> tuple[np.ndarray, np.ndarray]:
        """Edge ``(l, i, j)`` on the cached input: ``(inputs, outputs)`` as NumPy arrays sorted by
        input (pykan also draws them; kan_core leaves drawing to ``plot``)."""
        l, i, j = self._edge(l, i, j)
        acts = self._activations()
        x = acts.spline_preacts[l][:, j, i].detach().cpu().numpy()
        y = acts.spline_postacts[l][:, j, i].detach().cpu().numpy()
        order = np.argsort(x)
        return x[order], y[order]

    def get_range(self, l, i, j, verbose=True):
        """``(x_min, x_max, y_min, y_max)`` of edge ``(l, i, j)`` on the cached input, as 0-d
        NumPy arrays like pykan's (``verbose``: pykan prints them; kan_core never prints)."""
        l, i, j = self._edge(l, i, j)
        acts = self._activations()
        x, y = acts.spline_preacts[l][:, j, i], acts.spline_postacts[l][:, j, i]
        return tuple(t.detach().cpu().numpy() for t in (x.min(), x.max(), y.min(), y.max()))

    @property
    def act_fun(self):
        """pykan's name for the layers (``act_fun[l].grid``, ``.coef``, ``.mask``, …)."""
        return self.layers

    @property
    def symbolic_fun(self) -> list[SymbolicView]:
        return [SymbolicView(layer) for layer in self.layers]

    @property
    def n_edge(self) -> int:
        """The number of unpruned edges."""
        return int(sum(int((layer.mask > 0).sum()) for layer in self.layers))

    @property
    def device(self) -> torch.device:
        """pykan's ``model.device``: kan_core runs on the CPU."""
        return torch.device("cpu")

    def evaluate(self, dataset: dict) -> dict:
        """pykan's: test RMSE, unpruned edges and grid intervals."""
        with torch.no_grad():
            err = self.forward(dataset["test_input"]) - dataset["test_label"]
        return {
            "test_loss": float(torch.sqrt(torch.mean(err**2))),
            "n_edge": self.n_edge,
            "n_grid": self.grid,
        }

    def unfix_symbolic_all(self, log_history=True) -> None:
        """Every symbolic edge back to its spline (pykan's)."""
        from .symbolic import unfix_symbolic

        for l, i, j in self.edges():
            if self.layers[l].sym_mask[i, j] > 0:
                unfix_symbolic(self, l, i, j)
        if log_history:
            self.log_history("unfix_symbolic_all")

    # --- version history --------------------------------------------------------------------
    def _start_history(self, auto_save: bool, first_init: bool, state_id: int, round_: int):
        self.auto_save, self.round, self.state_id = bool(auto_save), int(round_), 0
        self.history_store = History()
        if self.auto_save and first_init:
            self.history_store.lines += [f"### Round {self.round} ###", "init => 0.0"]
            self.history_store.save(self, self.version)
        elif self.auto_save:
            self.state_id = int(state_id)

    @property
    def version(self) -> str:
        return f"{self.round}.{self.state_id}"

    def log_history(self, method_name: str) -> None:
        """pykan's: with ``auto_save``, the next version number, and this model kept under it."""
        if not getattr(self, "auto_save", False):
            return
        old = self.version
        self.state_id += 1
        self.history_store.lines.append(f"{old} => {method_name} => {self.version}")
        self.history_store.save(self, self.version)

    def _logged_as_next(self, new, method_name: str):
        """``new`` (a model derived from this one: pruned, refined) takes the next version."""
        new.state_id, new.round = self.state_id, self.round
        new.log_history(method_name)
        return new

    def history(self, k="all") -> list[str]:
        """pykan's history lines (pykan prints them; here they are returned), the last ``k``."""
        lines = self.history_store.lines
        return list(lines if k == "all" else lines[-int(k) :])

    def checkout(self, model_id: str):
        """A copy of version ``model_id`` (``"round.state_id"``); this model is unchanged."""
        model_id = str(model_id)
        saved = self.history_store.versions.get(model_id)
        if saved is None:
            known = ", ".join(self.history_store.versions) or "none"
            raise KeyError(f"no version {model_id!r} in this model's history (kept: {known})")
        model = saved.copy()
        model.history_store = self.history_store
        model.round = saved.round + 1  # (pykan: loading a checkpoint starts a new round)
        return model

    def rewind(self, model_id: str):
        """pykan's ``rewind``: back to version ``model_id`` in a new round (this model is kept
        in the history under the new round's number)."""
        model_id = str(model_id)
        model = self.checkout(model_id)
        self.round += 1
        self.state_id = int(model_id.split(".")[-1])
        self.history_store.lines.append(f"### Round {self.round} ###")
        self.history_store.save(self, self.version)
        return model


def zero_frozen_grads(model) -> None:
    """pykan's ``sp_trainable=False`` / ``sb_trainable=False``: the gradient of ``scale_sp`` /
    ``scale_base`` is zero, so no optimiser moves them. Called by the trainer after every
    gradient evaluation; nothing to do (two attribute reads) for a model that trains all."""
    cfg = getattr(model, "config", None)
    if cfg is None or (getattr(cfg, "sp_trainable", True) and getattr(cfg, "sb_trainable", True)):
        return
    for layer in model.layers:
        g = layer.packed.grad
        if g is None:
            continue
        # packed is (out, K + 6, in): K coefficients, scale_base, scale_sp, a, b, c, d
        if not cfg.sb_trainable:
            g[:, -6] = 0
        if not cfg.sp_trainable:
            g[:, -5] = 0
