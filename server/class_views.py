"""What a teacher or a student reads of a class (docs/classes.md): the dashboard, the cheap
polled state, ``/me`` and the leaderboard. Nothing here waits on a worker or a formula.

Who sees what: the teacher sees every student's session id and viewer token and the challenge's
source; a student sees session ids only (no one's tokens but their own, in ``me``), and never the
challenge's formula before it is revealed.
"""

from __future__ import annotations

from typing import Any

from .class_store import StudentRecord
from .classes import Classes, Room
from .sessions import CommandError

CARD_FIGURES = (
    "status", "step", "test_rmse", "live_edges", "symbolic_edges", "formula", "layers",
)  # fmt: skip


def follow_target(classes: Classes, room: Room) -> dict[str, Any] | None:
    sid = room.rec.follow
    if sid is None:
        return None
    tok = classes.viewer_token(room, sid)
    if tok is None:
        return None
    name = next((st.name for st in room.rec.students if st.session_id == sid), None)
    return {"session": sid, "viewer_token": tok, "name": name}


def me(classes: Classes, room: Room, st: StudentRecord) -> dict[str, Any]:
    session = None
    if st.session_id is not None:
        tokens = classes.manager.tokens(st.session_id)
        if tokens is not None:
            session = {
                "id": st.session_id,
                "owner_token": tokens.owner_token,
                "viewer_token": tokens.viewer_token,
            }
    return {"name": st.name, "session": session}


def state(classes: Classes, room: Room, student: StudentRecord | None) -> dict[str, Any]:
    rec = room.rec
    return {
        "code": rec.code,
        "challenge": room.challenge,
        "follow": follow_target(classes, room),
        "paused": rec.paused,
        "ended": rec.ended,
        "handed_out": rec.handed_out,
        "revealed": classes.revealed(room),
        "me": me(classes, room, student) if student is not None else None,
    }


def heldout(classes: Classes, room: Room) -> dict | None:
    """A CSV challenge's held-out rows (the source session's test rows), read once; None for
    any other class or when the source session is gone. Blocking (may load it)."""
    if not room.csv_challenge:
        return None
    if room.heldout is None and room.rec.session_id is not None:
        try:
            s = classes.manager.get(room.rec.session_id)
        except CommandError:
            return None
        room.heldout = {k: s.dataset[k] for k in ("test_input", "test_label")}
    return room.heldout


def _figures(classes: Classes, sid: str, heldout: dict | None) -> dict[str, Any]:
    return classes.figures.card(classes.manager.get_live(sid), sid, heldout)


def _card(
    classes: Classes, room: Room, st: StudentRecord, teacher: bool, heldout: dict | None
) -> dict[str, Any]:
    card: dict[str, Any] = {"name": st.name, "session": None, "joined": st.joined}
    if st.session_id is None:
        return card
    card["session"] = {"id": st.session_id}
    if teacher:
        card["session"]["viewer_token"] = classes.viewer_token(room, st.session_id)
    figures = _figures(classes, st.session_id, heldout)
    card.update({k: figures.get(k) for k in CARD_FIGURES}, complete=bool(figures.get("complete")))
    return card


def dashboard(
    classes: Classes, room: Room, student: StudentRecord | None, join_url: str
) -> dict[str, Any]:
    """``GET /api/classes/{id}``; ``student`` None: the teacher's view."""
    teacher = student is None
    out = {"id": room.rec.id, "join_url": join_url, **state(classes, room, student)}
    out["teacher_session"] = out["source"] = None
    sid = room.rec.session_id
    if teacher and sid is not None:
        tokens = classes.manager.tokens(sid)
        if tokens is not None:
            out["teacher_session"] = {"id": sid, "viewer_token": tokens.viewer_token}
            if room.challenge:
                out["source"] = {
                    "id": sid,
                    "owner_token": tokens.owner_token,
                    "viewer_token": tokens.viewer_token,
                    "formula": room.answer,
                }
    rows = heldout(classes, room)
    out["students"] = [_card(classes, room, st, teacher, rows) for st in room.rec.students]
    return out


def leaderboard(classes: Classes, room: Room) -> list[dict[str, Any]]:
    """Students with a session, best first: test NRMSE (on the held-out rows in a CSV
    challenge), then complexity; no figure yet: last. Blocking (may load the source once)."""
    rows, held = [], heldout(classes, room)
    for st in room.rec.students:
        if st.session_id is None:
            continue
        fig = _figures(classes, st.session_id, held)
        rows.append(
            {
                "name": st.name,
                "test_nrmse": classes.figures.nrmse(fig, st.session_id),
                "complexity": fig.get("complexity"),
                "formula": fig.get("formula"),
                "complete": bool(fig.get("complete")),
                "step": fig.get("step"),
            }
        )

    def rank(r: dict[str, Any]) -> tuple:
        missing = r["test_nrmse"] is None
        return (missing, r["test_nrmse"] or 0.0, r["complexity"] or 0, r["name"].casefold())

    return sorted(rows, key=rank)
