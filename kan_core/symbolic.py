"""Snapping edges to symbolic functions ``c·f(a·x + b) + d``: suggestions ranked so that a simpler
candidate that is nearly as good wins, fixing, unfixing and auto-snapping (numerics in
``fitting``; near-ties decided by refits in ``ties``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import torch

from .config import is_int, is_number
from .fitting import MIN_SAMPLES, fit_functions
from .symbolic_lib import SYMBOLIC_LIB, check_names, resolve_lib

__all__ = [
    "SymbolicFit",
    "auto_symbolic",
    "fix_symbolic",
    "fits_for_samples",
    "rank",
    "suggest_symbolic",
    "symbolic_fit",
    "unfix_symbolic",
]

COMPLEXITY_WEIGHT = 1.0  # one unit of complexity is worth a 10× smaller residual
R2_CAP = 5.0  # R² beyond 1 − 1e-5 earns nothing more: the spline itself is not that exact
POLISH_TOP = 4  # candidates per edge refined by Levenberg–Marquardt before the final ranking


@dataclass
class SymbolicFit:
    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def score(self) -> float:
        return float(_score_tensor(torch.tensor(self.r2, dtype=torch.float64), self.complexity))

    def curve(self, x: torch.Tensor) -> torch.Tensor:
        return self.c * SYMBOLIC_LIB[self.name].torch_fn(self.a * x + self.b) + self.d


def _score_tensor(r2: torch.Tensor, complexity: int) -> torch.Tensor:
    """Ranking score for R² values (tensor): capped −log10(1 − R²) minus complexity; −inf where
    the fit is undefined."""
    q = (-torch.log10((1 - r2).clamp_min(1e-12))).clamp(max=R2_CAP)
    return torch.where(torch.isfinite(r2), q - COMPLEXITY_WEIGHT * complexity, -math.inf)


def canonical(
    name: str, a: float, b: float, c: float, d: float
) -> tuple[float, float, float, float]:
    """Remove the redundancy between ``a, b`` and ``c, d`` (well-scaled for training, clean to read):
    powers get ``|a| = 1`` (``c·(a·x+b)^p = c·|a|^p·(±x + b/|a|)^p``), ``x`` gets ``a = 1, b = 0``,
    ``exp`` gets ``b = 0`` and ``log`` gets ``|a| = 1``."""
    if a == 0 or not all(map(math.isfinite, (a, b, c, d))):
        return a, b, c, d
    s, m = math.copysign(1.0, a), abs(a)
    p = SYMBOLIC_LIB[name].power
    if p is not None:
        if float(p).is_integer():
            return 1.0, b / a, c * a**p, d
        return s, b / m, c * m**p, d
    if name == "x":
        return 1.0, 0.0, c * a, c * b + d
    if name == "exp" and abs(b) < 30:
        return a, 0.0, c * math.exp(b), d
    if name == "log":
        return s, b / m, c, d + c * math.log(m)
    return a, b, c, d


def complexity_weight(weight_simple) -> float:
    """pykan's ``weight_simple`` (0 … 1: how much simplicity counts against fit quality; its
    default 0.8) as kan_core's score units per unit of complexity: 0.8 → ``COMPLEXITY_WEIGHT``,
    0 → 0 (fit quality alone), 1 → simplest first."""
    if isinstance(weight_simple, bool) or not isinstance(weight_simple, int | float):
        raise TypeError(f"weight_simple must be a number in [0, 1], got {weight_simple!r}")
    if not 0 <= weight_simple <= 1:
        raise ValueError(f"weight_simple must be in [0, 1], got {weight_simple!r}")
    if weight_simple == 1:
        return 1e6
    return COMPLEXITY_WEIGHT * (weight_simple / (1 - weight_simple)) / 4  # (0.8 / 0.2 = 4)


def rank(fits: list[SymbolicFit], weight: float = COMPLEXITY_WEIGHT) -> list[SymbolicFit]:
    """Best first: nearly-as-good simpler candidates beat marginally better complex ones
    (``weight``: score units one unit of complexity costs)."""
    usable = [f for f in fits if math.isfinite(f.r2)]

    def score(f):
        return f.score + (COMPLEXITY_WEIGHT - weight) * f.complexity

    # "0" (a constant) only leads when the edge really is flat.
    return sorted(usable, key=lambda f: (f.name == "0" and f.r2 < 0.999, -score(f)))


def _data(model, x) -> torch.Tensor:
    """The samples a fit uses (``x``, or the model's reference input), refused before anything
    changes when they cannot support one: NaN/inf, or fewer than ``MIN_SAMPLES`` distinct rows
    (with fewer, four parameters nearly interpolate every edge and R² means nothing)."""
    x = model._x(x)  # shape, dtype, finite
    n = len(torch.unique(x, dim=0))
    if n < MIN_SAMPLES:
        raise ValueError(
            f"symbolic fits need at least {MIN_SAMPLES} distinct samples, got {n} "
            f"(of {x.shape[0]} rows)"
        )
    return x


def _edge_samples(model, edges, x):
    """Inputs and numeric activations of the given edges: two ``(E, batch)`` tensors."""
    hs = model.layer_inputs(x)
    xs, ys, cache = [], [], {}
    for l, i, j in edges:
        if l not in cache:
            cache[l] = model.layers[l].numeric_activations(hs[l])
        xs.append(hs[l][:, i])
        ys.append(cache[l][:, i, j])
    return torch.stack(xs), torch.stack(ys)


def _fits_for_edges(model, edges, fns, x) -> list[list[SymbolicFit]]:
    """Grid-fit every function on every edge, polish each edge's best few, then return fits."""
    ex, ey = _edge_samples(model, edges, x)
    bad = ~(torch.isfinite(ex).all(1) & torch.isfinite(ey).all(1))
    if bool(bad.any()):
        e = edges[int(bad.nonzero()[0])]
        raise ValueError(f"edge {e}'s inputs or activations are NaN/inf on these samples")
    return fits_for_samples(ex, ey, fns)


def fits_for_samples(ex, ey, fns, polish_top: int | None = POLISH_TOP) -> list[list[SymbolicFit]]:
    """Every function fitted to every row of samples ``(E, n)``, in canonical form. Each row's
    best ``polish_top`` (by a coarse grid fit) are refined by Levenberg–Marquardt; ``None``
    refines all."""
    if polish_top is None:
        raw = fit_functions(ex, ey, fns, polish=True)
    else:
        coarse = fit_functions(ex, ey, fns, polish=False)
        scores = torch.stack([_score_tensor(coarse[f.name][4], f.complexity) for f in fns], 1)
        top = scores.topk(min(polish_top, len(fns)), dim=1).indices
        mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)
        raw = fit_functions(ex, ey, fns, polish=mask)
    out = []
    for e in range(ex.shape[0]):
        fits = []
        for fn in fns:
            a, b, c, d, r2 = (float(v[e]) for v in raw[fn.name])
            a, b, c, d = canonical(fn.name, a, b, c, d)
            fits.append(SymbolicFit(fn.name, a, b, c, d, r2, fn.complexity))
        out.append(fits)
    return out


