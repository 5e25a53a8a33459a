"""Reads that must never queue behind expensive work: the formula and the committed snapshot.

The formula of a fully symbolic model is a sympy simplification that can take seconds. It used to
run on the session's worker, so a viewer's read (the page asks after every edit) held the owner's
next edit for as long. Now the worker only hands out a copy of the model (a few ms), and the
formula is computed on :class:`Reads`' own small thread pool, cached by a key of what the formula
depends on. At most one computation per session is in flight; readers that come meanwhile wait
for it instead of starting another, and a reader that gives up leaves its result in the cache.

``committed_view`` builds the edges and nodes of the last committed model (its bytes, not the
live model), for a snapshot whose worker is busy: reads show what was committed, never nothing.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

import kan_core

from . import views
from .config import Settings
from .sessions import Session

FORMULAS_KEPT = 4  # per session: undo/redo between recent states hits the cache
COPY_WAIT_S = 1.0  # how long a read waits for the worker's copy before using committed bytes


def formula_key(model: kan_core.KAN, variables: list[str]) -> tuple:
    """What the formula depends on: structure, symbolic functions and their parameters (and, once
    complete, nothing else). Spline weights only matter through placeholders, which don't show
    them, so a session that trains without symbolic edges keeps the same key."""
    parts: list = [tuple(variables)]
    for layer in model.layers:
        parts += [
            layer.mask.numpy().tobytes(),
            layer.sym_mask.numpy().tobytes(),
            tuple(sorted(layer.sym_funs.items())),
        ]
        sym = layer.sym_mask > 0
        parts.append(layer.affine.detach()[sym].numpy().tobytes())
    return tuple(parts)


def compute_formula(model: kan_core.KAN, dataset: dict, variables: list[str]) -> dict[str, Any]:
    """The formula response; the contract is 200 always, so a failure becomes a message."""
    try:
        return views.formula(model, dataset, variables)
    except Exception as exc:
        return _no_formula(variables, f"no formula yet: {type(exc).__name__}: {exc}")


def _no_formula(variables: list[str], message: str) -> dict[str, Any]:
    return {
        "complete": False,
        "placeholders": True,
        "variables": variables,
        "outputs": [],
        "python": None,
        "formula_rmse": None,
        "network_rmse": None,
        "message": message,
    }


class _Slot:
    """One session's formula: the last result and the computation in flight (if any)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done: dict[tuple, dict] = {}  # key -> response, the last few states
        self.running: tuple[tuple, Future] | None = None

    def cached(self, key: tuple) -> dict | None:
        with self.lock:
            return self.done.get(key)


class Reads:
    """Owns the pool that computes formulas; created in the app's lifespan."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool = ThreadPoolExecutor(
            max_workers=settings.formula_threads,
            thread_name_prefix="kan-formula",
            initializer=_set_threads,
            initargs=(settings.torch_threads,),
        )
        self._slots: weakref.WeakKeyDictionary[Session, _Slot] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Queued computations are dropped; one already running finishes in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _slot(self, s: Session) -> _Slot:
        with self._lock:
            return self._slots.setdefault(s, _Slot())

    async def formula(self, s: Session) -> dict[str, Any]:
        slot = self._slot(s)
        key, model = await self._model_for_formula(s, slot, copy=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.formula_wait_s
        while True:
            hit = slot.cached(key)
            if hit is not None:
                return hit
            if model is None:  # the hit seen on the worker was replaced meanwhile
                key, model = await self._model_for_formula(s, slot, copy=True)
            fut, same = self._start(s, slot, key, model)
            try:
                await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(fut)), max(deadline - loop.time(), 0.0)
                )
            except TimeoutError:
                msg = "the formula is still being simplified; ask again in a moment"
                return _no_formula(s.variables, msg)
            if same:
                return fut.result()
            # Another state's computation was in flight; ours starts now that it is done.

    async def _model_for_formula(self, s: Session, slot: _Slot, copy: bool) -> tuple[tuple, Any]:
        """(key, model copy or None on a cache hit), taken between steps on the worker; if the
        worker is busy, from the committed model bytes instead (never waits on a long edit)."""

        def take(s: Session):
            key = formula_key(s.model, s.variables)
            hit = not copy and slot.cached(key) is not None
            return key, (None if hit else s.model.copy())

        fut = s.submit(take, s)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), COPY_WAIT_S)
        except TimeoutError:
            fut.cancel()
        model = await asyncio.to_thread(_committed_model, s)
        return formula_key(model, s.variables), model

    def _start(self, s: Session, slot: _Slot, key: tuple, model) -> tuple[Future, bool]:
        """The computation to wait for, and whether it is for ``key``; starts ours if none."""
        with slot.lock:
            if slot.running is not None:
                running_key, fut = slot.running
                return fut, running_key == key
            fut = self._pool.submit(compute_formula, model, s.dataset, list(s.variables))
            slot.running = (key, fut)

        def finished(f: Future) -> None:
            with slot.lock:
                slot.running = None
                if not f.cancelled() and f.exception() is None:
                    slot.done[key] = f.result()
                    while len(slot.done) > FORMULAS_KEPT:  # dicts keep insertion order
                        del slot.done[next(iter(slot.done))]

        fut.add_done_callback(finished)
        return fut, True


def _set_threads(n: int) -> None:
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _committed_model(s: Session) -> kan_core.KAN:
    model = kan_core.KAN.from_bytes(s.committed_bytes)
    model.set_reference_input(s.dataset["train_input"])
    return model


def committed_view(s: Session) -> dict[str, Any]:
    """Edges, nodes and shape of the last committed model (any thread; cached per commit)."""
    good = s.committed_bytes
    hit = s.committed_view
    if hit is not None and hit[0] is good:
        return hit[1]
    model = _committed_model(s)
    with torch.no_grad():
        edge_scores, node_scores = model.edge_scores(), model.node_scores()
    edges = views.edges(model, s.settings.curve_samples, dict(s.fits), edge_scores)
    view = {
        "edges": edges,
        "nodes": views.nodes(model, s.variables, s.target, edges, node_scores),
        "width": list(model.width),
        "grid": int(model.config.grid),
        "k": int(model.config.k),
    }
    s.committed_view = (good, view)
    return view
