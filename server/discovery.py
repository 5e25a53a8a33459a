"""Discover on a session: ``kan_core.discover`` in a background thread, its front streamed as
it grows, and "use this formula" as one undoable edit.

The search runs beside the session's worker, not on it, so edits and reads never queue behind
it; it reads the session's dataset (never changed in place) and builds its own models. A new
start cancels a running one (at its next candidate). The front's models stay in memory only;
applying one copies it into the session through the normal edit path (stored, undoable).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sympy

import kan_core
from kan_core.printers import fast_latex

from . import commands
from .sessions import CommandError, Session

MAX_RUNNING = 2  # searches at once, server-wide: each keeps a core busy for its budget
_slots = threading.BoundedSemaphore(MAX_RUNNING)


@dataclass
class Job:
    budget_s: float
    seed: int
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    front: list[dict[str, Any]] = field(default_factory=list)  # public entries
    models: list[kan_core.KAN] = field(default_factory=list)  # same order as front
    best: int | None = None
    done: bool = False
    error: str | None = None
    thread: threading.Thread | None = None

    def stop(self, timeout: float) -> None:
        """Cancel (the search stops at its next candidate) and wait for the thread."""
        self.cancel.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def state(self) -> dict[str, Any]:
        return {
            "front": self.front,
            "best": self.best,
            "done": self.done,
            "budget_s": self.budget_s,
            "elapsed_s": round(time.monotonic() - self.started, 2),
            "error": self.error,
        }


def _public(k: int, c: dict, names: list[str]) -> dict[str, Any]:
    """A front entry as JSON: the formula in the session's variable names."""
    symbols = {sympy.Symbol(f"x_{i + 1}", real=True): sympy.Symbol(n, real=True)
               for i, n in enumerate(names)}  # fmt: skip
    expr = c["formula"].xreplace(symbols)
    return {
        "k": k,
        "formula": sympy.sstr(expr),
        "latex": fast_latex(expr),
        "mathml": kan_core.to_mathml(expr),
        "test_nrmse": float(c["test_nrmse"]),
        "complexity": int(c["complexity"]),
        "width": c["width"],
        "source": c.get("source", ""),
    }


def _run(s: Session, job: Job) -> None:
    def progress(info: dict) -> bool:
        if job.cancel.is_set():
            return False
        front = info["front"]
        job.models = [c["model"] for c in front]
        job.front = [_public(k, c, s.variables) for k, c in enumerate(front)]
        job.best = next((k for k, c in enumerate(front) if c is info["best"]), None)
        job.done = bool(info["done"])
        s.hub.publish_discover(job.state())
        return True

    try:
        kan_core.discover(
            s.dataset, budget_s=job.budget_s, seed=job.seed, progress=progress, threads=None
        )
    except Exception as exc:  # noqa: BLE001 — reported to the page, never kills the server
        job.error = f"{type(exc).__name__}: {exc}"
    job.done = True
    if not job.cancel.is_set():
        s.hub.publish_discover(job.state())


def start(s: Session, budget_s: float, seed: int) -> dict[str, Any]:
    label = s.dataset["train_label"]
    if label.dim() != 2 or label.shape[1] != 1:  # class-index labels are 1-D
        raise CommandError(409, "Discover needs a session with one numeric output (not classes)")
    old: Job | None = getattr(s, "discovery", None)
    if old is not None:
        old.cancel.set()
    if not _slots.acquire(blocking=False):
        raise CommandError(
            429, f"{MAX_RUNNING} Discover searches are running on this server; try again soon"
        )
    job = Job(float(budget_s), int(seed))
    s.discovery = job
    s.hub.publish_discover(job.state())

    def run():
        try:
            _run(s, job)
        finally:
            _slots.release()

    job.thread = threading.Thread(target=run, name=f"discover-{s.id}", daemon=True)
    job.thread.start()
    return job.state()


def state(s: Session) -> dict[str, Any]:
    job: Job | None = getattr(s, "discovery", None)
    if job is None:
        return {
            "front": [],
            "best": None,
            "done": True,
            "budget_s": 0,
            "elapsed_s": 0,
            "error": None,
        }
    return job.state()


def apply(s: Session, k: int) -> dict[str, Any]:
    """Worker command: candidate ``k``'s model becomes the session's model (one edit)."""
    job: Job | None = getattr(s, "discovery", None)
    if job is None or not (0 <= k < len(job.models)):
        n = 0 if job is None else len(job.models)
        raise CommandError(404, f"no Discover candidate {k} (the front has {n})")
    model, formula = job.models[k].copy(), job.front[k]["formula"]

    def do():
        s.set_model(model)
        s.fits.clear()
        return f"used the Discover formula {formula}", [], {"formula": formula}

    return commands.edit(s, "discover", {"k": k, "formula": formula}, do)
