"""The cost budget: how much work and memory a model of a given shape will take, checked before
anything is built.

Per-field limits are not enough: ``[2, 3333, 1]`` at grid 20 with 20 000 samples passes each of
them, yet one snapshot of it drove the server to 21 GB (edge scores evaluate every edge's
B-spline bases on every sample: ``samples × edges × (grid + k)`` numbers), and grid 200 on a few
hundred edges took minutes to build. So every route that builds or grows a model checks
``edges × (grid + k) × samples`` against ``Settings.max_model_cost`` first, and answers 422 in
milliseconds instead.

Widths may hold plain ints or ``[sums, mults]`` pairs (pykan's MultKAN): a layer's edges go
into its *subnodes*, and a multiplication node of arity ``m_arity`` takes that many inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["count_edges", "model_cost", "over_budget"]

Width = Sequence[int | Sequence[int]]


def _nodes_and_subnodes(entry: int | Sequence[int], mult_arity: int) -> tuple[int, int]:
    """``(nodes, subnodes)`` of one width entry: ``n`` → ``(n, n)``; ``[s, m]`` →
    ``(s + m, s + mult_arity·m)``."""
    if isinstance(entry, int):
        return entry, entry
    sums, mults = entry
    return sums + mults, sums + mult_arity * mults


def count_edges(width: Width, mult_arity: int = 2) -> int:
    """Edges of a network: between consecutive layers, every node of the first feeds every
    subnode of the next (``n_in · n_out_sub``)."""
    shape = [_nodes_and_subnodes(e, mult_arity) for e in width]
    pairs = zip(shape[:-1], shape[1:], strict=True)
    return sum(n_in * n_out_sub for (n_in, _), (_, n_out_sub) in pairs)


def model_cost(width: Width, grid: int, k: int, samples: int, mult_arity: int = 2) -> int:
    """Edge-sample units: ``edges × (grid + k) × samples`` (a B-spline edge has ``grid + k``
    basis functions, each evaluated on every sample for scores, pruning and grid updates)."""
    return count_edges(width, mult_arity) * (grid + k) * samples


def over_budget(
    width: Width, grid: int, k: int, samples: int, limit: int, mult_arity: int = 2
) -> str | None:
    """The message a 422 answers with when the model would cost more than ``limit``; else None."""
    cost = model_cost(width, grid, k, samples, mult_arity)
    if cost <= limit:
        return None
    return (
        f"this model would cost {cost:,} edge-sample units "
        f"({count_edges(width)} edges × (grid {grid} + k {k}) × {samples} samples); "
        f"the limit is {limit:,}: use fewer edges, a smaller grid or fewer samples"
    )
