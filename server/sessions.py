"""A training session: one model, one dataset, and one worker thread that owns both.

The worker runs ``Trainer.step()`` and, between steps, the commands that routes submit; so an edit
never races a step. Routes get a ``concurrent.futures.Future`` and await it off the event loop.
Results go out through the session's :class:`~server.hub.Hub` (latest-wins, shared by viewers).

Threads: each worker calls ``torch.set_num_threads(settings.torch_threads)`` (default 1) on its
own thread when it starts. PyTorch keeps this partly per thread (OpenMP) and partly process-wide
(threads started later inherit it), so every worker sets it itself rather than relying on one
call. With the default pool (one thread per core) concurrent sessions on a 2-core machine were
seen slowing each other 10-200x; with one thread each, N sessions share the cores like N processes.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import torch

import kan_core
from kan_core.plateau import PlateauDetector

from . import views
from .config import Settings
from .data import build_model
from .hub import Hub
from .scheduler import SCHEDULER, EdgeBudget, Ticket
from .schemas import TrainSettings
from .store import SessionRecord, StorageError, Store

log = logging.getLogger("kan_workbench.sessions")
_threads_set = threading.Lock()
SCORES_EVERY_S = 1.0  # edge/node scores shown while training may lag this much
# While training, every viewer hears from its session at least this often: a metrics frame
# (status, step, any new points) even while the session waits for a turn behind the others
# (30 sessions share the cores, so a session steps only every few seconds in a class), runs a
# long command or a long step. One thread for all sessions (_Pulser), not their workers.
PULSE_S = 0.4
_DEFAULTS = TrainSettings()
# settings the session applies itself (plateau auto-stop), not kan_core's TrainOptions
_SESSION_ONLY = ("stop_on_plateau", "plateau_patience", "plateau_rel_tol")


def loss_function(name: str):
    """The training loss a session's settings name: None (the MSE) or pykan's classification
    loss, cross-entropy on the last layer's logits with class-index labels."""
    return torch.nn.CrossEntropyLoss() if name == "cross_entropy" else None


def train_options(spec: dict) -> kan_core.TrainOptions:
    """kan_core's training options for a session's spec: its train settings less those the
    session applies itself (plateau auto-stop), the loss by name, the session's seed."""
    train = {k: v for k, v in spec["train"].items() if k not in _SESSION_ONLY}
    loss_fn = loss_function(train.pop("loss", "mse"))
    return kan_core.TrainOptions(**train, seed=spec["seed"], loss_fn=loss_fn)