def suggest_symbolic(model, l, i, j, lib=None, topk=5, x=None, exclude=(), weight_simple=0.8):
    """Top ``topk`` candidates for edge ``(l, i, j)``, best first (pruned edges refuse).
    ``exclude``: names (or one name) the user rejected. ``weight_simple``: pykan's, how much
    simplicity counts (``complexity_weight``)."""
    weight = complexity_weight(weight_simple)
    l, i, j = model._edge(l, i, j)
    if model.edge_state(l, i, j) == "pruned":
        raise ValueError(f"edge ({l},{i},{j}) is pruned; restore it before asking for suggestions")
    if not is_int(topk, None):
        raise TypeError(f"topk must be a whole number, got {topk!r}")
    if topk < 1:
        raise ValueError(f"topk must be at least 1, got {topk}")
    rejected = set(check_names(exclude, "exclude"))
    fits = _fits_for_edges(model, [(l, i, j)], resolve_lib(lib), _data(model, x))[0]
    return rank([f for f in fits if f.name not in rejected], weight)[:topk]


def _check_fit(fit, name: str, dtype: torch.dtype) -> None:
    """A user-supplied fit must be complete and usable in a model of ``dtype``: checked before
    the edge changes, so a refused fit leaves the model as it was."""
    if not isinstance(fit, SymbolicFit):
        raise TypeError(f"fit must be a SymbolicFit, got {type(fit).__name__}")
    if fit.name != name:
        raise ValueError(f"fit is for {fit.name!r}, not {name!r}")
    for field in ("a", "b", "c", "d", "r2"):
        v = getattr(fit, field)
        if not is_number(v):
            raise TypeError(f"fit.{field} must be a real number, got {v!r}")
    largest = torch.finfo(dtype).max
    for field in ("a", "b", "c", "d"):  # r2 may be NaN: "not known" (see symbolic_fit)
        v = getattr(fit, field)
        if not (math.isfinite(v) and abs(v) <= largest):
            raise ValueError(
                f"fit.{field} must be finite and within ±{largest:.3g} (the model's {dtype}), "
                f"got {v!r}"
            )


def _set_symbolic(model, l, i, j, fit: SymbolicFit) -> None:
    layer = model.layers[l]
    # Everything that can fail comes before the first change.
    params = torch.tensor([fit.a, fit.b, fit.c, fit.d], dtype=layer.affine.dtype)
    r2 = float(fit.r2)
    with torch.no_grad():
        layer.affine[i, j] = params
    layer.sym_mask[i, j] = 1.0
    layer.sym_funs[(i, j)] = fit.name
    layer.sym_r2[(i, j)] = r2
    layer.invalidate()


