"""What can be read of a partly damaged session database, copied into a fresh one
(``dbfile.open_database`` calls :func:`salvage` when ``PRAGMA quick_check`` fails).

Row by row: a session whose row reads whole is copied as it is; one whose id and tokens can be
read but not the rest (its model or history pages are damaged) is copied as a *damaged* stub, so
its owner gets a 409 saying so and can delete it; one of which not even that can be read is lost
(it stays in the damaged file, kept aside). An edit that cannot be read is dropped from its
session's history. Returns notes, for people, on everything that was not copied whole.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

__all__ = ["UNREADABLE", "salvage"]

UNREADABLE = "its stored row cannot be read: the database file is damaged there"
SESSION_COLUMNS = (
    "id, owner_token, viewer_token, spec, csv, created, updated, step, rejects, metrics, fits,"
    " model, damage"
)
EDIT_COLUMNS = "session_id, seq, kind, params, summary, step, created, undone, before, after"


def salvage(old: sqlite3.Connection, new: sqlite3.Connection) -> list[str]:
    notes: list[str] = []
    for rowid in _rowids(old, "sessions", notes):
        try:
            row = _row(old, "sessions", SESSION_COLUMNS, rowid)
        except sqlite3.DatabaseError:
            stub = _stub(old, rowid)
            if stub is None:
                notes.append(f"a session (row {rowid}) could not be read at all")
                continue
            row = stub
            notes.append(f"session {stub[0]} is damaged (kept so that its owner can delete it)")
        new.execute(f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({_marks(13)})", row)
    lost: dict[str, int] = {}
    for rowid in _rowids(old, "edits", notes):
        try:
            row = _row(old, "edits", EDIT_COLUMNS, rowid)
            new.execute(f"INSERT INTO edits ({EDIT_COLUMNS}) VALUES ({_marks(10)})", row)
        except sqlite3.IntegrityError:
            pass  # the edit of a session that was lost
        except sqlite3.DatabaseError:
            sid = _cell(old, "edits", "session_id", rowid)
            lost[str(sid)] = lost.get(str(sid), 0) + 1
    notes += [
        f"session {sid}: {n} edit(s) of its history could not be read" for sid, n in lost.items()
    ]
    return notes


def _rowids(db: sqlite3.Connection, table: str, notes: list[str]) -> Iterator[int]:
    """The rowids a scan of ``table`` reaches (a damaged page may end it early)."""
    ids: list[int] = []
    try:
        for (rowid,) in db.execute(f"SELECT rowid FROM {table} ORDER BY rowid"):
            ids.append(rowid)
    except sqlite3.DatabaseError as exc:
        notes.append(f"{table}: a scan stopped after {len(ids)} row(s) ({exc})")
    return iter(ids)


def _row(db: sqlite3.Connection, table: str, columns: str, rowid: int) -> tuple:
    return db.execute(f"SELECT {columns} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()


def _cell(db: sqlite3.Connection, table: str, column: str, rowid: int):
    try:
        return db.execute(f"SELECT {column} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()[0]
    except sqlite3.DatabaseError:
        return f"(row {rowid})"


def _stub(db: sqlite3.Connection, rowid: int) -> tuple | None:
    """A damaged session's row from what can be read: its id and tokens (stored first)."""
    try:
        sid, owner, viewer = _row(db, "sessions", "id, owner_token, viewer_token", rowid)
    except sqlite3.DatabaseError:
        return None
    if not all(isinstance(v, str) and v for v in (sid, owner, viewer)):
        return None
    now = time.time()
    return (sid, owner, viewer, "{}", None, now, now, 0, "{}", "[]", "{}", b"\0", UNREADABLE)


def _marks(n: int) -> str:
    return ",".join("?" * n)
