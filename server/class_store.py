"""SQLite persistence of classes: ``<data dir>/classes.sqlite3`` (a restart keeps them).

A file of its own, beside the sessions' database: class writes (joins, flags) never wait on the
sessions' lock, and the same fault handling applies (``dbfile.open_database`` sets a damaged
file aside). Each public method is one committed transaction; a write that fails raises
:class:`~server.store.StorageError` with a readable reason and changes nothing.

(Hand-out copies a session's stored rows with :meth:`~server.store.Store.fork`.)
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from .store import SqliteDatabase, StorageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    teacher_token TEXT NOT NULL,
    session_id TEXT,              -- the teacher's session, or a challenge's hidden source
    challenge TEXT,               -- JSON: {"formula", "ranges", "width", ...}; NULL: not one
    follow TEXT,                  -- the session everyone follows; NULL: the teacher's
    paused INTEGER NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    handed_out INTEGER NOT NULL DEFAULT 0,
    revealed INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    used REAL                     -- the teacher's last request (expiry.py); NULL: created
);
CREATE TABLE IF NOT EXISTS students (
    class_id TEXT NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    token TEXT NOT NULL,
    session_id TEXT,
    joined REAL NOT NULL,
    PRIMARY KEY (class_id, seq)
);
"""
FLAGS = ("follow", "paused", "ended", "handed_out", "revealed")


@dataclass
class StudentRecord:
    seq: int
    name: str
    token: str
    session_id: str | None = None
    joined: float = field(default_factory=time.time)


@dataclass
class ClassRecord:
    id: str
    code: str
    teacher_token: str
    session_id: str | None
    challenge: dict[str, Any] | None = None
    follow: str | None = None
    paused: bool = False
    ended: bool = False
    handed_out: bool = False
    revealed: bool = False
    created: float = field(default_factory=time.time)
    students: list[StudentRecord] = field(default_factory=list)
    used: float | None = None  # the teacher's last request (written at most hourly)


class ClassStore(SqliteDatabase):
    """All class database access; thread-safe."""

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        cols = {row[1] for row in db.execute("PRAGMA table_info(classes)")}
        if "used" not in cols:  # a file from before class expiry
            db.execute("ALTER TABLE classes ADD COLUMN used REAL")

    def create_class(self, rec: ClassRecord) -> None:
        self._tx(
            lambda db: db.execute(
                "INSERT INTO classes (id, code, teacher_token, session_id, challenge, created)"
                " VALUES (?,?,?,?,?,?)",
                (
                    rec.id,
                    rec.code,
                    rec.teacher_token,
                    rec.session_id,
                    None if rec.challenge is None else json.dumps(rec.challenge),
                    rec.created,
                ),
            )
        )

    def add_student(self, class_id: str, st: StudentRecord) -> None:
        self._tx(
            lambda db: db.execute(
                "INSERT INTO students (class_id, seq, name, token, session_id, joined)"
                " VALUES (?,?,?,?,?,?)",
                (class_id, st.seq, st.name, st.token, st.session_id, st.joined),
            )
        )

    def set_student_session(self, class_id: str, seq: int, session_id: str) -> None:
        self._tx(
            lambda db: db.execute(
                "UPDATE students SET session_id = ? WHERE class_id = ? AND seq = ?",
                (session_id, class_id, seq),
            )
        )

    def set_flags(self, class_id: str, **flags: Any) -> None:
        """Update any of ``follow``, ``paused``, ``ended``, ``handed_out``, ``revealed``."""
        unknown = set(flags) - set(FLAGS)
        if unknown:
            raise ValueError(f"not a class flag: {sorted(unknown)}")
        cols = ", ".join(f"{k} = ?" for k in flags)
        values = [v if isinstance(v, str | None) else int(v) for v in flags.values()]
        self._tx(
            lambda db: db.execute(f"UPDATE classes SET {cols} WHERE id = ?", (*values, class_id))
        )

    def set_used(self, class_id: str, at: float) -> None:
        self._tx(lambda db: db.execute("UPDATE classes SET used = ? WHERE id = ?", (at, class_id)))

    def delete_class(self, class_id: str) -> None:
        """The class and its students (their links to their copies; the copies stay)."""
        self._tx(lambda db: db.execute("DELETE FROM classes WHERE id = ?", (class_id,)))

    def load_all(self) -> list[ClassRecord]:
        """Every stored class with its students (a damaged row is skipped, not fatal)."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT id, code, teacher_token, session_id, challenge, follow, paused, ended,"
                    " handed_out, revealed, created, used FROM classes ORDER BY created"
                ).fetchall()
                studs = self._db.execute(
                    "SELECT class_id, seq, name, token, session_id, joined FROM students"
                    " ORDER BY class_id, seq"
                ).fetchall()
            except sqlite3.Error as exc:
                raise StorageError.from_sqlite(exc, writing=False) from exc
        out: dict[str, ClassRecord] = {}
        for row in rows:
            cid, code, tok, sid, chal, follow, paused, ended, handed, revealed, created, used = row
            try:
                challenge = None if chal is None else json.loads(chal)
            except ValueError:
                continue
            out[cid] = ClassRecord(
                cid, code, tok, sid, challenge, follow, bool(paused), bool(ended),
                bool(handed), bool(revealed), created, used=used,
            )  # fmt: skip
        for cid, seq, name, tok, sid, joined in studs:
            if cid in out:
                out[cid].students.append(StudentRecord(seq, name, tok, sid, joined))
        return list(out.values())

