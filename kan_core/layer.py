"""``KANLayer``: a learnable 1-D function on every edge ``(i, j)`` from input ``i`` to output ``j``.

    φ_ij(x) = mask_ij · [ (1 − s_ij)·(scale_base_ij·silu(x) + scale_sp_ij·spline_ij(x))
                          + s_ij·(c·f(a·x + b) + d) ]

where ``s_ij`` marks a symbolic edge. The fast path never builds the ``(batch, in, out)`` tensor:
it evaluates the bases once per *input* and does one matmul with a packed weight that folds mask,
spline scale, coefficients and base scale together (``fused.numeric_forward``). Symbolic edges are
masked out of the matmul and added back: one gather and one scatter for all of them, one call per
distinct function.
"""

from __future__ import annotations

import itertools
from functools import partial

import torch
from torch import nn

from .fused import (
    BASE_FUNCTIONS,
    base_forward,
    features,
    numeric_backward,
    numeric_edges,
    numeric_forward,
    pack,
    plain_numeric_forward,
    unpack,
)
from .spline import (
    adaptive_grid,
    b_spline_basis,
    basis_inverses,
    curve_to_coef,
    extend_grid_ends,
    uniform_grid,
)
from .symbolic_lib import SYMBOLIC_LIB

__all__ = ["KANLayer", "BASE_FUNS", "network_backward", "network_forward", "numeric_network"]

_UNPACKED = ("coef", "scale_base", "scale_sp", "affine")  # the state_dict's names (file format)

BASE_FUNS = {name: partial(base_forward, name) for name in BASE_FUNCTIONS}


