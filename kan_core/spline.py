"""B-spline grids, bases and least-squares fits — pure tensor functions.

Conventions (shared by every function here):
- ``grid``: ``(n_in, G + 2k + 1)`` knots per input node, increasing, already extended by ``k``
  knots on each side of the ``G`` interior intervals.
- ``x``: ``(batch, n_in)``; bases: ``(batch, n_in, G + k)``.
- A spline outside its extended grid is zero (the base function carries extrapolation), as in pykan.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

__all__ = [
    "B_batch",
    "adaptive_grid",
    "basis_inverses",
    "bases_and_lower",
    "bases_differentiable",
    "basis_derivative",
    "bases_input_grad",
    "b_spline_basis",
    "b_spline_basis_t",
    "coef2curve",
    "curve2coef",
    "curve_to_coef",
    "extend_grid",
    "extend_grid_ends",
    "uniform_grid",
]


def uniform_grid(n_in: int, num: int, lo: float, hi: float, k: int, dtype=None) -> torch.Tensor:
    """Uniform extended grid ``(n_in, num + 2k + 1)`` over ``[lo, hi]`` with ``num`` intervals
    (in torch's default dtype unless ``dtype`` is given)."""
    h = (hi - lo) / num
    knots = lo + h * torch.arange(-k, num + k + 1, dtype=dtype or torch.get_default_dtype())
    return knots.expand(n_in, -1).contiguous()


def extend_grid(grid: torch.Tensor, k_extend: int = 0) -> torch.Tensor:
    """pykan's ``extend_grid``: knots ``(n_in, G + 1)`` extended by ``k_extend`` knots on each
    side, spaced by the mean knot spacing ``(t_G − t_0) / G`` (on a uniform grid, the spacing)."""
    h = (grid[:, -1:] - grid[:, :1]) / (grid.shape[1] - 1)
    steps = torch.arange(1, k_extend + 1, dtype=grid.dtype, device=grid.device)
    left = grid[:, :1] - h * steps.flip(0)
    right = grid[:, -1:] + h * steps
    return torch.cat([left, grid, right], dim=1)


def extend_grid_ends(interior: torch.Tensor, k: int) -> torch.Tensor:
    """kan_core's grids: interior knots ``(n_in, G + 1)`` extended by ``k`` knots on each side
    spaced as the end interval on that side. (pykan's ``extend_grid`` uses the mean spacing; on
    an adaptive grid the two differ. Switching the trainer's grids to pykan's changed which seeds
    of the toy recipe recover the formula, not how many: 5 of 8 either way.)"""
    h_lo = interior[:, 1:2] - interior[:, 0:1]
    h_hi = interior[:, -1:] - interior[:, -2:-1]
    steps = torch.arange(1, k + 1, dtype=interior.dtype, device=interior.device)
    left = interior[:, :1] - h_lo * steps.flip(0)
    right = interior[:, -1:] + h_hi * steps
    return torch.cat([left, interior, right], dim=1)


def adaptive_grid(
    grid: torch.Tensor, k: int, x: torch.Tensor, num: int, grid_eps: float
) -> torch.Tensor:
    """Extended grid with ``num`` intervals for samples ``x (n, n_in)``: their quantiles mixed with
    uniform knots over their range by ``grid_eps``; an input whose samples span (almost) nothing
    keeps the range of ``grid``, its current extended grid.

    NumPy (a grid update runs this for every layer: ~20 tiny operations), in the grid's dtype and
    torch's order of operations — the same bits as torch, so training trajectories are kept.
    """
    dtype = torch.empty((), dtype=grid.dtype).numpy().dtype
    xs = np.sort(x.detach().cpu().numpy().astype(dtype, copy=False), axis=0)
    n = xs.shape[0]
    ids = [int(n / num * i) for i in range(num)] + [n - 1]
    adaptive = xs[ids].T  # (in, num + 1)
    lo, hi = adaptive[:, :1], adaptive[:, -1:]
    frac = torch.linspace(0, 1, num + 1, dtype=grid.dtype).numpy()
    interior = grid_eps * (lo + (hi - lo) * frac) + (1 - grid_eps) * adaptive
    g = grid.detach().cpu().numpy()
    old_lo, old_hi = g[:, k : k + 1], g[:, -k - 1 : -k]
    flat = (hi - lo)[:, 0] < 1e-4
    interior = np.where(flat[:, None], old_lo + (old_hi - old_lo) * frac, interior)
    # Duplicate samples can make quantile knots coincide; keep them strictly increasing.
    interior = np.maximum.accumulate(interior, axis=1)
    gaps = np.maximum(np.diff(interior, axis=1), 1e-6 * (interior[:, -1:] - interior[:, :1]))
    steps = np.cumsum(gaps, 1, dtype=np.float64).astype(dtype)  # (torch sums in double too)
    interior = np.concatenate([interior[:, :1], interior[:, :1] + steps], 1)
    return extend_grid_ends(torch.from_numpy(interior).to(grid.device), k)


def basis_inverses(grid: torch.Tensor, k: int) -> dict:
    """Grid-only constants for Cox–de Boor, laid out knot-major ``(n, n_in, 1)``.

    Per level ``p = 1..k``: ``inv = 1 / (t[i+p] − t[i])`` and ``−t[i]·inv``, so that
    ``ω_i(x) = (x − t_i)/(t_{i+p} − t_i) = x·inv − t·inv`` is one fused operation. They depend only
    on the grid, so a layer computes them once per grid change (in NumPy: ~40 tiny operations,
    each a fraction of a torch op's cost). A zero-width span gets 0 (the 0/0 := 0
    convention), which keeps repeated knots finite.
    """
    g = grid.detach().cpu().numpy()  # (n_in, n_knots), in the grid's dtype: torch's bits

    def out(a):  # knot-major (n, n_in) → a (n, n_in, 1) tensor
        return torch.from_numpy(np.array(a[..., None], order="C"))  # a copy: never the grid

    levels = []
    for p in range(1, k + 1):
        span = (g[:, p:] - g[:, :-p]).T
        inv = np.divide(1, span, out=np.zeros_like(span), where=span > 0)
        levels.append((inv, -(g[:, :-p].T * inv)))
    strict = bool((g[:, 1:] > g[:, :-1]).all())
    consts = {"knots": out(g.T), "levels": [tuple(map(out, lv)) for lv in levels]}
    consts["strict"] = strict
    if levels:
        consts["k_inv"] = out(k * levels[-1][0])  # the derivative's k·inv at the top level
    # Every level's ω as ONE x·slope + offset (small inputs are bound by the number of ops). On
    # strictly increasing knots the order-1 bases are hats max(0, min(ω_i, 1 − ω_i+1)): their
    # two sides lead the stack, and Cox–de Boor starts at level 2.
    hat = k >= 2 and strict
    rows = []
    if hat:
        inv, neg_t_inv = levels[0]
        rows = [(inv[:-1], neg_t_inv[:-1]), (-inv[1:], 1 - neg_t_inv[1:])]
    rows += levels[1:] if hat else levels
    if rows:
        consts["omega"] = tuple(out(np.concatenate([r[n] for r in rows])) for n in (0, 1))
    consts["hat"] = hat
    return consts


def _bases_t(xt: torch.Tensor, k: int, consts: dict, out=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cox–de Boor in the knot-major layout: ``xt (n_in, batch)`` → ``(G + k, n_in, batch)`` (into
    ``out`` if given), and the order ``k − 1`` bases (for the derivative). The batch is the contiguous inner dimension,
    so every step is a long vectorised loop and slices over knots are contiguous blocks.

    Level ``p``: ``B_i,p = ω_i·B_i,p−1 + (1 − ω_i+1)·B_i+1,p−1``, with every level's ω from one
    multiply-add. On strictly increasing knots the order-1 bases are hats,
    ``max(0, min(ω_i, 1 − ω_i+1))``: the same values in 2 ops instead of 5. Cubic bases take 10
    ops in all (small models are bound by the number of ops).
    """
    x = xt.unsqueeze(0)
    n_knots = consts["knots"].shape[0]
    if k == 0:
        omegas = None
    else:
        slope, offset = consts["omega"]
        omegas = torch.mul(x, slope).add_(offset)  # every level's ω (see basis_inverses)
    if consts["hat"]:
        n = n_knots - 2
        bases = torch.minimum(omegas[:n], omegas[n : 2 * n]).clamp_min_(0)
        row, first = 2 * n, 2
    else:
        step = (x >= consts["knots"]).to(xt.dtype)  # (n_knots, n_in, batch)
        bases = step[:-1] - step[1:]  # order 0 on half-open intervals [t_i, t_i+1)
        row, first = 0, 1
    prev = bases
    # Eager: in place where possible (a broadcasting addcmul is ~3× a mul here, and each
    # allocation counts at these sizes). Compiled: out of place — writes into slices of the shared
    # ω buffer become whole-buffer copies there (the 64-input layer's pass took 25 % longer).
    pure = torch.compiler.is_compiling()
    for p in range(first, k + 1):
        n = n_knots - p
        omega = omegas[row : row + n]
        omega_b = omega * bases if pure else omega.mul_(bases)
        row += n
        prev = bases
        if pure:
            bases = omega_b[:-1] - omega_b[1:] + bases[1:]
        else:
            dst = out if p == k else None
            bases = torch.sub(omega_b[:-1], omega_b[1:], out=dst).add_(bases[1:])
    if out is not None and bases is not out:  # (k < 2: no level wrote into it)
        bases = out.copy_(bases)
    return bases, prev


def _bases_grad(grad: torch.Tensor, prev: torch.Tensor, k_inv: torch.Tensor) -> torch.Tensor:
    """dL/dx from dL/dB: dB_i,k/dx = k·(B_i,k−1·inv_i − B_i+1,k−1·inv_i+1). ``grad`` may cover
    only the first bases (the others get none)."""
    n = grad.shape[0] + 1
    scaled = prev[:n] * k_inv[:n]  # (n_basis + 1, n_in, batch)
    return torch.sub(scaled[:-1], scaled[1:]).mul_(grad).sum(0)


# Large inputs are memory-bound: ~15 passes over a (knots, in, batch) tensor. torch.compile fuses
# them into one kernel (3× faster at 256×1024 here) for a one-off compile of seconds per process —
# more than a small model's whole training — so it is used from about 48k input values (in × batch;
# e.g. 48 inputs at batch 1024), where it pays within a few steps. (A compiled call itself costs
# ~60 µs.) Never used where compiling fails (then eager, for good).
COMPILE_MIN_VALUES = 3 << 14
_compiled: dict = {}
_compile_lock = threading.Lock()


def _fast(name: str, n_values: int, fn, *args):
    """``fn(*args)``, through torch.compile when the input (``n_values`` = in × batch) is large
    and compiling works."""
    if n_values < COMPILE_MIN_VALUES or os.environ.get("KAN_CORE_COMPILE") == "0":
        return fn(*args)
    with _compile_lock:  # dynamo is not thread-safe while compiling; calls are serialised
        if _compiled.get(name, True) is None:
            return fn(*args)
        try:
            if name not in _compiled:  # (not setdefault: building the wrapper costs ~1 ms)
                _compiled[name] = torch.compile(fn, dynamic=True)
            return _compiled[name](*args)
        except Exception:  # noqa: BLE001 — no compiler here: stay eager
            _compiled[name] = None
            return fn(*args)


def bases_and_lower(xt: torch.Tensor, k: int, consts: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Knot-major bases ``(n_in, batch)`` → ``(G + k, n_in, batch)`` and the order ``k − 1``
    bases that their x-derivative needs (no autograd)."""
    return _fast("bases", xt.numel(), _bases_t, xt, k, consts)


def bases_input_grad(grad: torch.Tensor, prev: torch.Tensor, consts: dict) -> torch.Tensor:
    """dL/dx ``(n_in, batch)`` from dL/dB ``(G + k, n_in, batch)`` (or of only the first bases)
    and ``bases_and_lower``'s lower-order bases."""
    n_values = grad.numel() // grad.shape[0]
    return _fast("grad", n_values, _bases_grad, grad.contiguous(), prev, consts["k_inv"])


def bases_differentiable(xt: torch.Tensor, k: int, consts: dict) -> torch.Tensor:
    """The same bases as ``bases_and_lower`` ``(G + k, n_in, batch)``, differentiable to any
    order in ``xt``: each x-derivative is again one autograd node (``_BasisDerivative``), so a
    backward pass with ``create_graph=True`` (second derivatives: PDE losses, Hessians) records
    a handful of nodes instead of autograd through every Cox–de Boor step."""
    if not xt.requires_grad:
        return bases_and_lower(xt, k, consts)[0]
    return _BasisDerivative.apply(xt, k, 0, consts, {})


def basis_derivative(xt: torch.Tensor, k: int, m: int, consts: dict, orders=None) -> torch.Tensor:
    """The ``m``-th x-derivative of the order-``k`` bases, ``(G + k, n_in, batch)``, without
    autograd: the order ``k − m`` bases, then ``m`` times
    ``dB_i,q = q·(B_i,q−1 / (t_i+q − t_i) − B_i+1,q−1 / (t_i+q+1 − t_i+1))`` (zero for m > k).
    ``orders``: a dict that keeps the bases of every order for the next derivative's call."""
    if m > k:
        return xt.new_zeros(consts["knots"].shape[0] - 1 - k, *xt.shape)
    if orders is None:
        orders = {}
    if not orders:
        orders.update(enumerate(_all_orders(xt.detach(), k, consts)))
    bases = orders[k - m]
    for q in range(k - m + 1, k + 1):
        scaled = bases * consts["levels"][q - 1][0]
        bases = (scaled[:-1] - scaled[1:]) * q
    return bases


def _all_orders(xt: torch.Tensor, k: int, consts: dict) -> list[torch.Tensor]:
    """Cox–de Boor's bases of every order ``0 … k`` (plain, out of place)."""
    x = xt.unsqueeze(0)
    step = (x >= consts["knots"]).to(xt.dtype)  # (n_knots, n_in, batch)
    out = [step[:-1] - step[1:]]  # order 0 on half-open intervals [t_i, t_i+1)
    for inv, neg_t_inv in consts["levels"]:  # B_i,p = ω_i·B_i + (1 − ω_i+1)·B_i+1
        wb = (x * inv + neg_t_inv) * out[-1]
        out.append(wb[:-1] - wb[1:] + out[-1][1:])
    return out


class _BasisDerivative(torch.autograd.Function):
    """``basis_derivative(xt, k, m)`` whose gradient in ``xt`` is the next derivative (itself
    this node: differentiable to any order); the nodes of one ``xt`` share its bases."""

    @staticmethod
    def forward(ctx, xt, k, m, consts, orders):
        ctx.xt, ctx.k, ctx.m, ctx.consts, ctx.orders = xt, k, m, consts, orders  # (an input)
        return basis_derivative(xt, k, m, consts, orders)

    @staticmethod
    def backward(ctx, grad):
        if ctx.m >= ctx.k:  # piecewise constant: zero derivative almost everywhere
            return torch.zeros_like(ctx.xt), None, None, None, None
        nxt = _BasisDerivative.apply(ctx.xt, ctx.k, ctx.m + 1, ctx.consts, ctx.orders)
        return (grad * nxt).sum(0), None, None, None, None


class _BSpline(torch.autograd.Function):
    """Bases with an analytic derivative in x."""

    @staticmethod
    def forward(ctx, xt, k, consts):
        bases, prev = bases_and_lower(xt, k, consts)
        ctx.save_for_backward(prev)
        ctx.xt, ctx.k, ctx.consts = xt, k, consts  # (an input: no reference cycle)
        return bases

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():  # create_graph=True: differentiate a differentiable copy
            with torch.enable_grad():
                bases = bases_differentiable(ctx.xt, ctx.k, ctx.consts)
            (g_x,) = torch.autograd.grad(bases, ctx.xt, grad, create_graph=True)
            return g_x, None, None
        (prev,) = ctx.saved_tensors
        return bases_input_grad(grad, prev, ctx.consts), None, None


def b_spline_basis_t(xt: torch.Tensor, k: int, consts: dict) -> torch.Tensor:
    """Knot-major bases ``(n_in, batch)`` → ``(G + k, n_in, batch)``, differentiable in x."""
    if xt.requires_grad and k > 0:
        return _BSpline.apply(xt, k, consts)
    return bases_and_lower(xt, k, consts)[0]


def b_spline_basis(x: torch.Tensor, grid: torch.Tensor, k: int, consts=None) -> torch.Tensor:
    """B-spline bases of order ``k`` at ``x``: ``(batch, n_in)`` → ``(batch, n_in, G + k)``.

    Vectorised Cox–de Boor on half-open intervals ``[t_i, t_{i+1})``, differentiable in ``x``.
    """
    assert x.dim() == 2 and x.shape[1] == grid.shape[0], (x.shape, grid.shape)
    if consts is None:
        consts = basis_inverses(grid, k)
    bases = b_spline_basis_t(x.T.contiguous(), k, consts).permute(2, 1, 0)  # (strided: 3× slower)
    assert bases.shape == (x.shape[0], x.shape[1], grid.shape[1] - 1 - k), bases.shape
    return bases


def curve_to_coef(
    x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int, ridge: float = 1e-8
) -> torch.Tensor:
    """Least-squares spline coefficients: ``x (n, n_in)``, ``y (n, n_in, n_out)`` → ``(n_in, n_out, G + k)``.

    Solved by ridge-regularised normal equations in float64 with a deterministic LU solve (the
    CPU ``lstsq`` driver varies between processes; this does not), so refits are reproducible.
    The small systems are NumPy's (a grid update refits every layer).
    """
    n_in, n_out = y.shape[1], y.shape[2]
    xt = x.detach().T.double().contiguous()
    bases = bases_and_lower(xt, k, basis_inverses(grid.double(), k))[0]  # (K, n_in, n)
    b = bases.numpy().transpose(1, 0, 2)  # (n_in, K, n)
    gram = b @ b.transpose(0, 2, 1)  # (n_in, K, K)
    scale = np.maximum(np.diagonal(gram, axis1=1, axis2=2).mean(-1), 1e-12)
    eye = np.eye(gram.shape[-1])
    gram = gram + (ridge * scale)[:, None, None] * eye + 1e-12 * eye
    rhs = b @ y.detach().double().numpy().transpose(1, 0, 2)  # (n_in, K, n_out)
    coef = np.linalg.solve(gram, rhs)  # (n_in, K, n_out)
    assert coef.shape == (n_in, grid.shape[1] - 1 - k, n_out)
    return torch.from_numpy(coef.transpose(0, 2, 1).copy()).to(y.dtype)


# --- pykan's names ------------------------------------------------------------------------------
def B_batch(x: torch.Tensor, grid: torch.Tensor, k: int = 0, extend=True, device="cpu"):
    """pykan's ``B_batch``: bases of order ``k`` at ``x`` ``(batch, n_in)`` on ``grid``
    ``(n_in, knots)`` (already extended) → ``(batch, n_in, knots − 1 − k)``. A grid of one row
    serves every input (and one input column every grid row), as pykan's broadcasting does.
    ``extend`` and ``device`` are pykan's (unused there too; kan_core runs on the CPU)."""
    if x.dim() != 2 or grid.dim() != 2:
        raise ValueError(
            f"B_batch needs x (batch, n_in) and grid (n_in, knots), got "
            f"{tuple(x.shape)} and {tuple(grid.shape)}"
        )
    (n_in,) = torch.broadcast_shapes(x.shape[1:], grid.shape[:1])
    x = x.expand(-1, n_in)
    grid = grid.to(x.dtype).expand(n_in, -1).contiguous()
    return b_spline_basis(x, grid, int(k))


def coef2curve(x_eval: torch.Tensor, grid: torch.Tensor, coef: torch.Tensor, k: int, device="cpu"):
    """pykan's ``coef2curve``: ``x (batch, n_in)``, coefficients ``(n_in, n_out, K)`` → the
    splines' values ``(batch, n_in, n_out)``."""
    return torch.einsum("bik,iok->bio", B_batch(x_eval, grid, k), coef.to(x_eval.dtype))


def curve2coef(x_eval: torch.Tensor, y_eval: torch.Tensor, grid: torch.Tensor, k: int, lamb=1e-8):
    """pykan's ``curve2coef``: least-squares coefficients ``(n_in, n_out, K)`` from samples
    ``x (batch, n_in)``, ``y (batch, n_in, n_out)`` (``curve_to_coef``; ``lamb`` the ridge)."""
    return curve_to_coef(x_eval, y_eval, grid, k, ridge=lamb)
