"""A student's figures for the dashboard and the leaderboard, without waiting on anything.

The formula so far (complete or with ``phi_l_i_j`` placeholders), its complexity, the formula's
own test error once complete, and the live/symbolic edge counts are computed on one background
thread from the session's *committed* model bytes, and cached per committed state (an edit, an
undo, a checkpoint while training): ``card`` returns the last result at once and starts a new
computation when the session has committed since. Step, status and the network's test RMSE come
from the session's hub (published every step). So a dashboard GET of 30 students costs
microseconds per card, and formulas lag an edit by the time it takes to compute one.

Also computed there: each layer's edge states (the card's mini diagram) and, in a CSV
challenge, the errors on the held-out rows no student has (the network's every few seconds
while it trains, the complete formula's once per formula), which rank the leaderboard.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sympy
import torch

import kan_core

from .reads import formula_key
from .sessions import Session

log = logging.getLogger("kan_workbench.classes")
SYMBOLIC_EVERY_S = 10.0
HELDOUT_EVERY_S = 3.0  # a CSV challenge: the network's held-out error while it trains
FORMULA_CHARS = 4000  # a placeholder formula of a wide network is long; the card needs a glance
DIAGRAM_EDGES = 400  # the mini diagram gets each edge's state up to this many edges, else counts


@dataclass
class _Entry:
    source: bytes | None = None  # the committed bytes the result was computed from
    key: tuple | None = None
    result: dict[str, Any] = field(default_factory=dict)
    running: bool = False
    spread: float | None = None  # std of the test labels (fixed per session)
    live: dict[str, Any] = field(default_factory=dict)  # step, status, test RMSE last seen
    marker: int | None = None  # the session's event count when computed (edits are events)
    at: float = 0.0  # when computed (monotonic)
    heldout: dict | None = None  # a CSV challenge's held-out rows (test_input, test_label)


def edge_layers(model: kan_core.KAN) -> list[dict[str, Any]]:
    """Per layer: node counts, live/pruned/symbolic edge counts and (for a network of at most
    ``DIAGRAM_EDGES`` edges) each edge's state, for the dashboard's mini diagram."""
    total = sum(layer.mask.numel() for layer in model.layers)
    out = []
    for layer in model.layers:
        on = layer.mask > 0
        sym = on & (layer.sym_mask > 0)
        row = {
            "inputs": int(layer.in_dim),
            "outputs": int(layer.out_dim),
            "live": int((on & ~sym).sum()),
            "pruned": int((~on).sum()),
            "symbolic": int(sym.sum()),
            "edges": None,
        }
        if total <= DIAGRAM_EDGES:
            letters = torch.where(sym, 2, torch.where(on, 0, 1)).flatten().tolist()
            row["edges"] = "".join("lps"[c] for c in letters)
        out.append(row)
    return out


def summarise(model: kan_core.KAN, dataset: dict, variables: list[str]) -> dict[str, Any]:
    """Formula text, completeness, complexity, formula test RMSE, edge counts of ``model``."""
    layers = edge_layers(model)
    live = sum(row["live"] for row in layers)
    symbolic = sum(row["symbolic"] for row in layers)
    complete = bool(kan_core.formula_complete(model))
    exprs = kan_core.symbolic_formula(model, variables, placeholders=not complete)
    expr = exprs[0] if exprs else sympy.Integer(0)
    text = str(expr) if complete else sympy.sstr(expr, order="none")
    out = {
        "formula": text if len(text) <= FORMULA_CHARS else text[: FORMULA_CHARS - 1] + "…",
        "complete": complete,
        "complexity": int(kan_core.complexity(expr)),
        "formula_rmse": None,
        "live_edges": live,
        "symbolic_edges": symbolic,
        "layers": layers,
    }
    if complete:
        rmse = kan_core.formula_fidelity(model, dataset, variables)["formula_rmse"]
        out["formula_rmse"] = rmse if rmse is not None and math.isfinite(rmse) else None
    return out


def live_figures(status: str, step: int, metrics) -> dict[str, Any]:
    last = metrics[-1] if metrics else None
    return {
        "status": status,
        "step": step,
        "test_rmse": None if last is None else last.get("test_loss"),
    }


def network_rmse(model: kan_core.KAN, rows: dict) -> float | None:
    """The network's RMSE on ``rows`` (test_input, test_label); None when not finite."""
    with torch.no_grad():
        err = float(torch.sqrt(torch.mean((model(rows["test_input"]) - rows["test_label"]) ** 2)))
    return err if math.isfinite(err) else None