class KANLayer(nn.Module):
    """Shapes: input ``(batch, in_dim)`` → output ``(batch, out_dim)``; ``K = grid + k`` bases."""

    y_th: float | None = None  # (class default: layers built before the attribute existed)

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        grid: int = 5,
        k: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        base_fun: str = "silu",
        noise_scale: float = 0.1,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if base_fun not in BASE_FUNS:
            raise ValueError(f"unknown base_fun {base_fun!r}; choose from {sorted(BASE_FUNS)}")
        self.in_dim, self.out_dim, self.num, self.k = in_dim, out_dim, grid, k
        self.base_fun_name = base_fun
        self.base_fun = BASE_FUNS[base_fun]
        self.register_buffer("grid", uniform_grid(in_dim, grid, *grid_range, k))
        self.register_buffer("mask", torch.ones(in_dim, out_dim))
        self.register_buffer("sym_mask", torch.zeros(in_dim, out_dim))
        g = generator
        noise = (torch.rand(grid + 1, in_dim, out_dim, generator=g) - 0.5) * noise_scale / grid
        coef = curve_to_coef(self.grid[:, k:-k].T.contiguous(), noise, self.grid, k)
        bound = 1.0 / in_dim**0.5
        scale_base = (torch.rand(in_dim, out_dim, generator=g) * 2 - 1) * bound
        scale_sp = torch.full((in_dim, out_dim), bound)
        # a, b, c, d of c·f(a·x + b) + d per edge; trained only where the edge is symbolic.
        affine = torch.tensor([1.0, 0.0, 1.0, 0.0]).repeat(in_dim, out_dim, 1)
        # every trainable number in one parameter (fused.unpack); coef, scale_base, scale_sp and
        # affine are views of it, and the state_dict keeps those four names
        self.packed = nn.Parameter(pack(coef, scale_base, scale_sp, affine))
        self.sym_funs: dict[tuple[int, int], str] = {}
        self.sym_r2: dict[tuple[int, int], float] = {}  # R² when each edge was snapped
        self.y_th: float | None = None  # set: symbolic functions avoid singularities (pykan)
        self._inv_key = None
        self._groups = None
        self._feature_cache: list[dict] = []
        self._live_key = None

    # --- parameters: views of ``packed`` ---------------------------------------------------------
    @property
    def coef(self) -> torch.Tensor:
        """Spline coefficients ``(in, out, K)``."""
        return unpack(self.packed)[0]

    @property
    def scale_base(self) -> torch.Tensor:
        return unpack(self.packed)[1]

    @property
    def scale_sp(self) -> torch.Tensor:
        return unpack(self.packed)[2]

    @property
    def affine(self) -> torch.Tensor:
        """``a, b, c, d`` of each edge's symbolic branch ``c·f(a·x + b) + d``: ``(in, out, 4)``."""
        return unpack(self.packed)[3]

    def set_coef(self, coef: torch.Tensor) -> None:
        """Replace the coefficients — in place when the shape is unchanged (optimisers keep their
        parameter), else with a new ``packed`` parameter of the new basis size."""
        with torch.no_grad():
            if coef.shape == self.coef.shape:
                self.coef.copy_(coef)
            else:
                _, sb, ssp, aff = unpack(self.packed.detach())
                self.packed = nn.Parameter(pack(coef.to(sb), sb, ssp, aff))

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        packed = destination.pop(prefix + "packed")
        for name, view in zip(_UNPACKED, unpack(packed), strict=True):
            destination[prefix + name] = view

    def _load_from_state_dict(self, state_dict, prefix, *args):
        keys = [prefix + name for name in _UNPACKED]
        if all(key in state_dict for key in keys):
            parts = [state_dict.pop(key) for key in keys]
            try:
                state_dict[prefix + "packed"] = pack(*parts)
            except RuntimeError as exc:  # mismatched shapes: let the loader report the layer
                args[-1].append(f"{prefix}: coef/scale_base/scale_sp/affine do not fit: {exc}")
                return
        super()._load_from_state_dict(state_dict, prefix, *args)

    # --- cached derived state -------------------------------------------------------------
    def _consts(self) -> dict:
        key = (self.grid.data_ptr(), self.grid._version)
        if self._inv_key != key:
            self._inv = basis_inverses(self.grid, self.k)
            self._inv_key = key
        return self._inv

    def _sym_plan(self) -> tuple[torch.Tensor, torch.Tensor, list]:
        """Unpruned symbolic edges ordered by function: ``(in_idx, out_idx, [(name, torch_fn,
        start, stop), ...])`` — one gather and one scatter for all of them, one call per
        function."""
        key = (self.mask.data_ptr(), self.mask._version)
        if self._groups is None or self._groups[0] != key:
            edges = sorted(
                (name, i, j) for (i, j), name in self.sym_funs.items() if self.mask[i, j] > 0
            )
            spans, start = [], 0
            for name, group in itertools.groupby(edges, key=lambda e: e[0]):
                n = len(list(group))
                spans.append((name, SYMBOLIC_LIB[name].torch_fn, start, start + n))
                start += n
            ii = torch.tensor([e[1] for e in edges], dtype=torch.long)
            jj = torch.tensor([e[2] for e in edges], dtype=torch.long)
            self._groups = (key, ii, jj, spans)
        return self._groups[1:]

    def invalidate(self) -> None:
        """Call after changing ``sym_funs`` or ``grid`` by hand."""
        self._groups = None
        self._inv_key = None
        self._feature_cache = []
        self._live_key = None

    # --- forward ------------------------------------------------------------------------------
    # Internally activations are laid out feature-major, ``(nodes, batch)``: the batch is the long
    # contiguous inner dimension of every elementwise op, and no transposes are needed between
    # layers. ``forward`` takes and returns the usual ``(batch, nodes)``.
    def _spec(self) -> tuple:
        return self.k, self._consts(), self.base_fun_name

    def _input_features(self, xt: torch.Tensor) -> dict:
        """Bases and base function of an input that needs no gradient — the first layer's
        training data — cached until the grid changes (with, lazily, their covariance): an
        optimiser evaluates the same batch many times, and for small models the bases dominate."""
        key = (
            xt.data_ptr(),
            tuple(xt.shape),
            xt.stride(),
            xt._version,
            self.grid.data_ptr(),
            self.grid._version,
        )
        for entry in self._feature_cache:
            if entry["key"] == key:
                return entry
        # the entry holds xt itself, so its memory (and data_ptr) cannot be reused while cached
        entry = {"key": key, "src": xt}
        xc = xt.contiguous()  # (the key is the caller's tensor: a transposed view each call)
        entry["f"] = features(xc, self._spec())[0]
        self._feature_cache = [entry, *self._feature_cache[:1]]  # train + test batch
        return entry

    def _all_symbolic(self) -> bool:
        return bool(self.sym_funs) and not bool((self.mask > self.sym_mask).any())

    def forward_t(self, xt: torch.Tensor, with_reg: bool = False):
        """``(in, batch)`` → ``(out, batch)``; with ``with_reg`` also the ``(in, out)`` edge scales:
        pykan's regularisation metric, each numeric edge's std over the batch divided by (std of
        its input + 0.1) (see ``fused.numeric_forward``)."""
        assert xt.dim() == 2 and xt.shape[0] == self.in_dim, xt.shape
        if not with_reg and self._all_symbolic():
            return self.symbolic_forward_t(xt)  # every live edge is symbolic: no splines to run
        feats = None if xt.requires_grad else self._input_features(xt)
        if feats is None or self.sym_funs:  # (cached features need no pass over xt)
            xt = xt.contiguous()  # a transposed (batch, in) input would make every pass strided
        out = numeric_edges(xt, self.packed, self._live(), self._spec(), feats, with_reg)
        if self.sym_funs:
            y = out[0] if with_reg else out
            y = y + self.symbolic_forward_t(xt)
            out = (y, out[1]) if with_reg else y
        return out

    # --- the same by hand, for the trainer (no autograd graph) ---------------------------------
    def forward_tape(self, xt: torch.Tensor, with_reg: bool, need_x_grad: bool):
        """``forward_t`` of a layer without symbolic edges, without autograd: ``(y, s or None,
        tape)`` for ``fused.numeric_backward`` (see ``network_backward``)."""
        assert not self.sym_funs, "symbolic edges train through autograd"
        feats = None if need_x_grad else self._input_features(xt)
        xt = xt if feats is not None else xt.contiguous()
        return numeric_forward(
            xt, self.packed, self._live(), self._spec(), feats, with_reg, need_x_grad
        )

    def _live(self) -> torch.Tensor | None:
        """``mask · (1 − sym_mask)``, transposed to ``(out, in)`` like ``packed``: the edges the
        spline branch carries (cached per mask state); ``None`` when that is every edge."""
        key = (
            self.mask.data_ptr(),
            self.mask._version,
            self.sym_mask.data_ptr(),
            self.sym_mask._version,
        )
        if self._live_key != key:
            live = (self.mask * (1.0 - self.sym_mask)).T.contiguous()
            self._live_cached = None if bool((live == 1).all()) else live
            self._live_key = key
        return self._live_cached

    def forward(self, x: torch.Tensor, with_reg: bool = False):
        """``(batch, in)`` → ``(batch, out)`` (and edge scales with ``with_reg``)."""
        assert x.dim() == 2 and x.shape[1] == self.in_dim, x.shape
        out = self.forward_t(x.T, with_reg)
        return (out[0].T, out[1]) if with_reg else out.T

    def _symbolic_values(self, xt: torch.Tensor, affine: torch.Tensor | None = None):
        """``(in_idx, out_idx, c·f(a·x+b)+d)`` of the unpruned symbolic edges, values ``(n, batch)``."""
        ii, jj, spans = self._sym_plan()
        p = (self.affine if affine is None else affine)[ii, jj]  # (n, 4)
        z = torch.addcmul(p[:, 1:2], xt[ii], p[:, 0:1])
        if self.y_th is not None:  # pykan's singularity_avoiding (kan_core.pykan_training)
            from .pykan_training import soften

            spans = [(name, soften(name, fn, self.y_th), a, b) for name, fn, a, b in spans]
        parts = [fn(z[a:b]) for _, fn, a, b in spans]
        f = parts[0] if len(parts) == 1 else torch.cat(parts) if parts else z
        return ii, jj, torch.addcmul(p[:, 3:4], f, p[:, 2:3])

    def symbolic_forward_t(self, xt: torch.Tensor, affine: torch.Tensor | None = None):
        """Sum of the symbolic edges' ``c·f(a·x+b)+d`` per output: ``(in, batch)`` → ``(out, batch)``."""
        ii, jj, v = self._symbolic_values(xt, affine)
        return xt.new_zeros(self.out_dim, xt.shape[1]).index_add(0, jj, v)

    # --- per-edge views (on demand) -------------------------------------------------------------
    def spline_values(self, x: torch.Tensor) -> torch.Tensor:
        """Raw splines (coefficients only): ``(batch, in)`` → ``(batch, in, out)``."""
        bases = b_spline_basis(x, self.grid, self.k, self._consts())
        return torch.einsum("bik,iok->bio", bases, self.coef)

    def numeric_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Spline + base branch of every edge, unmasked: ``(batch, in, out)``."""
        base = self.base_fun(x).unsqueeze(-1) * self.scale_base
        return base + self.spline_values(x) * self.scale_sp

    def symbolic_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Symbolic branch ``c·f(a·x+b)+d`` for unpruned symbolic edges (zeros elsewhere):
        ``(batch, in, out)``."""
        out = x.new_zeros(x.shape[0], self.in_dim, self.out_dim)
        ii, jj, v = self._symbolic_values(x.T)
        out[:, ii, jj] = v.T
        return out

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """What each edge contributes to its output node: ``(batch, in, out)``."""
        num = self.numeric_activations(x) * (1.0 - self.sym_mask)
        if self.sym_funs:
            num = num + self.symbolic_activations(x) * self.sym_mask
        return num * self.mask

    # --- grids ----------------------------------------------------------------------------------
    @torch.no_grad()
    def adaptive_grid(self, x: torch.Tensor, num: int, grid_eps: float) -> torch.Tensor:
        """Extended grid with ``num`` intervals: quantiles of ``x`` mixed with uniform by ``grid_eps``.

        An input whose samples span (almost) nothing keeps its current range.
        """
        return adaptive_grid(self.grid, self.k, x, num, grid_eps)

    @torch.no_grad()
    def refined_grid(self, x: torch.Tensor, num: int, grid_eps: float) -> torch.Tensor:
        """Grid with ``num`` intervals for ``refine``: when ``num`` is a multiple of the current
        count, each interval is split evenly, so the new spline space contains the old one and the
        function is reproduced exactly on the grid's span; otherwise adapted to ``x``."""
        k, parts = self.k, num // self.num
        lo, hi = self.grid[:, k], self.grid[:, k + self.num]
        outside = bool(((x < lo - 1e-6) | (x > hi + 1e-6)).any())
        if num % self.num or outside:
            return self.adaptive_grid(x, num, grid_eps)
        interior = self.grid[:, k : k + self.num + 1]
        frac = torch.arange(parts, dtype=interior.dtype) / parts
        steps = interior[:, :-1, None] + torch.diff(interior, dim=1)[:, :, None] * frac
        interior = torch.cat([steps.reshape(self.in_dim, -1), interior[:, -1:]], 1)
        return extend_grid_ends(interior, k)

    @torch.no_grad()
    def set_grid_preserving(self, new_grid: torch.Tensor, x: torch.Tensor) -> None:
        """Move to ``new_grid`` (any size), refitting coefficients so each spline keeps its values
        on the samples ``x`` and on a dense sweep of the new grid's interior."""
        k = self.k
        lo, hi = new_grid[:, k], new_grid[:, -k - 1]
        sweep = lo + (hi - lo) * torch.linspace(0, 1, 4 * new_grid.shape[1]).unsqueeze(1)
        pts = torch.cat([x, sweep], dim=0)
        y = self.spline_values(pts)
        coef = curve_to_coef(pts, y, new_grid, k)
        if new_grid.shape == self.grid.shape:  # in place, so optimisers keep their parameters
            self.grid.copy_(new_grid)
        else:
            self.grid = new_grid.contiguous()
        self.set_coef(coef)
        self.num = new_grid.shape[1] - 1 - 2 * k
        self.invalidate()

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        """Adapt the grid to the samples ``x`` (this layer's inputs), keeping the function."""
        self.set_grid_preserving(self.adaptive_grid(x, self.num, grid_eps), x)

    # --- structure ------------------------------------------------------------------------------
    def subset(self, in_idx: list[int], out_idx: list[int]) -> KANLayer:
        """A layer keeping only the given inputs/outputs (for shrinking a pruned model)."""
        new = KANLayer.__new__(KANLayer)
        nn.Module.__init__(new)
        new.in_dim, new.out_dim, new.num, new.k = len(in_idx), len(out_idx), self.num, self.k
        new.base_fun_name, new.base_fun = self.base_fun_name, self.base_fun
        ii, jj = torch.tensor(in_idx, dtype=torch.long), torch.tensor(out_idx, dtype=torch.long)
        new.register_buffer("grid", self.grid[ii].clone())
        for name in ("mask", "sym_mask"):
            new.register_buffer(name, getattr(self, name)[ii][:, jj].clone())
        new.packed = nn.Parameter(self.packed[jj][:, :, ii].detach().clone())  # (out, ·, in)
        pos_i = {old: n for n, old in enumerate(in_idx)}
        pos_j = {old: n for n, old in enumerate(out_idx)}
        new.sym_funs = {
            (pos_i[i], pos_j[j]): f
            for (i, j), f in self.sym_funs.items()
            if i in pos_i and j in pos_j
        }
        new.sym_r2 = {
            (pos_i[i], pos_j[j]): r
            for (i, j), r in self.sym_r2.items()
            if i in pos_i and j in pos_j
        }
        new._inv_key, new._groups, new._feature_cache, new._live_key = None, None, [], None
        new.y_th = self.y_th
        return new