def fix_symbolic(model, l, i, j, name, x=None, fit: SymbolicFit | None = None) -> SymbolicFit:
    """Snap edge ``(l, i, j)`` to ``name``, fitting ``a, b, c, d`` (or using ``fit``'s)."""
    l, i, j = model._edge(l, i, j)
    if not isinstance(name, str) or name not in SYMBOLIC_LIB:
        raise ValueError(f"unknown symbolic function {name!r}")
    if fit is None:
        fit = _fits_for_edges(model, [(l, i, j)], [SYMBOLIC_LIB[name]], _data(model, x))[0][0]
        if not math.isfinite(fit.r2):
            raise ValueError(f"{name} is undefined (or degenerate) on edge ({l},{i},{j})'s inputs")
    else:
        _check_fit(fit, name, model.layers[l].affine.dtype)
    _set_symbolic(model, l, i, j, fit)
    return fit


def symbolic_fit(model, l, i, j) -> SymbolicFit | None:
    """The symbolic function on edge ``(l, i, j)`` with its current (trained) ``a, b, c, d`` and
    the R² it had when it was fixed; ``None`` for a numeric edge."""
    layer = model._check_edge(l, i, j)
    name = layer.sym_funs.get((i, j))
    if name is None or layer.sym_mask[i, j] == 0:
        return None
    a, b, c, d = layer.affine[i, j].detach().tolist()
    r2 = layer.sym_r2.get((i, j), float("nan"))
    return SymbolicFit(name, a, b, c, d, r2, SYMBOLIC_LIB[name].complexity)


def unfix_symbolic(model, l, i, j) -> None:
    layer = model._check_edge(l, i, j)
    layer.sym_mask[i, j] = 0.0
    layer.sym_funs.pop((i, j), None)
    layer.sym_r2.pop((i, j), None)
    layer.invalidate()


def _exclusions(model, exclude) -> tuple[set, dict]:
    """``auto_symbolic``'s ``exclude`` as (edges to leave alone, ``{edge: rejected names}``)."""
    if exclude is None:
        return set(), {}

    def edge(e):
        triple = tuple(e) if isinstance(e, Iterable) and not isinstance(e, str) else ()
        if len(triple) != 3:
            raise TypeError(f"exclude: an edge is an (l, i, j) triple, got {e!r}")
        return model._edge(*triple)

    if isinstance(exclude, Mapping):
        return set(), {edge(e): set(check_names(v, f"exclude[{e!r}]")) for e, v in exclude.items()}
    if isinstance(exclude, str) or not isinstance(exclude, Iterable):
        raise TypeError(
            f"exclude: expected {{(l, i, j): names}} or a collection of (l, i, j) edges, "
            f"got {type(exclude).__name__}"
        )
    return {edge(e) for e in exclude}, {}


def auto_symbolic(model, lib=None, r2_threshold=None, x=None, exclude=None, merge_nodes=True):
    """Snap every active (numeric, unpruned) edge to its best candidate, all edges in one batch.
    First, hidden nodes that share one job are merged (``redundant.drop_redundant_nodes``: a
    node goes, as ``prune_node``, when a refit of the rest reproduces the network; not a node
    with an excluded or symbolic edge); after snapping, near-ties are settled by refits
    (``ties.settle_ties``). Models of over ``TIE_MAX_EDGES`` edges skip both;
    ``merge_nodes=False`` keeps every node, as pykan does.

    ``r2_threshold``: only snap edges whose best candidate reaches it (``None`` = snap all).
    ``exclude``: ``{(l, i, j): names}`` the user rejected, or a collection of ``(l, i, j)``
    edges to leave numeric. Returns ``{(l, i, j): SymbolicFit}``.
    """
    if r2_threshold is not None:
        if not is_number(r2_threshold):
            raise TypeError(f"r2_threshold must be a number or None, got {r2_threshold!r}")
        if math.isnan(r2_threshold):
            raise ValueError(f"r2_threshold must not be NaN, got {r2_threshold!r}")
    if not isinstance(merge_nodes, bool):
        raise TypeError(f"merge_nodes must be True or False, got {merge_nodes!r}")
    skip, rejected = _exclusions(model, exclude)
    fns = resolve_lib(lib)
    x = _data(model, x)
    from .ties import NEAR_TIE, TIE_CANDIDATES, TIE_MAX_EDGES, network_target, settle_ties

    target = network_target(model, x)
    if merge_nodes and target is not None and model.n_edge <= TIE_MAX_EDGES:
        from .redundant import drop_redundant_nodes

        drop_redundant_nodes(model, target, keep=skip)
    edges = [e for e in model.edges() if model.edge_state(*e) == "active" and e not in skip]
    if not edges:
        return {}
    done, ties = {}, {}
    for e, fits in zip(edges, _fits_for_edges(model, edges, fns, x), strict=True):
        ranked = rank([f for f in fits if f.name not in rejected.get(e, ())])
        if not ranked:
            continue
        best = ranked[0]
        if r2_threshold is not None and best.r2 < r2_threshold:
            continue
        _set_symbolic(model, *e, best)
        done[e] = best
        near = [f for f in ranked[1:TIE_CANDIDATES] if f.score >= best.score - NEAR_TIE]
        if near:
            ties[e] = [best, *near]
    if ties and target is not None and model.n_edge <= TIE_MAX_EDGES:
        done |= settle_ties(model, ties, x, target)
    return done
