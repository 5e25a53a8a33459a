"""L-BFGS with a strong-Wolfe line search, lean enough for small models.

pykan's ``LBFGS`` (``from kan import LBFGS``: torch's optimiser with a ``tolerance_ys``) — the
same signature, defaults and algorithm as ``torch.optim.LBFGS`` (itself a port of minFunc;
Nocedal & Wright, *Numerical Optimization*, algorithms 3.5, 3.6 and 7.4) — but the optimiser's
own arithmetic runs on one flat float64 NumPy vector: for a KAN of a few hundred parameters,
torch's per-parameter clones, adds and dot products cost as much as the model's forward and
backward (~0.4 ms per function evaluation here). The model's parameters are written with one
fused copy per evaluation and the gradient read with one concatenation.

State (curvature history, last direction and step) persists across ``step`` calls, as torch's.
Differences: with ``line_search_fn="strong_wolfe"``, when the line search finds no decrease along
the quasi-Newton direction (at a kink of the regulariser's L1 term, say), the step ends and the
memory is dropped: the next step starts from steepest descent. torch keeps it, so every later
step retries the same failing direction and training freezes for good
(``tests/core/test_fused.py``). pykan's ``step`` also reseeds torch's global RNG
(``torch.manual_seed(0)``); this one leaves it alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["LBFGS"]


class LBFGS(torch.optim.Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, tolerance_ys=1e-32, history_size=100, line_search_fn=None)`` —
    pykan's. ``line_search_fn``: ``"strong_wolfe"``, or ``None`` for fixed steps of ``lr``.
    A curvature pair is kept only when ``yᵀs > tolerance_ys`` (torch: 1e-10)."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        tolerance_ys: float = 1e-32,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"line_search_fn must be 'strong_wolfe' or None, got {line_search_fn!r}"
            )
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            tolerance_ys=tolerance_ys,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self.params = [p for p in self.param_groups[0]["params"] if p.requires_grad]
        self._read_settings()
        sizes = [p.numel() for p in self.params]
        dtype = self.params[0].dtype if self.params else torch.float32
        self._buf = torch.zeros(sum(sizes), dtype=dtype)  # params as one vector, for one copy
        self._views = [
            v.view_as(p) for v, p in zip(self._buf.split(sizes), self.params, strict=True)
        ]
        self._zeros = [torch.zeros_like(p) for p in self.params]
        self._s: list[np.ndarray] = []  # curvature pairs, oldest first
        self._y: list[np.ndarray] = []
        self._rho: list[float] = []
        self._d = None  # last direction, step and gradient (carried across steps, as torch)
        self._t = 0.0
        self._g_prev = None
        self._h_diag = 1.0
        self.n_iter = 0
        self.n_evals = 0

    def _read_settings(self) -> None:
        group = self.param_groups[0]
        self.lr, self.max_iter, self.max_eval = group["lr"], group["max_iter"], group["max_eval"]
        self.tolerance_grad = group["tolerance_grad"]
        self.tolerance_change = group["tolerance_change"]
        self.tolerance_ys, self.history_size = group["tolerance_ys"], group["history_size"]
        self.line_search = group["line_search_fn"] is not None

    def reset(self) -> None:
        """Forget the curvature history and the last direction (next: steepest descent)."""
        self._s, self._y, self._rho = [], [], []
        self._d, self._t, self._g_prev, self._h_diag = None, 0.0, None, 1.0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    # --- the model as a function of one flat vector -----------------------------------------
    def _get_x(self) -> np.ndarray:
        with torch.no_grad():
            torch._foreach_copy_(self._views, self.params)
        return self._buf.numpy().astype(np.float64)

    def _set_x(self, x: np.ndarray) -> None:
        with torch.no_grad():
            self._buf.copy_(torch.from_numpy(x))
            torch._foreach_copy_(self.params, self._views)

    def _evaluate(self, closure, x: np.ndarray) -> tuple[float, np.ndarray]:
        self._set_x(x)
        with torch.enable_grad():
            self._raw = loss = closure()
            loss = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
        grads = [
            p.grad if p.grad is not None else z
            for p, z in zip(self.params, self._zeros, strict=True)
        ]
        g = torch.cat([gr.reshape(-1) for gr in grads]).numpy().astype(np.float64)
        self.n_evals += 1
        return loss, g

    # --- one step: up to max_iter iterations ------------------------------------------------
    @torch.no_grad()
    def step(self, closure):
        """``closure()`` sets the gradients (e.g. zero_grad + backward) and returns the loss;
        returns what the first call of ``closure`` returned (as torch's and pykan's)."""
        self._read_settings()  # (a learning-rate scheduler may have changed them)
        x = self._get_x()
        f, g = self._evaluate(closure, x)
        first_loss = self._raw
        if np.abs(g).max(initial=0.0) <= self.tolerance_grad:
            return first_loss
        evals = 1
        for n in range(self.max_iter):
            self.n_iter += 1
            fresh = self._d is None  # steepest descent: no curvature memory to blame
            d, t = self._direction(g)
            gtd = float(g @ d)
            if gtd > -self.tolerance_change:  # not a descent direction any more
                break
            if self.line_search:
                f_new, g_new, t, k = self._line_search(closure, x, t, d, f, g, gtd)
            elif n + 1 < self.max_iter:  # a fixed step (re-evaluated unless it is the last)
                (f_new, g_new), k = self._evaluate(closure, x + t * d), 1
            else:
                f_new, g_new, k = f, g, 0
            evals += k
            if t == 0.0:  # no decrease along d (a kink of the L1 term, or rounding)
                # End the step and forget the curvature memory: the next step starts from
                # steepest descent. Keeping it (as torch's L-BFGS does) retries the same
                # direction at every later step: training stalls for good, the loss frozen.
                if not fresh:
                    self.reset()
                break
            s = t * d
            x = x + s
            self._d, self._t, self._g_prev = d, t, g
            f_old, f, g = f, f_new, g_new
            if k == 0 or evals >= self.max_eval:
                break
            if np.abs(g).max(initial=0.0) <= self.tolerance_grad:
                break
            if np.abs(s).max(initial=0.0) <= self.tolerance_change:
                break
            if abs(f - f_old) < self.tolerance_change:
                break
        self._set_x(x)  # the accepted point (the line search may have evaluated past it)
        return first_loss

    def _direction(self, g: np.ndarray) -> tuple[np.ndarray, float]:
        """Update the curvature history with the last move, then the two-loop recursion."""
        if self._d is None:  # very first iteration: steepest descent with a cautious step
            return -g, min(1.0, 1.0 / np.abs(g).sum()) * self.lr
        y = g - self._g_prev
        s = self._d * self._t
        ys = float(y @ s)
        if ys > self.tolerance_ys:
            if len(self._s) == self.history_size:
                self._s.pop(0), self._y.pop(0), self._rho.pop(0)
            self._s.append(s)
            self._y.append(y)
            self._rho.append(1.0 / ys)
            self._h_diag = ys / float(y @ y)
        q = -g
        alphas = []
        for s_i, y_i, rho in zip(
            reversed(self._s), reversed(self._y), reversed(self._rho), strict=True
        ):
            a = rho * float(s_i @ q)
            alphas.append(a)
            q -= a * y_i
        r = q * self._h_diag
        for s_i, y_i, rho, a in zip(self._s, self._y, self._rho, reversed(alphas), strict=True):
            r += s_i * (a - rho * float(y_i @ r))
        return r, self.lr

    # --- strong-Wolfe line search -----------------------------------------------------------
    def _line_search(self, closure, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tol=1e-9, max_ls=25):
        """Returns ``(f, g, t, evaluations)`` at a step satisfying the strong Wolfe conditions
        (or the best point found within ``max_ls`` evaluations)."""
        d_norm = np.abs(d).max()

        def phi(step):
            f_t, g_t = self._evaluate(closure, x + step * d)
            return _Point(step, f_t, g_t, float(g_t @ d))

        prev, cur = _Point(0.0, f, g, gtd), phi(t)
        n = 1
        # 1. bracketing: grow the step until an interval is known to contain a good one
        lo = hi = None
        while n < max_ls:
            if cur.f > f + c1 * cur.t * gtd or (n > 1 and cur.f >= prev.f):
                lo, hi = prev, cur
                break
            if abs(cur.gtd) <= -c2 * gtd:
                return cur.f, cur.g, cur.t, n
            if cur.gtd >= 0:
                lo, hi = cur, prev
                break
            nxt = _cubic_min(prev, cur, bounds=(cur.t + 0.01 * (cur.t - prev.t), cur.t * 10))
            prev, cur = cur, phi(nxt)
            n += 1
        if lo is None:  # out of evaluations while still growing
            lo, hi = (_Point(0.0, f, g, gtd), cur) if f <= cur.f else (cur, _Point(0.0, f, g, gtd))
        if hi.f < lo.f:
            lo, hi = hi, lo
        # 2. zoom: shrink [lo, hi] (lo = best so far) until the Wolfe conditions hold
        insufficient = False
        while n < max_ls:
            if abs(hi.t - lo.t) * d_norm < tol:
                break
            t_new = _cubic_min(lo, hi)
            a, b = min(lo.t, hi.t), max(lo.t, hi.t)
            eps = 0.1 * (b - a)
            if min(b - t_new, t_new - a) < eps:  # too close to an end: keep some progress
                if insufficient or t_new >= b or t_new <= a:
                    t_new = b - eps if abs(t_new - b) < abs(t_new - a) else a + eps
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            cur = phi(t_new)
            n += 1
            if cur.f > f + c1 * cur.t * gtd or cur.f >= lo.f:
                hi = cur
            else:
                if abs(cur.gtd) <= -c2 * gtd:
                    return cur.f, cur.g, cur.t, n
                if cur.gtd * (hi.t - lo.t) >= 0:
                    hi = lo
                lo = cur
            if hi.f < lo.f:
                lo, hi = hi, lo
        return lo.f, lo.g, lo.t, n


class _Point:
    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t: float, f: float, g: np.ndarray, gtd: float):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _cubic_min(p1: _Point, p2: _Point, bounds: tuple[float, float] | None = None) -> float:
    """Minimiser of the cubic through two points' values and slopes, clipped to ``bounds``
    (default: the interval between them); the interval's midpoint if the cubic has none."""
    lo, hi = bounds if bounds is not None else sorted((p1.t, p2.t))
    if p1.t == p2.t:
        return min(max(p1.t, lo), hi)
    d1 = p1.gtd + p2.gtd - 3 * (p1.f - p2.f) / (p1.t - p2.t)
    disc = d1 * d1 - p1.gtd * p2.gtd
    if disc < 0 or not math.isfinite(disc):
        return (lo + hi) / 2
    d2 = math.sqrt(disc) * (1.0 if p2.t > p1.t else -1.0)
    t = p2.t - (p2.t - p1.t) * ((p2.gtd + d2 - d1) / (p2.gtd - p1.gtd + 2 * d2))
    if not math.isfinite(t):
        return (lo + hi) / 2
    return min(max(t, lo), hi)
