"""Compare with an MLP: a multilayer perceptron with about the KAN's parameter count trains on the
session's data with the session's optimiser settings, as its own small job beside the worker.

- Fair to both: same data (train and test split), same loss (MSE or cross-entropy, reported as
  the KAN's is: RMSE or √cross-entropy), same optimiser (L-BFGS with the session's iterations per
  step, or Adam with its learning rate), as many steps as the KAN has had (at most MAX_STEPS).
- Cheap for the server: one thread per job with one torch thread, at most two jobs server-wide
  (like Discover), a 30 s budget, and every MLP step waits for a turn in the sessions' step
  scheduler (scheduler.py), so it counts as one more training session in the fair line and
  edits stay interactive.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch

from . import views
from .scheduler import SCHEDULER, Ticket
from .sessions import CommandError, Session, loss_function

MAX_STEPS = 500
BUDGET_S = 30.0
MAX_JOBS = 2  # server-wide
_slots = threading.BoundedSemaphore(MAX_JOBS)
_jobs: weakref.WeakKeyDictionary[Session, Job] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def kan_parameters(model) -> int:
    """Trainable numbers of the KAN's unpruned edges: per edge its grid + k spline coefficients
    and two scales (base and spline), as pykan counts an edge's parameters."""
    per_edge = int(model.config.grid) + int(model.config.k) + 2
    return sum(int((layer.mask > 0).sum()) for layer in model.layers) * per_edge


def mlp_parameters(width: list[int]) -> int:
    return sum(a * b + b for a, b in zip(width[:-1], width[1:], strict=True))


def mlp_width(n_in: int, n_out: int, hidden_layers: int, target: int) -> list[int]:
    """``[n_in, H, …, H, n_out]`` with ``hidden_layers`` layers of the H whose parameter count is
    closest to ``target``."""
    hidden_layers = max(1, hidden_layers)
    best = min(
        range(1, 2049),
        key=lambda h: abs(mlp_parameters([n_in, *[h] * hidden_layers, n_out]) - target),
    )
    return [n_in, *[best] * hidden_layers, n_out]


def build_mlp(width: list[int], seed: int) -> torch.nn.Sequential:
    """Linear layers with SiLU between them (the KAN's base function); weights drawn from an
    explicit generator (PyTorch's default bound 1/√fan_in), so a seed gives the same MLP."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for k, (a, b) in enumerate(zip(width[:-1], width[1:], strict=True)):
        lin = torch.nn.Linear(a, b)
        bound = 1.0 / a**0.5
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.uniform_(-bound, bound, generator=gen)
        layers.append(lin)
        if k < len(width) - 2:
            layers.append(torch.nn.SiLU())
    return torch.nn.Sequential(*layers)


@dataclass
class Job:
    kan_params: int
    mlp_width: list[int]
    steps: int
    opt: str
    points: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    accuracy: dict[str, float] | None = None  # a classifier's, after the last step
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)
    ticket: Ticket | None = None  # the current step's place in the scheduler's line

    def state(self) -> dict[str, Any]:
        return {
            "kan_params": self.kan_params,
            "mlp_params": mlp_parameters(self.mlp_width),
            "mlp_width": self.mlp_width,
            "steps": self.steps,
            "opt": self.opt,
            "points": list(self.points),
            "done": self.done,
            "error": self.error,
            "accuracy": self.accuracy,
        }


def state(s: Session) -> dict[str, Any] | None:
    job = _jobs.get(s)
    return job.state() if job else None


def plan(s: Session, steps: int | None) -> Job:
    """Worker thread: the job's shape from the model as it is now (nothing started)."""
    width = s.model.width_in
    target = kan_parameters(s.model)
    mw = mlp_width(width[0], width[-1], len(width) - 2, target)
    n = min(MAX_STEPS, max(1, steps if steps is not None else s.step or 50))
    return Job(kan_params=target, mlp_width=mw, steps=n, opt=s.spec["train"]["opt"])


def start(s: Session, job: Job) -> dict[str, Any]:
    """Start ``job`` for ``s`` (409 while one runs for it; 503 when the server runs MAX_JOBS)."""
    with _lock:
        old = _jobs.get(s)
        if old is not None and not old.done:
            raise CommandError(409, "an MLP comparison is already running for this session")
        if not _slots.acquire(blocking=False):
            raise CommandError(
                503, f"the server already runs {MAX_JOBS} comparisons; try again soon"
            )
        _jobs[s] = job
    train = dict(s.spec["train"])
    data = {k: s.dataset[k] for k in ("train_input", "train_label", "test_input", "test_label")}
    args = (job, data, train, int(s.spec["seed"]), s.settings.torch_threads)
    threading.Thread(target=_run, args=args, name=f"kan-mlp-{s.id}", daemon=True).start()
    return job.state()


def stop(s: Session) -> None:
    job = _jobs.get(s)
    if job is not None:
        job.stop.set()


def _turn(job: Job) -> bool:
    """Wait for a step turn from the sessions' scheduler (scheduler.py), so the MLP steps take
    their place in line with every training session's; False if stopped while waiting."""
    job.ticket = Ticket()
    SCHEDULER.enter(job.ticket)
    while not job.ticket.granted:
        if job.stop.is_set():
            SCHEDULER.leave(job.ticket)
            return False
        job.ticket.event.wait(0.2)
        job.ticket.event.clear()
    return True


def _run(job: Job, data: dict, train: dict, seed: int, threads: int) -> None:
    try:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        _train(job, data, train, seed)
    except Exception as exc:  # reported in the state, never raised into a thread's void
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        job.done = True
        _slots.release()


def _train(job: Job, data: dict, train: dict, seed: int) -> None:
    model = build_mlp(job.mlp_width, seed)
    loss_fn = loss_function(train.get("loss", "mse")) or torch.nn.MSELoss()
    x, y = data["train_input"], data["train_label"]
    if train["opt"] == "Adam":
        opt = torch.optim.Adam(model.parameters(), lr=train["lr"])
    else:  # pykan's L-BFGS settings; the session's iterations per step
        opt = torch.optim.LBFGS(
            model.parameters(),
            lr=train["lr"],
            max_iter=train.get("lbfgs_iters", 20),
            history_size=10,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-32,
            tolerance_change=1e-32,
        )

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    for step in range(1, job.steps + 1):
        if job.stop.is_set() or time.monotonic() - job.started > BUDGET_S:
            job.error = "stopped at the time budget" if not job.stop.is_set() else "stopped"
            return
        if not _turn(job):
            job.error = "stopped"
            return
        try:
            opt.step(closure)
        finally:
            SCHEDULER.leave(job.ticket)
        with torch.no_grad():
            tr = float(loss_fn(model(x), y))
            te = float(loss_fn(model(data["test_input"]), data["test_label"]))
        job.points.append(
            {"step": step, "train_loss": views.rnd(tr**0.5, 6), "test_loss": views.rnd(te**0.5, 6)}
        )
        if train.get("loss") == "cross_entropy":
            with torch.no_grad():
                job.accuracy = {
                    part: round(
                        float(
                            (model(data[f"{part}_input"]).argmax(1) == data[f"{part}_label"])
                            .float()
                            .mean()
                        ),
                        4,
                    )
                    for part in ("train", "test")
                }
