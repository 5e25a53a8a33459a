"""The session snapshot: ``GET /api/sessions/{id}`` and the stream's first frame.

``fresh`` runs on the session's worker (recomputes every edge); ``cached`` may run anywhere and
shows the last committed state: the hub's last computation when it includes the last commit,
else the edges of the committed model bytes (reads.committed_view). So a session whose worker is
busy or stuck is still shown as committed, never with an empty or outdated list of edges.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import PROTOCOL_VERSION, reads
from .hub import Cursor
from .sessions import Session

SOURCE_KEYS = ("kind", "preset", "formula", "ranges", "target", "train_num", "test_num")


def fresh(s: Session) -> tuple[dict[str, Any], Cursor]:
    """Worker thread: the snapshot and the hub cursor that matches it exactly."""
    edges = s.publish_edges()
    snap = _build(s, edges, s.hub.nodes, s.hub.metrics_list())
    cur = s.hub.cursor_now()
    cur.step = snap["step"]
    return snap, cur


def cached(s: Session) -> tuple[dict[str, Any], Cursor]:
    """Any thread (it may deserialise the committed model: call it off the event loop)."""
    cur = s.hub.cursor_now()
    if s.hub_is_committed:
        snap = _build(s, s.hub.edge_list(), s.hub.nodes, s.hub.metrics_list())
    else:
        view = reads.committed_view(s)
        snap = _build(s, view["edges"], view["nodes"], s.hub.metrics_list())
        snap.update(width=view["width"], grid=view["grid"], k=view["k"])
    cur.step = snap["step"]
    return snap, cur


def meta(s: Session) -> dict[str, Any]:
    """What an edit can change besides edges: shape, grid, history, undo/redo, rejects.
    Sent with edit events, so a page need not re-read the whole snapshot."""
    history = s.store.edits(s.id)
    live = [e for e in history if not e.undone]
    return {
        "width": list(s.model.width),
        "grid": int(s.model.config.grid),
        "k": int(s.model.config.k),
        "history": [
            {"seq": e.seq, "kind": e.kind, "summary": e.summary, "step": e.step, "undone": e.undone}
            for e in history
        ],
        "can_undo": bool(live),
        "can_redo": len(live) < len(history),
        "rejects": s.rejects,
    }


def _build(s: Session, edges: list, nodes: list, metrics: list) -> dict[str, Any]:
    return {
        "id": s.id,
        "protocol": PROTOCOL_VERSION,
        "status": s.status,
        "error": s.error,
        "step": s.step,
        "seed": s.spec["seed"],
        "variables": s.variables,
        "source": {k: s.spec[k] for k in SOURCE_KEYS if k in s.spec},
        "train": s.spec["train"],
        "metrics": metrics,
        "edges": edges,
        "nodes": nodes,
        "focus": dict(s.hub.focus),
        **meta(s),
    }


async def get(s: Session, wait: float = 2.0) -> tuple[dict[str, Any], Cursor]:
    """A fresh snapshot from the worker, or the cached one if the worker does not answer
    within ``wait`` seconds (a long or stuck step): reading never hangs."""
    fut = s.submit(fresh, s)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), wait)
    except TimeoutError:
        fut.cancel()
        return await asyncio.to_thread(cached, s)