# --- a stack of layers by hand (no autograd graph) -----------------------------------------------
def network_forward(
    layers, xt: torch.Tensor, with_reg: bool, need_x_grad: bool = False, layouts=None
):
    """Chain ``forward_tape`` through layers without symbolic edges: ``(y (out, batch), [edge
    scales or None per layer], [tape per layer])``; ``need_x_grad`` for the first layer's input.
    ``layouts`` (one ``NodeLayout`` per node layer) multiplies the subnodes of mult nodes."""
    scales, tapes = [], []
    for n, layer in enumerate(layers):
        xt, s, tape = layer.forward_tape(xt, with_reg, need_x_grad=n > 0 or need_x_grad)
        layout = layouts[n + 1] if layouts is not None else None
        if layout is not None and layout.has_mult:
            tape = (tape, layout, xt)
            xt = layout.combine(xt)
        scales.append(s)
        tapes.append(tape)
    return xt, scales, tapes


def network_backward(tapes: list, gy: torch.Tensor, g_scales=None):
    """``network_forward``'s gradients: ``(input gradient or None, [grad of packed per layer])``
    from that of the output and, optionally, of each layer's edge scales."""
    g_scales = g_scales or [None] * len(tapes)
    grads = [None] * len(tapes)
    for n in reversed(range(len(tapes))):
        tape = tapes[n]
        if isinstance(tape, tuple):  # the layer's output went through mult nodes
            tape, layout, sub = tape
            gy = layout.combine_backward(sub, gy)
        gy, grads[n] = numeric_backward(tape, gy, g_scales[n])
    return gy, grads


