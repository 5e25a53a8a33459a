"""Lessons: what to look for in each preset, and reads computed off the session's worker on a
copy of its model.

- ``regions``: a classifier's predicted class probability on a grid over its two inputs, the
  data points and the accuracy (drawn under the data as decision regions).
- ``trace``: one input vector followed through the network: every node's value and, per edge,
  where that input lands on its curve ``(x, y)``.

The worker only hands out a copy of the model (a few ms, between steps); the computation runs on
a thread, so a read never holds an edit or a training step. If the worker is busy, the last
committed model is used instead.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from typing import Any

import torch

import kan_core
from kan_core import classification

from . import views
from .sessions import CommandError, Session

# What a lesson should watch for in each regression preset (the classification presets carry
# theirs in kan_core.classification); GET /api/presets sends it as ``look_for``.
LOOK_FOR = {
    "toy": "Train with λ above 0 and watch most hidden edges fade: only a few carry x₁ and x₂. "
    "Prune, and the curves left look like sin(πx₁), x₂² and an exp on top; snap them and the "
    "formula comes out exact.",
    "product": "A sum of one-input curves cannot multiply, so the network learns "
    "(x₁+x₂)² − (x₁−x₂)²: the first-layer edges stay straight lines and the two output edges "
    "become parabolas, one opening up and one down.",
    "sum_of_squares": "Each edge should become a parabola; Auto-symbolic snaps both to x² and "
    "the formula's test error drops to almost zero.",
    "distance": "The first layer learns x₁² and x₂², the second a square-root-like curve; it is "
    "steep near 0, so that edge may need Refine before it snaps to sqrt.",
    "damped_wave": "A product again (exp × sin): a sum network mixes both shapes in its hidden "
    "curves. Watch the test loss when you prune: too far and it jumps.",
    "four_vars": "Two pairs of inputs meet in two hidden nodes and an exp on top: prune towards "
    "the [4, 2, 1] skeleton and read the structure off the diagram before snapping.",
}

MAX_TRACE_EDGES = 4096  # a trace lists every edge: bounded like a frame the page can draw
COPY_WAIT_S = 1.0
MAX_POINTS = 400  # data points sent with the decision regions (an even subsample)
REGIONS_FRESH_S = 1.0  # while a session trains, every viewer shares one regions read a second


class RegionsCache:
    """One decision-regions computation per session state, shared by all its viewers (a class
    of 30 each asking once a second must not cost 30 computations): a result is reused for the
    same grid size while the session has neither trained nor changed since (step and event
    count), or, when only training steps passed (no edit or other event), while it is under
    ``REGIONS_FRESH_S`` old. Readers of a session queue on one lock, so simultaneous requests
    compute once."""

    def __init__(self):
        self._entries: weakref.WeakKeyDictionary[Session, tuple] = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[Session, asyncio.Lock] = weakref.WeakKeyDictionary()

    def lock(self, s: Session) -> asyncio.Lock:
        return self._locks.setdefault(s, asyncio.Lock())

    def get(self, s: Session, n: int) -> dict[str, Any] | None:
        hit = self._entries.get(s)
        if hit is None or hit[0][0] != n:
            return None
        key, at, result = hit
        now = state_key(s, n)
        # training moved on but nothing else happened (no edit, undo, event): recent is enough
        fresh = key[2] == now[2] and time.monotonic() - at < REGIONS_FRESH_S
        return result if key == now or fresh else None

    def put(self, s: Session, key: tuple, result: dict[str, Any]) -> None:
        self._entries[s] = (key, time.monotonic(), result)


def state_key(s: Session, n: int) -> tuple:
    return (n, s.step, s.hub.event_seq)


REGIONS = RegionsCache()


async def model_copy(s: Session) -> kan_core.KAN:
    """A private copy of the session's model: taken on the worker between steps, or the last
    committed model if the worker does not answer within ``COPY_WAIT_S``."""
    fut = s.submit(lambda: s.model.copy())
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), COPY_WAIT_S)
    except TimeoutError:
        fut.cancel()

    def committed() -> kan_core.KAN:
        model = kan_core.KAN.from_bytes(s.committed_bytes)
        model.set_reference_input(s.dataset["train_input"])
        return model

    return await asyncio.to_thread(committed)


def is_classifier(s: Session) -> bool:
    return s.spec.get("task") == "classification"


# --- decision regions -----------------------------------------------------------------------
def regions(model: kan_core.KAN, s: Session, n: int) -> dict[str, Any]:
    """P(class 1) on an ``n``×``n`` grid spanning the data (``p[row][col]``: row = x_2 index,
    col = x_1 index), a subsample of the training points, and train/test accuracy."""
    if not is_classifier(s):
        raise CommandError(409, "decision regions are drawn for classification sessions only")
    if s.model.width_in[0] != 2:
        raise CommandError(
            409,
            f"decision regions are drawn for two inputs; this classifier has {s.model.width_in[0]}",
        )
    ds = s.dataset
    x_all = torch.cat([ds["train_input"], ds["test_input"]])
    lo, hi = x_all.min(0).values, x_all.max(0).values
    pad = 0.05 * (hi - lo)
    axes = [torch.linspace(float(lo[k] - pad[k]), float(hi[k] + pad[k]), n) for k in range(2)]
    gx, gy = torch.meshgrid(axes[0], axes[1], indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    p1 = classification.class_probabilities(model, grid)[:, 1].reshape(n, n)
    step = max(1, math.ceil(ds["train_input"].shape[0] / MAX_POINTS))
    pts, labels = ds["train_input"][::step], ds["train_label"][::step]
    return {
        "x": views.rnd_list(axes[0]),
        "y": views.rnd_list(axes[1]),
        "p": [[round(float(v), 3) for v in row] for row in p1],
        "points": {
            "x1": views.rnd_list(pts[:, 0]),
            "x2": views.rnd_list(pts[:, 1]),
            "label": [int(v) for v in labels],
        },
        "accuracy": {
            "train": round(classification.accuracy(model, ds["train_input"], ds["train_label"]), 4),
            "test": round(classification.accuracy(model, ds["test_input"], ds["test_label"]), 4),
        },
    }


# --- trace one input ------------------------------------------------------------------------
def trace(model: kan_core.KAN, s: Session, x: list[float] | None) -> dict[str, Any]:
    """Follow one input through the network: node values per layer and each edge's ``(x, y)``
    — its input value and what it adds to its output node (0 for a pruned edge). ``ranges``:
    each input's span in the data (for sliders); no ``x`` traces the middle of that span."""
    n_edges = sum(layer.in_dim * layer.out_dim for layer in model.layers)
    if n_edges > MAX_TRACE_EDGES:
        raise CommandError(409, f"trace is drawn for networks up to {MAX_TRACE_EDGES} edges")
    data = s.dataset["train_input"]
    lo, hi = data.min(0).values.tolist(), data.max(0).values.tolist()
    n_in = model.width_in[0]
    if x is None:
        x = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    if len(x) != n_in:
        raise CommandError(
            422, f"x: give {n_in} value(s), one per input {s.variables}; got {len(x)}"
        )
    if not all(math.isfinite(v) and abs(v) <= 1e6 for v in x):
        raise CommandError(422, "x: every value must be a finite number with |x| ≤ 1e6")
    row = torch.tensor([x], dtype=torch.float32)
    with torch.no_grad():
        nodes = model.layer_inputs(row)
        acts = [layer.edge_activations(nodes[l]) for l, layer in enumerate(model.layers)]
    edges = []
    for l, act in enumerate(acts):  # act: (1, in, out)
        inputs = nodes[l][0]
        for i in range(act.shape[1]):
            for j in range(act.shape[2]):
                edges.append(
                    {
                        "l": l,
                        "i": i,
                        "j": j,
                        "x": views.rnd(inputs[i]),
                        "y": views.rnd(act[0, i, j]),
                    }
                )
    return {
        "x": [float(v) for v in x],
        "variables": list(s.variables),
        "ranges": [[views.rnd(a), views.rnd(b)] for a, b in zip(lo, hi, strict=True)],
        "nodes": [views.rnd_list(v[0]) for v in nodes],
        "edges": edges,
        "output": views.rnd_list(nodes[-1][0]),
    }
