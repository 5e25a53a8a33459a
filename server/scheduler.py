"""Fair turns for training steps across sessions (a class of 30 training on 2 cores).

Every session has its own worker thread. Left alone, 30 of them each run steps as fast as they
can: the threads fight for the cores and for Python's GIL, and everything else — the event loop
that answers requests and streams frames, the edits that run on the workers between steps —
waits behind them (measured: a trivial GET took 22 s median with 31 sessions training).

So a step needs a *turn*: at most ``slots`` steps run at once (default: one less than the
cores, at least one; each worker uses one torch thread), and sessions waiting for a turn are
served first come, first served — a session that has just stepped goes to the back of the line,
so every session advances at the same pace. A turn is a short time quantum (several steps of a
small model; longer when handing turns over is slow, as on a busy box), ended early by a
command. Commands (edits, reads) need no turn: they run on their worker as soon as its current
step ends, beside the one step in flight, and a waiting worker leaves its wait to run them
without losing its place in line.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque


def default_slots() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Ticket:
    """A session's place in line. ``event`` is set when the turn is granted, or by
    :meth:`nudge` (a command arrived): the worker checks ``granted`` to tell which."""

    __slots__ = ("busy", "event", "granted", "granted_at")

    def __init__(self):
        self.event = threading.Event()
        self.granted = False
        self.granted_at = 0.0
        self.busy = False  # its worker runs a command: keep the place, grant the next one

    def nudge(self) -> None:
        self.event.set()


QUANTUM_MIN_S, QUANTUM_MAX_S = 0.02, 0.5
WAKE_FACTOR = 4.0  # a turn lasts this many times the time a turn takes to start (at least)


class StepScheduler:
    def __init__(self, slots: int | None = None):
        self.slots = slots or default_slots()
        self._lock = threading.Lock()
        self._line: deque[Ticket] = deque()
        self._running = 0
        self.wake_s = 0.0  # moving average: from a grant to its worker running

    def started(self, t: Ticket) -> float:
        """A worker begins its turn; returns when the turn should end (monotonic). A turn is
        a time quantum, not one step: handing a turn over costs a thread wake-up and the GIL
        (measured on this busy 2-core box: 30 sessions of the 15-edge toy made 3 steps each
        in a minute with one step per turn), so the quantum grows with that cost."""
        now = time.monotonic()
        wake = max(0.0, now - t.granted_at) if t.granted_at else 0.0
        self.wake_s = wake if not self.wake_s else 0.8 * self.wake_s + 0.2 * wake
        return now + min(QUANTUM_MAX_S, max(QUANTUM_MIN_S, WAKE_FACTOR * self.wake_s))

    def configure(self, slots: int) -> None:
        """Change the number of slots (0: the default); takes effect as turns end."""
        with self._lock:
            self.slots = slots or default_slots()
            self._grant_waiting()

    def enter(self, t: Ticket) -> None:
        """Queue ``t`` (granted at once when a slot is free and nobody waits)."""
        with self._lock:
            self._line.append(t)
            self._grant_waiting()

    def leave(self, t: Ticket) -> None:
        """Give the turn back (after a step), or give up a place in line (paused, stopped)."""
        with self._lock:
            if t.granted:
                t.granted = False
                self._running -= 1
            else:
                try:
                    self._line.remove(t)
                except ValueError:
                    pass
            self._grant_waiting()

    def set_busy(self, t: Ticket, busy: bool) -> None:
        """A worker runs a command (``busy``) or is done with it. A busy ticket keeps its place
        but is passed over; one granted just before is handed back and goes first again."""
        with self._lock:
            t.busy = busy
            if busy and t.granted:
                t.granted = False
                self._running -= 1
                self._line.appendleft(t)
            self._grant_waiting()

    def _grant_waiting(self) -> None:
        if self._running >= self.slots or not self._line:
            return
        for t in list(self._line):
            if self._running >= self.slots:
                break
            if t.busy:
                continue
            self._line.remove(t)
            t.granted, t.granted_at = True, time.monotonic()
            self._running += 1
            t.event.set()

    @property
    def waiting(self) -> int:
        return len(self._line)

    @property
    def running(self) -> int:
        return self._running


class EdgeBudget:
    """How often a training session recomputes its viewers' edges inside its turn. Alone, at
    every step (the stream's edges_hz caps it). When other sessions wait for a turn, the edges
    may take at most ``share`` of the session's step time (measured: on a [4, 10, 10, 1] model
    the edges and scores cost about a step, and with 30 sessions training they took a third of
    the server's GIL time, halving everyone's steps); the loss curve still moves every step."""

    def __init__(self, share: float = 0.5, decay: float = 0.8):
        self.share, self.decay = share, decay
        self.step_s = self.edges_s = 0.0  # moving averages, seconds
        self.steps_since = 0

    def stepped(self, seconds: float) -> None:
        self.step_s = seconds if not self.step_s else self._mix(self.step_s, seconds)
        self.steps_since += 1

    def published(self, seconds: float) -> None:
        self.edges_s = seconds if not self.edges_s else self._mix(self.edges_s, seconds)
        self.steps_since = 0

    def allow(self, contended: bool) -> bool:
        if not contended or not self.edges_s:
            return True
        return self.steps_since * self.step_s * self.share >= self.edges_s

    def _mix(self, old: float, new: float) -> float:
        return self.decay * old + (1 - self.decay) * new


# One per process, like torch's thread pool: the cores are shared by every app in it.
SCHEDULER = StepScheduler()