def numeric_network(x: torch.Tensor, layers, layouts) -> torch.Tensor:
    """``(batch, in)`` → ``(batch, out)`` through layers without symbolic edges as ONE autograd
    node (``network_forward`` / ``network_backward``, as the trainer uses them)."""
    return _NumericNetwork.apply(x, layers, layouts, *(layer.packed for layer in layers))


class _NumericNetwork(torch.autograd.Function):
    """A whole model without symbolic edges as one autograd node: the layers' hand-written tapes
    chained. Small models are bound by per-node overhead; this is one node instead of one per
    layer plus the transposes between them. A backward with ``create_graph=True`` (a second
    derivative follows: ``jacobian(..., create_graph=True)``, Hessians, PDE losses) redoes the
    forward pass with plain autograd operations (``plain_numeric_forward``) and differentiates
    that instead; first-order backward passes never pay for it."""

    @staticmethod
    def forward(ctx, x, layers, layouts, *packed):
        y, _, tapes = network_forward(
            layers, x.T, False, need_x_grad=ctx.needs_input_grad[0], layouts=layouts
        )
        ctx.tapes = tapes  # intermediates only: no reference cycle
        ctx.inputs = (x, layers, layouts, packed)  # inputs (for a differentiable backward)
        return y.T

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return _network_differentiable_backward(ctx, grad)
        g_x, grads = network_backward(ctx.tapes, grad.T)
        return (g_x.T if ctx.needs_input_grad[0] else None), None, None, *grads


def _network_differentiable_backward(ctx, grad) -> tuple:
    """``(g_x, None, None, *g_packed)`` that autograd can differentiate again."""
    x, layers, layouts, packed = ctx.inputs
    needs = ctx.needs_input_grad
    leaves = [x, *packed]
    wanted = [t for n, t in enumerate(leaves) if needs[n if n == 0 else n + 2]]
    with torch.enable_grad():
        xt = x.T
        for n, (layer, p) in enumerate(zip(layers, packed, strict=True)):
            xt = plain_numeric_forward(xt, p, layer._live(), layer._spec())
            xt = layouts[n + 1].combine(xt)
    grads = iter(torch.autograd.grad(xt.T, wanted, grad, create_graph=True, allow_unused=True))
    g_x = next(grads) if needs[0] else None
    return (g_x, None, None, *(next(grads) if needs[n + 3] else None for n in range(len(packed))))
