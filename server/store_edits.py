"""The edit history of the session store (the ``edits`` table): undo/redo over model snapshots.

Each edit row holds the model bytes from before and after the edit. Undo restores ``before`` of
the newest live edit; redo restores ``after`` of the oldest undone one; a new edit drops the
undone tail (like an editor). History is bounded per session, in edits and in bytes; the newest
edit always stays. A row that cannot be read is still listed (``EditRecord.damage`` says why);
undoing or redoing it raises :class:`EditDamaged` and changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .store_db import RecordDamaged, parse_json

__all__ = [
    "MAX_EDITS_KEPT",
    "MAX_HISTORY_BYTES",
    "EDITS_SCHEMA",
    "EditDamaged",
    "EditHistory",
    "EditRecord",
]

EDITS_SCHEMA = """
CREATE TABLE IF NOT EXISTS edits (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    summary TEXT NOT NULL,
    step INTEGER NOT NULL,
    created REAL NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    before BLOB NOT NULL,
    after BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


MAX_EDITS_KEPT = 200  # per session; older edits can no longer be undone
# Undo snapshots per session, in bytes: on the largest allowed model one edit holds ~22 MB, so
# 200 edits could take 4 GB of disk. Beyond this the oldest edits go (the newest always stays).
MAX_HISTORY_BYTES = 256 * 2**20


class EditDamaged(Exception):
    """An edit in the history whose saved model or parameters cannot be read (undo/redo of it
    changes nothing); the message names the edit and says why."""

    def __init__(self, seq: int, kind: str, summary: str, reason: str):
        super().__init__(f"edit {seq} ({summary or kind}) is damaged: {reason}")
        self.seq, self.kind = seq, kind


@dataclass
class EditRecord:
    seq: int
    kind: str
    params: dict[str, Any]
    summary: str
    step: int
    undone: bool
    damage: str | None = None  # why part of the row cannot be read (it is shown, not undone)


class EditHistory:
    """The edit-history methods of :class:`~server.store.Store` (a mixin over
    :class:`~server.store_db.SqliteDatabase`, which gives ``_tx`` and ``_query``)."""

    max_history_bytes: int

    def record_edit(
        self,
        session_id: str,
        kind: str,
        params: dict[str, Any],
        summary: str,
        before: bytes,
        after: bytes,
        step: int,
        metrics: list[dict[str, Any]],
        fits: dict[str, dict[str, Any]] | None = None,
    ) -> int:
        """Append an edit (dropping the redo tail) and make ``after`` the checkpoint."""

        def write(db: sqlite3.Connection) -> int:
            db.execute("DELETE FROM edits WHERE session_id = ? AND undone = 1", (session_id,))
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM edits WHERE session_id = ?", (session_id,)
            ).fetchone()
            seq = last + 1
            db.execute(
                "INSERT INTO edits (session_id, seq, kind, params, summary, step, created,"
                " before, after) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    seq,
                    kind,
                    json.dumps(params),
                    summary,
                    step,
                    time.time(),
                    before,
                    after,
                ),
            )
            db.execute(
                "DELETE FROM edits WHERE session_id = ? AND seq <= ?",
                (session_id, seq - MAX_EDITS_KEPT),
            )
            self._trim_history(db, session_id)
            db.execute(
                "UPDATE sessions SET model = ?, step = ?, metrics = ?, updated = ? WHERE id = ?",
                (after, step, json.dumps(metrics), time.time(), session_id),
            )
            if fits is not None:
                db.execute(
                    "UPDATE sessions SET fits = ? WHERE id = ?", (json.dumps(fits), session_id)
                )
            return seq

        return self._tx(write)

    def _trim_history(self, db: sqlite3.Connection, session_id: str) -> None:
        """Drop the oldest edits while the session's snapshots exceed ``max_history_bytes``."""
        rows = db.execute(
            "SELECT seq, length(before) + length(after) FROM edits WHERE session_id = ?"
            " ORDER BY seq DESC",
            (session_id,),
        ).fetchall()
        total = 0
        for n, (seq, size) in enumerate(rows):
            total += size
            if total > self.max_history_bytes and n > 0:
                db.execute("DELETE FROM edits WHERE session_id = ? AND seq <= ?", (session_id, seq))
                return

    def history_bytes(self, session_id: str) -> int:
        (total,) = self._query(
            "SELECT COALESCE(SUM(length(before) + length(after)), 0) FROM edits"
            " WHERE session_id = ?",
            (session_id,),
        )[0]
        return total

    def edits(self, session_id: str) -> list[EditRecord]:
        rows = self._query(
            "SELECT seq, kind, params, summary, step, undone FROM edits WHERE session_id = ?"
            " ORDER BY seq",
            (session_id,),
        )
        return [_edit_record(*row) for row in rows]

    def undo(self, session_id: str, step: int, metrics: list[dict[str, Any]], load=bytes):
        """Mark the newest live edit undone; returns ``(EditRecord, load(model_before))`` or
        None. ``load`` runs before the commit: if it raises, nothing changes."""
        return self._tx(self._move, session_id, True, step, metrics, load)

    def redo(self, session_id: str, step: int, metrics: list[dict[str, Any]], load=bytes):
        """Re-apply the oldest undone edit; returns ``(EditRecord, load(model_after))`` or None."""
        return self._tx(self._move, session_id, False, step, metrics, load)

    @staticmethod
    def _move(
        db: sqlite3.Connection,
        session_id: str,
        undo: bool,
        step: int,
        metrics,
        load: Callable[[bytes], Any],
    ):
        if undo:
            sql = (
                "SELECT seq, kind, params, summary, step, before FROM edits"
                " WHERE session_id = ? AND undone = 0 ORDER BY seq DESC LIMIT 1"
            )
        else:
            sql = (
                "SELECT seq, kind, params, summary, step, after FROM edits"
                " WHERE session_id = ? AND undone = 1 ORDER BY seq ASC LIMIT 1"
            )
        row = db.execute(sql, (session_id,)).fetchone()
        if row is None:
            return None
        rec = _edit_record(*row[:5], undone=undo)
        if rec.damage is not None:
            raise EditDamaged(rec.seq, rec.kind, rec.summary, rec.damage)
        model = row[5]
        try:  # before any change: a damaged snapshot changes nothing
            if not isinstance(model, bytes) or not model:
                raise TypeError(f"a {type(model).__name__}, not model bytes")
            loaded = load(model)
        except Exception as exc:
            why = f"its saved model cannot be read ({type(exc).__name__}: {exc})"[:300]
            raise EditDamaged(rec.seq, rec.kind, rec.summary, why) from exc
        db.execute(
            "UPDATE edits SET undone = ? WHERE session_id = ? AND seq = ?",
            (1 if undo else 0, session_id, rec.seq),
        )
        db.execute(
            "UPDATE sessions SET model = ?, step = ?, metrics = ?, updated = ? WHERE id = ?",
            (model, step, json.dumps(metrics), time.time(), session_id),
        )
        return rec, loaded


def _edit_record(seq: Any, kind: Any, params: Any, summary: Any, step: Any, undone: Any):
    """An edits row as an :class:`EditRecord`; a part that cannot be read is replaced by a
    stand-in and named in ``damage`` (the history still lists the edit)."""
    problems = []
    if not isinstance(kind, str):
        kind = "unknown"
        problems.append("its kind is not text")
    if not isinstance(summary, str):
        summary = f"{kind} (damaged)"
        problems.append("its summary is not text")
    if not isinstance(step, int):
        step = 0
        problems.append("its step is not a number")
    try:
        params = parse_json(params, dict, "parameter record")
    except RecordDamaged as exc:
        params = {}
        problems.append(str(exc))
    damage = "; ".join(problems) or None
    return EditRecord(int(seq), kind, params, summary, step, bool(undone), damage)
