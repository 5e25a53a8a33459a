"""Shared, latest-wins state that a session's worker publishes and its viewers read.

The worker writes (metrics points, recomputed edges, events) under a lock and wakes every
subscriber with ``loop.call_soon_threadsafe``. A viewer keeps a :class:`Cursor` of what it has
sent and asks :meth:`Hub.collect` for everything newer. Nothing is queued per viewer, so a slow
viewer simply skips intermediate states, and 50 viewers cost one computation, not 50.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_POINTS_PER_MESSAGE = 2000
EVENTS_KEPT = 256


@dataclass
class Cursor:
    """What one viewer has already been sent."""

    step: int = -1
    status: str = ""
    edges_version: int = 0
    event_seq: int = 0
    structure: int = 0
    discover_version: int = 0
    focus_version: int = 0
    pulse: int = 0


@dataclass
class _Edge:
    data: dict[str, Any]
    version: int
    json: str  # dumps(data), encoded once by the worker that published it


@dataclass
class Hub:
    metrics: deque = field(default_factory=lambda: deque(maxlen=2000))
    status: str = "idle"
    step: int = 0
    edges: dict[tuple[int, int, int], _Edge] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges_version: int = 0
    structure: int = 0  # bumped when the edge set itself changes: viewers get a new snapshot
    events: deque = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    event_seq: int = 0
    discover: dict[str, Any] | None = None  # the latest Discover state (latest wins)
    discover_version: int = 0
    # The owner's selection (a class follows it): {"edge": [l,i,j] | None, "node": [l,i] | None}
    focus: dict[str, Any] = field(default_factory=lambda: {"edge": None, "node": None})
    focus_version: int = 0
    # Bumped while the session trains but has not stepped for a while (waiting for a turn, a
    # command, a long step): its viewers still get the status and step every sessions.PULSE_S.
    pulse: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()
        # (from_version, to_version) -> serialised edges frame: viewers that are equally up to
        # date (the usual case) share one json.dumps of the largest frame, not one each.
        self._edges_frames: dict[tuple[int, int], str] = {}
        # (viewer's step, step, status, points kept) -> serialised metrics frame, shared the same way
        self._metrics_frames: dict[tuple[int, int, str, int], str] = {}
        self._nodes_json = "[]"
        self.metrics_at = time.monotonic()  # when the last metrics frame's content was published
        self._subscribers: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    # --- subscribers (event loop side) ----------------------------------------------------
    def subscribe(self) -> asyncio.Event:
        ev = asyncio.Event()
        with self._lock:
            self._subscribers[ev] = asyncio.get_running_loop()
        return ev

    def unsubscribe(self, ev: asyncio.Event) -> None:
        with self._lock:
            self._subscribers.pop(ev, None)

    @property
    def n_subscribers(self) -> int:
        return len(self._subscribers)

    def _wake(self) -> None:
        for ev, loop in list(self._subscribers.items()):
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed: that viewer is gone
                self._subscribers.pop(ev, None)

    # --- publishing (worker side) ---------------------------------------------------------
    def publish_status(self, status: str, step: int) -> None:
        with self._lock:
            self.status, self.step = status, step
            self.metrics_at = time.monotonic()
        self._wake()

    def publish_point(self, point: dict[str, Any]) -> None:
        with self._lock:
            self.metrics.append(point)
            self.step = point["step"]
            self.metrics_at = time.monotonic()
        self._wake()

    def publish_event(
        self, kind: str, message: str, data: dict | None = None, meta: dict | None = None
    ) -> dict:
        with self._lock:
            self.event_seq += 1
            ev = {
                "type": "event",
                "seq": self.event_seq,
                "kind": kind,
                "message": message,
                "status": self.status,
                "step": self.step,
                "data": data,
                "meta": meta,
            }
            self.events.append(ev)
        self._wake()
        return ev

    def publish_discover(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.discover = state
            self.discover_version += 1
        self._wake()

    def publish_pulse(self) -> None:
        """Nothing new, but the session is alive: viewers get a metrics frame (no points)."""
        with self._lock:
            self.pulse += 1
            self.metrics_at = time.monotonic()
        self._wake()

    def publish_focus(self, edge: list[int] | None, node: list[int] | None) -> None:
        with self._lock:
            self.focus = {"edge": edge, "node": node}
            self.focus_version += 1
        self._wake()

    def publish_edges(self, edges: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> int:
        """Store a fresh computation; returns how many edges changed visibly. Worker thread
        (the only writer): the changed edges are encoded here, once, so an edges frame for
        any viewer is a join of ready strings, not a json.dumps on the event loop."""
        old_edges = self.edges
        same_set = {(e["l"], e["i"], e["j"]) for e in edges} == set(old_edges)
        fresh = []
        for e in edges:
            key = (e["l"], e["i"], e["j"])
            old = old_edges.get(key) if same_set else None
            if old is None or _visibly_changed(old.data, e):
                fresh.append((key, e, dumps(e)))
        nodes_json = dumps(nodes)
        with self._lock:
            if not same_set:
                self.structure += 1
                self.edges = {}
            version = self.edges_version + 1
            for key, e, text in fresh:
                self.edges[key] = _Edge(e, version, text)
            self.nodes, self._nodes_json = nodes, nodes_json
            if fresh:
                self.edges_version = version
        if fresh:
            self._wake()
        return len(fresh)

    # --- reading (viewer side) ------------------------------------------------------------
    def metrics_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.metrics)

    def edge_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.edges[k].data for k in sorted(self.edges)]

    def collect(self, cur: Cursor) -> tuple[list[str], bool]:
        """JSON frames newer than ``cur`` (advancing it); True when a full snapshot is due."""
        with self._lock:
            oldest = self.events[0]["seq"] if self.events else self.event_seq + 1
            if cur.structure != self.structure or cur.event_seq < oldest - 1:
                return [], True  # edge set changed, or events were missed: resnapshot
            frames: list[str] = []
            if (
                self.step != cur.step
                or self.status != cur.status
                or self.pulse != cur.pulse
                or (self.metrics and self.metrics[-1]["step"] > cur.step)
            ):
                frames.append(self._metrics_frame(cur.step))
                cur.step, cur.status, cur.pulse = self.step, self.status, self.pulse
            if self.edges_version > cur.edges_version:
                frames.append(self._edges_frame(cur.edges_version))
                cur.edges_version = self.edges_version
            frames += [dumps(ev) for ev in self.events if ev["seq"] > cur.event_seq]
            cur.event_seq = self.event_seq
            if self.discover_version > cur.discover_version and self.discover is not None:
                frames.append(dumps({"type": "discover", **self.discover}))
                cur.discover_version = self.discover_version
            if self.focus_version > cur.focus_version:
                frames.append(dumps({"type": "focus", **self.focus}))
                cur.focus_version = self.focus_version
            return frames, False

    def _metrics_frame(self, since: int) -> str:
        """Status, step and the points after step ``since``; viewers that are equally up to
        date share one encoding (with 190 viewers, one per frame would cost the event loop)."""
        key = (since, self.step, self.status, len(self.metrics))
        frame = self._metrics_frames.get(key)
        if frame is None:
            if len(self._metrics_frames) > 16:
                self._metrics_frames.clear()
            # Steps only grow, so the new points are a suffix: walk back from the end (a full
            # scan of the history per frame would dominate).
            new = itertools.takewhile(lambda p: p["step"] > since, reversed(self.metrics))
            points = list(itertools.islice(new, MAX_POINTS_PER_MESSAGE))[::-1]
            msg = {"type": "metrics", "status": self.status, "step": self.step, "points": points}
            frame = self._metrics_frames[key] = dumps(msg)
        return frame

    def _edges_frame(self, since: int) -> str:
        key = (since, self.edges_version)
        if key not in self._edges_frames:
            if len(self._edges_frames) > 8:
                self._edges_frames.clear()
            changed = ",".join(e.json for _, e in sorted(self.edges.items()) if e.version > since)
            # what dumps({"type": "edges", "step", "edges", "nodes"}) writes, from the parts
            self._edges_frames[key] = (
                f'{{"type":"edges","step":{int(self.step)},"edges":[{changed}],'
                f'"nodes":{self._nodes_json}}}'
            )
        return self._edges_frames[key]

    def cursor_now(self) -> Cursor:
        with self._lock:
            return Cursor(
                self.step,
                self.status,
                self.edges_version,
                self.event_seq,
                self.structure,
                self.discover_version,
                self.focus_version,
                self.pulse,
            )


def _visibly_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if old["state"] != new["state"] or old["symbolic"] != new["symbolic"]:
        return True
    if abs((old["score"] or 0) - (new["score"] or 0)) > 0.02 * max(abs(old["score"] or 0), 1e-3):
        return True
    oy, ny = old["curve"]["y"], new["curve"]["y"]
    if old["curve"]["x"] != new["curve"]["x"] or len(oy) != len(ny):
        return True
    scale = max((abs(v) for v in ny if v is not None), default=0.0) + 1e-3
    return any(
        a is None or b is None or abs(a - b) > 2e-3 * scale for a, b in zip(oy, ny, strict=True)
    )


def dumps(msg: dict[str, Any]) -> str:
    """Compact JSON; NaN/inf are never sent (views round them to null)."""
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)