def formula_rmse(model: kan_core.KAN, rows: dict, variables) -> float | None:
    """The complete formula's RMSE on ``rows``; None when not finite."""
    rmse = kan_core.formula_fidelity(model, rows, list(variables))["formula_rmse"]
    return rmse if rmse is not None and math.isfinite(rmse) else None


class Figures:
    """Owns the background thread; one per app (created with the class registry)."""

    def __init__(self, threads: int = 1):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kan-class-figures")
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _entry(self, sid: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(sid, _Entry())

    def card(self, s: Session | None, sid: str, heldout: dict | None = None) -> dict[str, Any]:
        """The student's figures now (never blocks); ``s`` None: the session is not loaded.
        ``heldout``: rows the student never saw (a CSV challenge), ranked on instead of the
        session's own test rows."""
        e = self._entry(sid)
        if heldout is not None and e.heldout is None:
            e.heldout = heldout
            e.spread = float(heldout["test_label"].double().std())
        if s is not None:
            if e.spread is None:
                e.spread = float(s.dataset["test_label"].double().std())
            e.live = live_figures(s.status, s.step, s.hub.metrics)
            self._refresh(s, e)
        return {**e.result, **e.live}

    def forget(self, session_ids: list[str]) -> None:
        """Drop the figures of sessions no class shows any more."""
        with self._lock:
            for sid in session_ids:
                self._entries.pop(sid, None)

    def seed(self, sid: str, status: str, step: int, metrics) -> None:
        """Figures of a session known before it is loaded (a fork: its source's)."""
        self._entry(sid).live = live_figures(status, step, metrics)

    def nrmse(self, card: dict[str, Any], sid: str) -> float | None:
        """The formula's test NRMSE once complete, else the network's (None: no figure yet);
        on the held-out rows when there are some."""
        e = self._entry(sid)
        spread = e.spread
        if e.heldout is not None:
            done = card.get("complete")
            rmse = card.get("heldout_formula_rmse") if done else card.get("heldout_rmse")
        else:
            rmse = card.get("formula_rmse") if card.get("complete") else card.get("test_rmse")
        if rmse is None or not spread or not math.isfinite(rmse):
            return None
        return round(rmse / spread, 6)

    def _refresh(self, s: Session, e: _Entry) -> None:
        """Recompute after an edit; while training (checkpoints every few seconds) only when
        symbolic edges are training too, and at most every ``SYMBOLIC_EVERY_S``: a formula
        of placeholders does not change with spline weights (measured: recomputing after every
        checkpoint of 30 training sessions took a tenth of the server's time)."""
        blob, marker, now = s.committed_bytes, s.hub.event_seq, time.monotonic()
        with self._lock:
            if e.running or e.source is blob:
                return
            if e.marker == marker and e.result:
                held = e.heldout is not None  # the network's held-out error moves with training
                due = HELDOUT_EVERY_S if held else SYMBOLIC_EVERY_S
                if now - e.at < due or not (held or e.result.get("symbolic_edges")):
                    return
            e.running, e.marker, e.at = True, marker, now
        self._pool.submit(self._compute, s, e, blob)

    def _compute(self, s: Session, e: _Entry, blob: bytes) -> None:
        try:
            if torch.get_num_threads() != s.settings.torch_threads:
                torch.set_num_threads(s.settings.torch_threads)
            model = kan_core.KAN.from_bytes(blob)
            model.set_reference_input(s.dataset["train_input"])
            key = formula_key(model, s.variables)
            result = e.result if key == e.key and e.result else None
            if result is None:
                result = summarise(model, s.dataset, list(s.variables))
                if e.heldout is not None and result["complete"]:
                    result["heldout_formula_rmse"] = formula_rmse(model, e.heldout, s.variables)
            if e.heldout is not None:
                result = {**result, "heldout_rmse": network_rmse(model, e.heldout)}
            e.result, e.key, e.source = result, key, blob
        except Exception:  # a card without a formula beats a dashboard that fails
            log.exception("session %s: class figures failed", s.id)
            e.source = blob  # not retried until the session commits again
        finally:
            e.running = False
