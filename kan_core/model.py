"""``KAN``: a stack of ``KANLayer``s with pykan's names — forward, grids, pruning, symbolic snapping.

The heavier operations live in their own modules (``prune``, ``symbolic``, ``formula``, ``train``,
``io``); the methods here are the pykan-shaped front door to them (the symbolic ones in
``model_symbolic``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .compat import check_device, pykan_keywords
from .config import KANConfig, as_index, curve_samples, is_int
from .layer import KANLayer, numeric_network
from .model_symbolic import SymbolicMethods
from .pykan_extras import PykanExtras
from .pykan_state import PykanState, init_pykan

__all__ = ["KAN", "KANConfig"]  # (KANConfig lives in config.py)


class KAN(SymbolicMethods, PykanExtras, PykanState, nn.Module):
    """``KAN(width=[2, 5, 1], grid=5, k=3, seed=0)``; ``model(x)``: ``(batch, width[0])`` →
    ``(batch, width[-1])``. Edge ``(l, i, j)`` goes from node ``i`` of layer ``l`` to node ``j``
    of layer ``l + 1``."""

    def __init__(
        self,
        width: list[int] | None = None,
        grid: int = 5,
        k: int = 3,
        seed: int = 0,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        base_fun: str = "silu",
        grid_eps: float = 0.02,
        noise_scale: float = 0.3,
        mult_arity: int | list = 2,
        config: KANConfig | None = None,
        device=None,
        *,
        scale_base_mu: float = 0.0,
        scale_base_sigma: float = 1.0,
        sparse_init: bool = False,
        sp_trainable: bool = True,
        sb_trainable: bool = True,
        auto_save: bool = True,
        **pykan_kw,
    ):
        """pykan's other keywords (``save_act``, ``ckpt_path``, ``first_init``, ``state_id``,
        ``round``, and ``symbolic_enabled``/``affine_trainable`` at their defaults) are accepted;
        ``auto_save`` keeps versions in memory (``rewind``), never files."""
        super().__init__()
        check_device(device)  # (pykan's keyword; kan_core runs on the CPU)
        if config is None:
            config = KANConfig(
                width=[list(w) if isinstance(w, list | tuple) else w for w in width]
                if width is not None
                else [2, 5, 1],
                grid=grid,
                k=k,
                seed=seed,
                grid_range=tuple(grid_range),
                base_fun=base_fun,
                grid_eps=grid_eps,
                noise_scale=noise_scale,
                mult_arity=mult_arity,
                scale_base_mu=scale_base_mu,
                scale_base_sigma=scale_base_sigma,
                sparse_init=sparse_init,
                sp_trainable=sp_trainable,
                sb_trainable=sb_trainable,
            )
        config = config.checked()
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        self.layouts = config.layouts  # per node layer: sum nodes, mult nodes (mult.py)
        w_in, w_out = self.width_in, self.width_out
        self.layers = nn.ModuleList(
            KANLayer(
                w_in[l],
                w_out[l + 1],
                config.grid,
                config.k,
                config.grid_range,
                config.base_fun,
                config.noise_scale,
                gen,
            )
            for l in range(len(w_in) - 1)
        )
        self.reference_input: torch.Tensor | None = None
        # node (l, i) → the edges prune_node(l, i) masked (see prune.restore_node)
        self.pruned_nodes: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        init_pykan(self, auto_save, pykan_kw)  # initialisation options, version 0.0

    # --- shape -------------------------------------------------------------------------------
    @property
    def width(self) -> list:
        """Nodes per layer; pykan's nested ``[[n_sum, n_mult], …]`` for a model with mult nodes."""
        if self.config.has_mult:
            return [[n.n_sum, len(n.arity)] for n in self.layouts]
        return self.width_in

    @property
    def width_in(self) -> list[int]:
        """Nodes per layer (sum and mult nodes): what each layer of edges reads."""
        return [n.n_nodes for n in self.layouts]

    @property
    def width_out(self) -> list[int]:
        """Subnodes per layer: what each layer of edges writes (a mult node has one per factor)."""
        return [n.n_sub for n in self.layouts]

    @property
    def mult_arity(self):
        return self.config.mult_arity

    def combine(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """``(batch, width_out[l])`` subnode values → ``(batch, width_in[l])`` node values."""
        layout = self.layouts[l]
        return layout.combine(h.T).T if layout.has_mult else h

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def grid(self) -> int:
        return self.layers[0].num

    @property
    def k(self) -> int:
        return self.config.k

    def copy(self) -> KAN:
        """A deep copy that shares the data it holds — the reference input and the last input
        (``cache_data``), which nothing writes to — and the version history (as pykan's copies
        share their checkpoint folder)."""
        for layer in self.layers:  # caches are cheap to rebuild; don't duplicate them
            layer.invalidate()
        memo = {id(t): t for t in (self.cache_data, self.reference_input) if t is not None}
        acts, self._act_memo = self._act_memo, None
        try:
            return copy.deepcopy(self, memo)
        finally:
            self._act_memo = acts

    def _edge(self, l, i, j) -> tuple[int, int, int]:
        """A checked edge index as plain ints."""
        l, i, j = as_index(l, "layer"), as_index(i, "input node"), as_index(j, "output node")
        self._check_edge(l, i, j)
        return l, i, j

    def _check_edge(self, l: int, i: int, j: int) -> KANLayer:
        if not (0 <= l < self.depth):
            raise IndexError(f"layer {l} out of range (model has {self.depth} layers)")
        layer = self.layers[l]
        if not (0 <= i < layer.in_dim and 0 <= j < layer.out_dim):  # (out: subnodes)
            raise IndexError(
                f"edge ({l},{i},{j}) out of range for layer of shape {layer.in_dim}→{layer.out_dim}"
            )
        return layer

    def set_reference_input(self, x: torch.Tensor) -> None:
        """Inputs that scores, pruning and symbolic fits use when no ``x`` is given."""
        self.reference_input = self._samples(x).detach()

    def _x(self, x: torch.Tensor | None) -> torch.Tensor:
        """``x``, else the reference input, else the last forward pass's input (pykan's
        ``cache_data``)."""
        if x is not None:
            return self._samples(x)
        if self.reference_input is not None:
            return self.reference_input
        if self.cache_data is not None and self.cache_data.shape[0] >= 2:
            return self._samples(self.cache_data)
        raise ValueError(
            "no data: pass x, run the model on data (model(x)), or fit / set_reference_input(x)"
        )

    def _samples(self, x) -> torch.Tensor:
        """``x`` checked as data that grids, scores and symbolic fits are computed from: at
        least two finite samples (one sample has no spread: every edge would score 0)."""
        x = self._check_input(x)
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 samples, got {x.shape[0]}")
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            row = int(bad.any(1).nonzero()[0])
            raise ValueError(f"x has {int(bad.sum())} NaN/inf value(s) (first in row {row})")
        return x

    # --- forward -----------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``(batch, in)`` in the model's dtype (integer and other float inputs are
        converted, as the trainer converts datasets)."""
        x = self._select_inputs(x)  # (after prune_input: the kept columns of the original input)
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.layers[0].in_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"input must be (batch, {self.layers[0].in_dim}), got {shape}")
        dtype = self.layers[0].packed.dtype
        if x.dtype != dtype:
            if x.is_complex():
                raise ValueError(f"input must be real numbers, got {x.dtype}")
            x = x.to(dtype)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._check_input(x)
        self._remember_input(x)  # pykan's cache_data (activations are computed when read)
        if torch.is_grad_enabled() and not any(layer.sym_funs for layer in self.layers):
            return numeric_network(x, self.layers, self.layouts)  # one autograd node
        xt = x.T
        for l, layer in enumerate(self.layers):
            xt = self.layouts[l + 1].combine(layer.forward_t(xt))
        return xt.T

    def forward_with_reg(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Output and each layer's ``(in, out)`` edge scales for the regulariser."""
        x = self._check_input(x)
        scales, xt = [], x.T
        for l, layer in enumerate(self.layers):
            xt, s = layer.forward_t(xt, with_reg=True)
            xt = self.layouts[l + 1].combine(xt)
            scales.append(s)
        return xt.T, scales

    @torch.no_grad()
    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Values at every node layer: ``[x, h_1, ..., output]`` (``depth + 1`` tensors)."""
        return self.layer_values(x)[0]

    @torch.no_grad()
    def layer_values(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``(node values per node layer, subnode values per node layer)``; they differ only
        where a layer has mult nodes (the inputs' subnodes are the inputs)."""
        nodes, subs = [x], [x]
        for l, layer in enumerate(self.layers):
            subs.append(layer(nodes[-1]))
            nodes.append(self.combine(l + 1, subs[-1]))
        return nodes, subs

    @torch.no_grad()
    def activations(self, x: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Every edge's activation per layer: list of ``(batch, in, out)``."""
        xs = self.layer_inputs(self._x(x))
        return [layer.edge_activations(xs[l]) for l, layer in enumerate(self.layers)]

    # --- grids -------------------------------------------------------------------------------
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor | None = None) -> None:
        """Adapt every layer's grid to the data flowing into it (pykan's ``update_grid``)."""
        h = self._x(x)
        for n, layer in enumerate(self.layers):
            layer.update_grid(h, self.config.grid_eps)
            if n + 1 < len(self.layers):
                h = self.combine(n + 1, layer(h))

    update_grid_from_samples = update_grid  # pykan 0.2's name

    @torch.no_grad()
    def refine(self, new_grid: int | None = None, x: torch.Tensor | None = None, grid=None) -> KAN:
        """A copy on ``new_grid`` (or ``grid=``) intervals per edge that reproduces this model's
        function; the copy is the next version (pykan's numbering)."""
        new_grid = grid if new_grid is None else new_grid
        if not (is_int(new_grid, 1) and new_grid <= 1000):
            raise ValueError(f"grid must be a whole number in [1, 1000], got {new_grid!r}")
        new_grid = int(new_grid)
        h = self._x(x)
        new = self.copy()
        new.config = KANConfig(**{**self.config.to_dict(), "grid": new_grid})
        for n, (old_layer, layer) in enumerate(zip(self.layers, new.layers, strict=True)):
            layer.set_grid_preserving(layer.refined_grid(h, new_grid, self.config.grid_eps), h)
            h = self.combine(n + 1, old_layer(h))
        return self._logged_as_next(new, "refine")

    # --- edges -------------------------------------------------------------------------------
    def edge_state(self, l: int, i: int, j: int) -> str:
        l, i, j = self._edge(l, i, j)
        layer = self.layers[l]
        if layer.mask[i, j] == 0:
            return "pruned"
        return "symbolic" if layer.sym_mask[i, j] > 0 else "active"

    def node_state(self, l: int, i: int) -> str:
        """``"pruned"`` if every edge into and out of node ``(l, i)`` is masked, else ``"active"``.
        Layers are numbered 0 (inputs) … depth (outputs)."""
        l, i = as_index(l, "layer"), as_index(i, "node")
        if not (0 <= l <= self.depth and 0 <= i < self.width_in[l]):
            raise IndexError(f"node ({l},{i}) out of range for width {self.width}")
        live = []
        if l < self.depth:
            live.append(self.layers[l].mask[i, :])
        if l > 0:
            live.append(self.layers[l - 1].mask[:, self.layouts[l].subnodes(i)])
        return "active" if any(bool(m.any()) for m in live) else "pruned"

    def edges(self):
        """Every edge index ``(l, i, j)`` in order."""
        for l, layer in enumerate(self.layers):
            for i in range(layer.in_dim):
                for j in range(layer.out_dim):
                    yield l, i, j

    # Delegating front door (pykan names) ----------------------------------------------------
    def fit(self, dataset, opt="LBFGS", steps=100, **kw):
        from .train import fit

        history = fit(self, dataset, opt, steps, **kw)
        self.log_history("fit")
        return history

    def speed(self, compile=False):  # noqa: A002 — pykan's name
        """pykan's ``speed()``: it switches off the symbolic branch, activation caching and
        ``auto_save``. kan_core is always in its fast mode (symbolic edges still count; the
        cache costs nothing until read), so only ``auto_save`` and ``save_act`` go off, as in
        pykan; returns the model."""
        pykan_keywords("speed", {"compile": compile}, at_default={"compile": False})
        self.auto_save = self.save_act = False
        return self

    @property
    def feature_score(self) -> torch.Tensor:
        """pykan's input importance: ``node_scores()[0]`` on the reference input."""
        return self.node_scores()[0]

    def edge_scores(self, x=None):
        from .prune import edge_scores

        return edge_scores(self, self._x(x))

    def node_scores(self, x=None):
        from .prune import node_scores

        return node_scores(self, self._x(x))

    def prune_plan(self, node_th=1e-2, edge_th=3e-2, x=None):
        from .prune import prune_plan

        return prune_plan(self, node_th, edge_th, self._x(x))

    def apply_prune(self, plan, shrink=False):
        from .prune import apply_prune

        return apply_prune(self, plan, shrink)

    def prune(self, node_th=1e-2, edge_th=3e-2, x=None, shrink=True):
        plan = self.prune_plan(node_th, edge_th, x)
        return self._logged_as_next(self.apply_prune(plan, shrink), "prune")

    def prune_edge(self, l=None, i=None, j=None, *, threshold=None, x=None, log_history=True):
        """``prune_edge(l, i, j)``: mask one edge, returning warnings. pykan's
        ``prune_edge(threshold=3e-2)`` (or a single number): mask, in place, every edge whose
        score is below it (scores as ``edge_scores``)."""
        from .prune import prune_edge, prune_edges_below

        if i is None and j is None:
            th = threshold if threshold is not None else 3e-2 if l is None else l
            prune_edges_below(self, th, self._x(x))
            if log_history:
                self.log_history("prune_edge")
            return None
        return prune_edge(self, *self._edge(l, i, j))

    def restore_edge(self, l, i, j):
        l, i, j = self._edge(l, i, j)
        self.layers[l].mask[i, j] = 1.0

    def prune_node(
        self,
        l=None,
        i=None,
        *,
        threshold=None,
        mode="auto",
        active_neurons_id=None,
        x=None,
        log_history=True,
    ):
        """``prune_node(l, i)``: mask every edge of one node, in place, returning warnings.
        pykan's ``prune_node(threshold=1e-2)`` (or a single number) returns a copy without the
        hidden nodes scoring below it; ``active_neurons_id=[[kept nodes of hidden layer 1], …]``
        (pykan's manual mode) keeps exactly those."""
        from .prune import prune_node, prune_nodes

        if i is None:
            th = threshold if threshold is not None else 1e-2 if l is None else l
            keep = active_neurons_id if mode == "manual" or active_neurons_id is not None else None
            new = prune_nodes(self, th, self._x(x), keep)
            return self._logged_as_next(new, "prune_node") if log_history else new
        return prune_node(self, as_index(l, "layer"), as_index(i, "node"))

    def restore_node(self, l, i):
        from .prune import restore_node

        restore_node(self, as_index(l, "layer"), as_index(i, "node"))

    def edge_curves(self, n=64):
        from .curves import edge_curves

        return edge_curves(self, curve_samples(n))

    def edge_curve(self, l, i, j, n=128, x=None):
        from .curves import edge_curve

        x = self.reference_input if x is None else self._samples(x)
        return edge_curve(self, *self._edge(l, i, j), curve_samples(n), x)

    def save(self, path):
        from .io import save

        save(self, path)

    @classmethod
    def load(cls, path):
        from .io import load

        return load(path)

    def saveckpt(self, path="model"):
        """pykan's name: one kan_core file at ``path`` (pykan writes three files)."""
        self.save(path)

    @classmethod
    def loadckpt(cls, path="model"):
        """pykan's name: a kan_core file at ``path``, or pykan's own checkpoint
        ``{path}_config.yml`` + ``{path}_state`` (+ ``{path}_cache_data``)."""
        from .io import load_checkpoint

        return load_checkpoint(path)

    def to_bytes(self) -> bytes:
        from .io import to_bytes

        return to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes):
        from .io import from_bytes

        return from_bytes(data)