class CommandError(Exception):
    """A refused command: ``status`` is the HTTP code routes answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _Pulser:
    """Publishes a status-only metrics frame for every training session with viewers whose
    hub has not published one for PULSE_S (a point, a status change or a pulse). Started with
    the first session; one daemon thread per process, like the step scheduler."""

    def __init__(self):
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # looks taken over the sessions (a test can wait for some to pass)

    def add(self, s: Session) -> None:
        with self._lock:
            self._sessions.add(s)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kan-pulse", daemon=True)
                self._thread.start()

    def discard(self, s: Session) -> None:
        with self._lock:
            self._sessions.discard(s)

    def _run(self) -> None:
        while True:
            period = PULSE_S
            time.sleep(min(0.05, period / 4))  # a frame at most period + 50 ms after the last
            with self._lock:
                sessions = list(self._sessions)
                self.rounds += 1
            now = time.monotonic()
            for s in sessions:
                try:
                    hub = s.hub
                    if s.status == "training" and hub.n_subscribers:
                        if now - hub.metrics_at >= period:
                            hub.publish_pulse()
                except Exception:  # this thread serves every session: it must not end
                    log.exception("session %s: pulse failed", s.id)


_PULSER = _Pulser()


class Session:
    """State of one session; every mutation happens on its worker thread."""

    def __init__(
        self,
        rec: SessionRecord,
        dataset: dict,
        model: kan_core.KAN,
        settings: Settings,
        store: Store,
    ):
        self.id, self.owner_token, self.viewer_token = rec.id, rec.owner_token, rec.viewer_token
        self.spec, self.csv, self.settings, self.store = rec.spec, rec.csv, settings, store
        self.dataset = dataset
        self.variables: list[str] = list(rec.spec["variables"])
        self.target: str = rec.spec.get("target", "y")
        self.rejects: dict[str, list[str]] = rec.rejects
        # (committed bytes, their edges/nodes/shape): what a read shows while the worker is busy
        self.committed_view: tuple[bytes, dict] | None = None
        self.fits: dict[str, dict] = rec.fits  # last fit per edge "l,i,j" (model keeps no R²)
        self.discovery = None  # the running or last Discover search (discovery.Job)
        self.step = rec.step
        self.status = "paused" if rec.step else "idle"
        self.error: str | None = None
        self.hub = Hub(
            metrics=deque(rec.metrics, maxlen=settings.metrics_history),
            status=self.status,
            step=self.step,
        )
        self.model = model
        self._good = rec.model  # bytes of the last checkpoint: what a failure rolls back to
        self._trainer: kan_core.Trainer | None = None
        self._plateau: PlateauDetector | None = None  # this run's; None: build at the next step
        self._steps_base = 0  # session step at the last reset (for the grid-update schedule)
        self._queue: queue.Queue = queue.Queue()
        self._remaining = 0
        self._stop = threading.Event()
        self._step_started: float | None = None
        self._hung = False
        self._ticket: Ticket | None = None  # this session's place in line for a step (scheduler)
        self._edge_budget = EdgeBudget()
        self._edges_due = 0.0  # monotonic time after which edges may be recomputed
        self._edges_dirty = True
        self._edges_from: bytes | None = None  # the committed bytes the hub's edges include
        self._scores: tuple[list, list] | None = None  # (edge, node) scores, cached briefly
        self._scores_at = 0.0
        self._last_ckpt = time.monotonic()
        self.unsaved: str | None = None  # why the last checkpoint could not be saved
        self.last_active = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"kan-session-{rec.id}", daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        _PULSER.add(self)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker after its current step; checkpoint an interrupted run; cancel a
        Discover search and wait for it (a thread left running in torch aborts the process
        at exit)."""
        _PULSER.discard(self)
        self.submit(self._stop_now)
        if self.discovery is not None:
            self.discovery.stop(timeout)
        self._thread.join(timeout)

    def _stop_now(self) -> None:
        if self._remaining:
            self._remaining = 0
            self._set_status("paused")
            self.checkpoint()
        self._stop.set()

    @property
    def busy(self) -> bool:
        return self._remaining > 0 or self.hub.n_subscribers > 0 or not self._queue.empty()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on the worker between steps; the future holds its result."""
        fut: Future = Future()
        self.last_active = time.monotonic()
        self._queue.put((fut, fn, args))
        ticket = self._ticket
        if ticket is not None:  # waiting for a turn to step: run this first
            ticket.nudge()
        return fut

    # --- worker loop ----------------------------------------------------------------------
    def _run(self) -> None:
        with _threads_set:  # the setter touches process-wide state too: one at a time
            if torch.get_num_threads() != self.settings.torch_threads:
                torch.set_num_threads(self.settings.torch_threads)
        while not self._stop.is_set():
            try:
                if self._remaining > 0:
                    item = self._queue.get_nowait()
                else:  # idle: sleep until a command comes (or edges are due for viewers)
                    self._leave_line()
                    due = self._edges_dirty and self.hub.n_subscribers > 0
                    item = self._queue.get(timeout=0.2 if due else None)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._execute_in_line(item)
                elif self._remaining > 0:
                    self._train_turn()
                # While training, edges are computed inside the turn; outside it only right
                # after an edit (mark_changed makes them due at once), not after a read.
                if self._remaining == 0 or (item is not None and self._edges_due == 0.0):
                    self._maybe_publish_edges()
            except Exception as exc:  # the worker must outlive any failure of its session
                log.exception("session %s: worker error", self.id)
                if self.status != "error":
                    self._fail(f"internal error: {type(exc).__name__}: {exc}", rollback=True)
                self._edges_dirty = False  # do not retry a failing computation in a loop
        self._leave_line()

    def _train_turn(self) -> None:
        """Steps when this session's turn comes (scheduler.py: fair across sessions), for one
        time quantum or until a command arrives. A command that arrives while the session waits
        ends the wait; the session keeps its place in line."""
        t = self._ticket
        if t is None:
            t = self._ticket = Ticket()
            SCHEDULER.enter(t)
        if not t.granted:
            if not self._queue.empty():
                return
            t.event.wait()
            t.event.clear()
            if not t.granted:
                return
        try:
            end = SCHEDULER.started(t)
            while True:
                t0 = time.perf_counter()
                self._train_one()
                self._edge_budget.stepped(time.perf_counter() - t0)
                if self._remaining <= 0 or not self._queue.empty() or time.monotonic() >= end:
                    break
            # The viewers' edges (as costly as a small step) within the same turn: background
            # work shares one budget, and the other cores stay free for requests and edits.
            # A command that is waiting goes first (an edit republishes the edges anyway).
            t1 = time.perf_counter()
            if self._queue.empty() and self._edge_budget.allow(contended=SCHEDULER.waiting > 0):
                if self._maybe_publish_edges():
                    self._edge_budget.published(time.perf_counter() - t1)
        finally:
            self._ticket = None
            SCHEDULER.leave(t)

    def _execute_in_line(self, item: tuple) -> None:
        """Run a command; a place in line is kept but not granted meanwhile (a turn granted
        while suggestions run for seconds would hold the slot idle)."""
        t = self._ticket
        if t is None:
            return self._execute(*item)
        SCHEDULER.set_busy(t, True)
        try:
            self._execute(*item)
        finally:
            SCHEDULER.set_busy(t, False)

    def _leave_line(self) -> None:
        t, self._ticket = self._ticket, None
        if t is not None:
            SCHEDULER.leave(t)

    def _execute(self, fut: Future, fn: Callable[..., Any], args: tuple) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except CommandError as exc:
            fut.set_exception(exc)
        except Exception as exc:  # a core error must not kill the worker
            log.exception("session %s: command %s failed", self.id, getattr(fn, "__name__", fn))
            fut.set_exception(CommandError(409, f"{type(exc).__name__}: {exc}"))

    def _train_one(self) -> None:
        self._step_started = time.monotonic()
        try:
            res, reason = self._get_trainer().step(), None
        except Exception as exc:
            log.exception("session %s: step failed", self.id)
            res, reason = None, f"training step raised {type(exc).__name__}: {exc}"
        finally:
            self._step_started = None
        if self._hung:  # the watchdog already reported it; drop whatever the step did
            self._hung = False
            self._rollback()
            return
        if res is None or not res.ok:
            self._fail(
                reason or f"training diverged: {res.message or 'NaN/inf loss'}",
                rollback=res is None,
            )
            return
        self.step += 1
        self._remaining -= 1
        self.hub.publish_point(
            {
                "step": self.step,
                "train_loss": views.rnd(res.train_loss, 6),
                "test_loss": views.rnd(res.test_loss, 6),
                "reg": views.rnd(res.reg, 6),
            }
        )
        self._edges_dirty = True
        if self._remaining == 0:
            self._set_status("paused")
            self.checkpoint()
            self.hub.publish_event("trained", f"trained to step {self.step}")
        elif self._plateaued(res):  # stops as Pause does; the event says why
            self._remaining = 0
            self._set_status("paused")
            self.checkpoint()
            msg = f"stopped: the loss stopped improving at step {self.step}"
            self.hub.publish_event("paused", msg, {"reason": "plateau"})
        elif time.monotonic() - self._last_ckpt > 10.0:
            self.checkpoint()

    def _get_trainer(self) -> kan_core.Trainer:
        if self._trainer is None:
            opts = train_options(self.spec)
            self._trainer = kan_core.Trainer(self.model, self.dataset, opts)
            # The grid-update schedule counts from the session's first step, not from the
            # last restart or edit; a reset starts it again.
            self._trainer.steps_done = self.step - self._steps_base
        return self._trainer

    def _plateaued(self, res: kan_core.StepResult) -> bool:
        """Whether this run's loss stopped improving (TrainSettings.stop_on_plateau): the
        training loss, and the penalty while λ > 0 (it may still fall as edges fade); steps
        with grid updates still scheduled are held (each update moves the loss)."""
        train, trainer = self.spec["train"], self._trainer
        if not train.get("stop_on_plateau", _DEFAULTS.stop_on_plateau) or trainer is None:
            return False
        if self._plateau is None:
            patience = train.get("plateau_patience", _DEFAULTS.plateau_patience)
            rel_tol = train.get("plateau_rel_tol", _DEFAULTS.plateau_rel_tol)
            self._plateau = PlateauDetector(patience=patience, rel_tol=rel_tol)
        o = trainer.options
        hold = o.update_grid and trainer.steps_done <= o.stop_grid_update_step
        tracked = (res.train_loss, res.reg) if o.lamb > 0 else (res.train_loss,)
        return self._plateau.update(tracked, hold=hold)

    def current_loss(self) -> dict[str, float | None]:
        """The loss of the model as it is now (after an edit, undo or reset), as training
        reports it (RMSE, or √cross-entropy for a classifier): the page's loss readout shows it,
        not the last training step's."""
        loss_fn = loss_function(self.spec["train"].get("loss", "mse"))
        out: dict[str, float | None] = {}
        with torch.no_grad():
            for part in ("train", "test"):
                x, y = self.dataset[f"{part}_input"], self.dataset[f"{part}_label"]
                pred = self.model(x)
                v = float(loss_fn(pred, y)) if loss_fn else float(torch.mean((pred - y) ** 2))
                out[part] = views.rnd(math.sqrt(v), 6) if math.isfinite(v) and v >= 0 else None
        return out

    def _maybe_publish_edges(self) -> bool:
        now = time.monotonic()
        if not self._edges_dirty or now < self._edges_due or self.hub.n_subscribers == 0:
            return False
        self.publish_edges()
        # Keep a steady cadence: frames land on step boundaries, so counting the period from
        # the previous due time (not from now) keeps the average rate at edges_hz.
        period = 1.0 / self.settings.edges_hz
        late = now - self._edges_due
        self._edges_due = (self._edges_due + period) if 0 <= late < period else now + period
        return True

    # --- state helpers (worker thread) ----------------------------------------------------
    def publish_edges(self) -> list[dict[str, Any]]:
        """Recompute every edge once; all viewers read the result from the hub."""
        now = time.monotonic()
        # Scores change slowly; while other sessions wait for a turn they may lag more.
        max_age = SCORES_EVERY_S * (5.0 if SCHEDULER.waiting else 1.0)
        if self._scores is None or now - self._scores_at > max_age:
            # Scores need a forward pass over the reference data and change slowly.
            with torch.no_grad():
                self._scores = (self.model.edge_scores(), self.model.node_scores())
            self._scores_at = now
        edge_scores, node_scores = self._scores
        edges = views.edges(self.model, self.settings.curve_samples, self.fits, edge_scores)
        nodes = views.nodes(self.model, self.variables, self.target, edges, node_scores)
        self.hub.publish_edges(edges, nodes)
        self._edges_dirty, self._edges_from = False, self._good
        return edges

    @property
    def committed_bytes(self) -> bytes:
        """The model as last committed (edit, undo, checkpoint): safe to read from any thread."""
        return self._good

    @property
    def hub_is_committed(self) -> bool:
        """Whether the hub's edges show (at least) the committed model, not an older one."""
        return self._edges_from is self._good and bool(self.hub.edges)

    def _set_status(self, status: str) -> None:
        self.status = status
        self.hub.publish_status(status, self.step)

    def checkpoint(self) -> None:
        """Save training progress (never an edit). A disk that refuses it (full, read-only)
        does not stop the session: the progress stays in memory, viewers are warned once, the
        next checkpoint tries again (the manager retries a paused one), and ``unsaved`` says
        why until one succeeds. The stored checkpoint stays the last one that was written."""
        self._good = self.model.to_bytes()
        self._last_ckpt = time.monotonic()
        try:
            self.store.save_checkpoint(self.id, self._good, self.step, list(self.hub.metrics))
        except StorageError as exc:
            if self.unsaved is None:
                log.warning("session %s: training progress not saved: %s", self.id, exc)
                why = f"training progress up to step {self.step} is not saved ({exc.why})"
                msg = f"{why}; it is kept in memory and saving is tried again"
                self.hub.publish_event("unsaved", msg, {"reason": exc.why})
            self.unsaved = exc.why
            return
        if self.unsaved is not None:
            self.unsaved = None
            self.hub.publish_event("saved", f"training progress saved again (step {self.step})")

    def set_model(self, model: kan_core.KAN) -> None:
        """Replace the model (refine, reset, undo...)."""
        model.set_reference_input(self.dataset["train_input"])
        self.model = model
        if self._trainer is not None:
            self._trainer.model = model
        self.mark_changed()

    def mark_changed(self) -> None:
        """The model changed outside a step: drop optimiser state, republish edges now."""
        if self._trainer is not None:
            self._trainer.reset_optimizer()
        self._edges_dirty, self._edges_due, self._scores = True, 0.0, None
        self._edges_from, self._plateau = None, None

    def drop_trainer(self) -> None:
        """New options take effect with a new trainer (the schedule continues)."""
        self._trainer, self._plateau = None, None

    def restart_schedule(self) -> None:
        """After a reset: grid updates run again over the next steps."""
        self._steps_base, self._trainer = self.step, None

    def _rollback(self) -> None:
        self.set_model(kan_core.KAN.from_bytes(self._good))

    def _fail(self, reason: str, rollback: bool) -> None:
        self._remaining = 0
        self.error = reason
        try:
            self._rollback() if rollback else self.checkpoint()
        except Exception:  # keep reporting the first failure, not this one
            log.exception("session %s: could not restore the last good state", self.id)
        self._set_status("error")
        self.hub.publish_event("error", reason)

    def commit(self, model_bytes: bytes) -> None:
        """``model_bytes`` is now the stored checkpoint (what a failure rolls back to)."""
        self._good = model_bytes

    def start_training(self, steps: int) -> None:
        self._remaining, self._plateau = steps, None
        self.error = None
        self._set_status("training")

    def pause(self) -> None:
        if self._remaining:
            self._remaining = 0
            self._set_status("paused")
            self.checkpoint()
            self.hub.publish_event("paused", f"paused at step {self.step}")

    # --- watchdog (event loop thread) -----------------------------------------------------
    def check_hung(self) -> bool:
        started = self._step_started
        if started is None or self._hung or self.status == "error":
            return False
        if time.monotonic() - started < self.settings.step_timeout_s:
            return False
        self._hung = True
        ticket = self._ticket
        if ticket is not None and ticket.granted:  # the others go on stepping meanwhile
            SCHEDULER.leave(ticket)
        self._remaining = 0
        self.error = f"a training step ran longer than {self.settings.step_timeout_s:g} s"
        self._set_status("error")
        self.hub.publish_event("error", self.error)
        return True

    def fresh_model(self) -> kan_core.KAN:
        return build_model(self.spec, self.dataset)
