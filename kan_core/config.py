"""``KANConfig`` — a model's architecture and initialisation — its bounds, and the checks that
turn user-supplied numbers (NumPy and tensor integers included) into plain, valid ones."""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import asdict, dataclass, field

__all__ = [
    "KANConfig",
    "MAX_EDGES",
    "MAX_NODES",
    "MAX_RANGE",
    "as_index",
    "curve_samples",
    "is_int",
    "is_number",
    "is_real",
]


@dataclass
class KANConfig:
    # nodes per layer, inputs first; a hidden entry may be [n_sum, n_mult] (mult nodes, pykan)
    width: list = field(default_factory=lambda: [2, 5, 1])
    grid: int = 5  # spline intervals per edge
    k: int = 3  # spline order (3 = cubic)
    seed: int = 0  # seeds every random draw of the initialisation
    grid_range: tuple[float, float] = (-1.0, 1.0)  # initial grid span (adapted to data by fit)
    base_fun: str = "silu"  # residual base function b(x) on every edge
    grid_eps: float = 0.02  # 0 = grid at data quantiles, 1 = uniform over the data's range
    noise_scale: float = 0.3  # scale of the initial spline noise (pykan: 0.3)
    mult_arity: int | list = 2  # factors per mult node: one int, or per node layer (pykan)
    # pykan's initialisation: scale_base ~ (mu + sigma·U(-1, 1)) / sqrt(in); sparse_init keeps
    # only each node's nearest neighbours in the next layer (pykan's sparse_mask)
    scale_base_mu: float = 0.0
    scale_base_sigma: float = 1.0
    sparse_init: bool = False
    sp_trainable: bool = True  # False: training leaves every scale_sp as initialised (pykan)
    sb_trainable: bool = True  # False: the same for scale_base

    @property
    def layouts(self):
        """Each node layer's ``NodeLayout`` (sum nodes, mult nodes and their arities)."""
        from .mult import layouts_of

        return layouts_of(self.width, self.mult_arity)

    @property
    def has_mult(self) -> bool:
        return any(not is_int(w, None) for w in self.width)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> KANConfig:
        d = dict(d)
        d["width"] = [int(w) if is_int(w, None) else [int(v) for v in w] for w in d["width"]]
        d["grid_range"] = tuple(float(v) for v in d["grid_range"])
        return cls(**d)

    def validate(self) -> None:
        layouts = self.layouts  # raises ValueError naming a malformed width or mult_arity
        nodes = [n.n_nodes for n in layouts]
        edges = sum(a.n_nodes * b.n_sub for a, b in zip(layouts[:-1], layouts[1:], strict=True))
        if max(n.n_sub for n in layouts) > MAX_NODES or edges > MAX_EDGES:
            raise ValueError(
                f"width {self.width} is too large (at most {MAX_NODES} nodes per layer and "
                f"{MAX_EDGES} edges in all)"
            )
        if any(n == 0 for n in nodes):
            raise ValueError(f"every layer needs at least one node, got width {self.width}")
        if not (is_int(self.grid, 1) and self.grid <= 1000):
            raise ValueError(f"grid must be a whole number in [1, 1000], got {self.grid!r}")
        if not (is_int(self.k, 1) and self.k <= 5):
            raise ValueError(f"k must be a whole number in [1, 5], got {self.k!r}")
        if not is_int(self.seed, None):
            raise ValueError(f"seed must be a whole number, got {self.seed!r}")
        r = self.grid_range
        if not (
            isinstance(r, list | tuple)
            and len(r) == 2
            and all(is_real(v) and abs(v) <= MAX_RANGE for v in r)
            and r[1] > r[0]
        ):
            raise ValueError(
                f"grid_range must be an increasing pair of numbers within ±{MAX_RANGE:g}, got {r!r}"
            )
        if not (is_real(self.grid_eps) and 0 <= self.grid_eps <= 1):
            raise ValueError(f"grid_eps must be in [0, 1], got {self.grid_eps!r}")
        if not (is_real(self.noise_scale) and 0 <= self.noise_scale <= 10):
            raise ValueError(f"noise_scale must be in [0, 10], got {self.noise_scale!r}")
        for name in ("scale_base_mu", "scale_base_sigma"):
            v = getattr(self, name)
            if not (is_real(v) and abs(v) <= 1e6):
                raise ValueError(f"{name} must be a finite number within ±1e6, got {v!r}")
        for name in ("sparse_init", "sp_trainable", "sb_trainable"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def checked(self) -> KANConfig:
        """Validated, as plain Python numbers (NumPy integers pass the checks but cannot go
        into a file's JSON)."""
        self.validate()
        return KANConfig(
            width=[int(n) if is_int(n, None) else [int(v) for v in n] for n in self.width],
            grid=int(self.grid),
            k=int(self.k),
            seed=int(self.seed),
            grid_range=(float(self.grid_range[0]), float(self.grid_range[1])),
            base_fun=self.base_fun,
            grid_eps=float(self.grid_eps),
            noise_scale=float(self.noise_scale),
            mult_arity=(
                int(self.mult_arity)
                if is_int(self.mult_arity, None)
                else [a if is_int(a, None) else list(a) for a in self.mult_arity]
            ),
            scale_base_mu=float(self.scale_base_mu),
            scale_base_sigma=float(self.scale_base_sigma),
            sparse_init=self.sparse_init,
            sp_trainable=self.sp_trainable,
            sb_trainable=self.sb_trainable,
        )


MAX_NODES = 100_000  # per layer
MAX_EDGES = 4_000_000  # in all: ~56 M parameters (K + 6 per edge) at grid 5, k 3
MAX_RANGE = 1e6  # |grid_range| (float32 knots stay finite and distinct far beyond)


def is_int(v, least: int | None) -> bool:
    """A whole number (not a bool), at least ``least``."""
    ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
    return ok and (least is None or v >= least)


def is_number(v) -> bool:
    """A real number (not a bool), NaN and infinity included."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_real(v) -> bool:
    """A finite real number (not a bool)."""
    return is_number(v) and math.isfinite(v)


def curve_samples(n) -> int:
    """How many points to sample a curve at."""
    if not (is_int(n, 2) and n <= 100_000):
        raise ValueError(f"n must be a whole number in [2, 100000], got {n!r}")
    return int(n)


def as_index(v, what: str) -> int:
    """An index as a plain ``int`` (NumPy and 0-d integer tensors too: a ``sym_funs`` key must
    be one hashable kind, and a file's JSON cannot hold NumPy ints)."""
    if isinstance(v, bool):
        raise TypeError(f"{what} must be an integer index, got {v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what} must be an integer index, got {v!r}") from None
