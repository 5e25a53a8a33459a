"""Multiplication nodes (KAN 2.0, pykan 0.2.8's ``MultKAN`` semantics).

A node layer holds ``n_sum`` sum nodes and then mult nodes. The layer of edges before it ends in
*subnodes*: the ``n_sum`` sum nodes, then ``arity`` subnodes per mult node; a mult node's value is
the product of its subnodes (each the sum of the edges into it). So a layer of edges has
``(nodes of its input layer) × (subnodes of its output layer)`` edges, and the next layer of
edges reads the nodes. With no mult nodes, subnodes are the nodes and ``combine`` is a no-op.

pykan also has per-(sub)node affine parameters (``node_scale``, ``subnode_bias``, …); they are
fixed at the identity unless ``affine_trainable=True``, which kan_core does not offer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["NodeLayout", "layouts_of"]


@dataclass(frozen=True)
class NodeLayout:
    """One node layer: ``n_sum`` sum nodes, then one mult node per entry of ``arity``."""

    n_sum: int
    arity: tuple[int, ...] = ()

    @property
    def n_nodes(self) -> int:
        return self.n_sum + len(self.arity)

    @property
    def n_sub(self) -> int:
        return self.n_sum + sum(self.arity)

    @property
    def has_mult(self) -> bool:
        return bool(self.arity)

    def sub_to_node(self) -> list[int]:
        """The node each subnode belongs to."""
        out = list(range(self.n_sum))
        for m, a in enumerate(self.arity):
            out += [self.n_sum + m] * a
        return out

    def subnodes(self, node: int) -> list[int]:
        """The subnodes of ``node`` (one for a sum node, ``arity`` for a mult node)."""
        if node < self.n_sum:
            return [node]
        m = node - self.n_sum
        start = self.n_sum + sum(self.arity[:m])
        return list(range(start, start + self.arity[m]))

    def is_mult(self, node: int) -> bool:
        return node >= self.n_sum

    # --- values -------------------------------------------------------------------------------
    def _groups(self, xt: torch.Tensor) -> list[torch.Tensor]:
        """Each mult node's factors as ``(arity, batch)`` views of ``xt`` ``(n_sub, batch)``."""
        out, start = [], self.n_sum
        for a in self.arity:
            out.append(xt[start : start + a])
            start += a
        return out

    def combine(self, xt: torch.Tensor) -> torch.Tensor:
        """``(n_sub, batch)`` subnode values → ``(n_nodes, batch)`` node values (autograd)."""
        if not self.arity:
            return xt
        if len(set(self.arity)) == 1:  # homogeneous: one reshape and one product
            a = self.arity[0]
            prod = xt[self.n_sum :].reshape(len(self.arity), a, xt.shape[1]).prod(1)
        else:
            prod = torch.stack([g.prod(0) for g in self._groups(xt)])
        return torch.cat([xt[: self.n_sum], prod])

    def combine_backward(self, xt: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """The gradient with respect to the subnodes ``xt`` given that of the nodes ``g``: a
        factor's is the product of the others (no division: factors may be 0)."""
        if not self.arity:
            return g
        out = torch.empty_like(xt)
        out[: self.n_sum] = g[: self.n_sum]
        start = self.n_sum
        for m, factors in enumerate(self._groups(xt)):
            gm = g[self.n_sum + m]
            for k in range(factors.shape[0]):
                others = torch.cat([factors[:k], factors[k + 1 :]]).prod(0)
                out[start + k] = gm * others
            start += factors.shape[0]
        return out

    def to_dict(self) -> list:
        return [self.n_sum, list(self.arity)]


def layouts_of(width: list, mult_arity) -> list[NodeLayout]:
    """Node layouts from pykan's ``width`` (ints, or ``[n_sum, n_mult]`` pairs) and
    ``mult_arity`` (one int for every mult node, or a list per node layer of per-node ints).
    Raises ``ValueError`` naming what is wrong."""
    if not isinstance(width, list | tuple) or len(width) < 2:
        raise ValueError(f"width must list ≥ 2 layers, got {width!r}")
    out = []
    for l, w in enumerate(width):
        n_sum, n_mult = _pair(w, l)
        if isinstance(mult_arity, int) and not isinstance(mult_arity, bool):
            arity = [mult_arity] * n_mult
        elif isinstance(mult_arity, list | tuple) and len(mult_arity) == len(width):
            entry = mult_arity[l]
            arity = [entry] * n_mult if _is_int(entry) else list(entry or [])
        else:
            raise ValueError(
                f"mult_arity must be an int or a list per node layer ({len(width)}), "
                f"got {mult_arity!r}"
            )
        if len(arity) != n_mult or not all(_is_int(a) and 2 <= a <= 16 for a in arity):
            raise ValueError(
                f"layer {l}: mult_arity must give {n_mult} arities in [2, 16], got {arity!r}"
            )
        out.append(NodeLayout(n_sum, tuple(int(a) for a in arity)))
    if out[0].has_mult or out[-1].has_mult:
        raise ValueError("the input and output layers hold sum nodes only (mult nodes are hidden)")
    return out


def _pair(w, l: int) -> tuple[int, int]:
    if _is_int(w):
        if w < 1:
            raise ValueError(f"width entry {l} must be ≥ 1, got {w!r}")
        return int(w), 0
    if (
        isinstance(w, list | tuple)
        and len(w) == 2
        and all(_is_int(v) and v >= 0 for v in w)
        and w[0] + w[1] >= 1
    ):
        return int(w[0]), int(w[1])
    raise ValueError(
        f"width entry {l} must be a positive integer or [n_sum, n_mult] "
        f"(non-negative, not both 0), got {w!r}"
    )


def _is_int(v) -> bool:
    import numbers

    return isinstance(v, numbers.Integral) and not isinstance(v, bool)
