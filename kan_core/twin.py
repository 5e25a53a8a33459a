"""``Float64Twin``: symbolic edges are fine-tuned in float64, whatever the model's dtype.

Fine-tuning ``c·f(a·x + b) + d`` needs more than float32: where a fit's optimum sits at a
function's edge (``sqrt`` of a sum whose constants must cancel to 0) float32 rounding of the
hidden values swamps the loss's last digits and L-BFGS stops dead — ``sqrt(x_1² + x_2²)`` stalled at
a relative RMSE of 8e-3 and did not move in 50 more steps; in float64 it reaches 2e-4 in 10. Models
with symbolic edges are small and op-bound, so float64 costs next to nothing. So the trainer moves a
float64 copy of such a model and writes the result back (rounded) after every step.
"""

from __future__ import annotations

import torch

__all__ = ["Float64Twin", "MAX_PARAMS"]

MAX_PARAMS = 1_000_000  # (a float64 copy of anything bigger costs real memory and time)


class Float64Twin:
    """The model a trainer's optimiser moves: the model itself, or its float64 copy once a
    float32 model has symbolic edges. The copy is rebuilt whenever the model changed since the
    last write-back (an edit, a rollback, a new model): ``rebuilt`` then tells the trainer to
    start its optimiser afresh."""

    def __init__(self):
        self._copy = None
        self._key = None  # the model's tensors and versions when it last agreed with the copy
        self._data = None
        self.rebuilt = False

    def target(self, model):
        self.rebuilt = False
        if not _wanted(model):
            self.rebuilt, self._copy = self._copy is not None, None
            return model
        if self._copy is None or not _unchanged(self._key, model):
            self._copy, self.rebuilt = model.copy().double(), True
        return self._copy

    def data(self, dataset: dict) -> dict:
        """``dataset``'s floating tensors in float64 (made once)."""
        if self._data is None or self._data[0] is not dataset:
            d64 = {k: t.double() if t.is_floating_point() else t for k, t in dataset.items()}
            self._data = (dataset, d64)
        return self._data[1]

    def write_back(self, model) -> None:
        with torch.no_grad():
            for a, b in zip(_tensors(model), _tensors(self._copy), strict=True):
                a.copy_(b)
        for layer in model.layers:
            layer.invalidate()
        self._key = _state_key(model)


def _wanted(model) -> bool:
    params = list(model.parameters())
    return (
        params[0].dtype == torch.float32
        and any(layer.sym_funs for layer in model.layers)
        and sum(p.numel() for p in params) <= MAX_PARAMS
    )


def _tensors(model) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


def _state_key(model) -> list:
    """The model's tensors and their version counters: any of them replaced or written in place
    since (every edit, rollback or load does one or the other; symbolic functions come with their
    ``sym_mask``) shows in ``_unchanged``. The tensors themselves are kept, not their ids, which a
    new model's tensors could reuse."""
    return [(t, t._version) for t in _tensors(model)]


def _unchanged(key: list | None, model) -> bool:
    now = _tensors(model)
    return (
        key is not None
        and len(key) == len(now)
        and all(t is u and v == u._version for (t, v), u in zip(key, now, strict=True))
    )
