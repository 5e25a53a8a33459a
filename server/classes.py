"""Classes (docs/classes.md): codes, students, hand-out, challenge, follow, pause-all, end.

Domain functions, testable without HTTP; routes (routes/classes.py) only check tokens and call
these. Blocking (store writes, forks): call them off the event loop. Refusals raise
:class:`~server.sessions.CommandError` with the HTTP status to answer.

A challenge's formula stays here and in the hidden source session: a student's copy is a CSV
session built from the source's data (:func:`challenge_csv`), and no student view carries it
until :meth:`Classes.reveal`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import kan_core

from . import commands
from .class_figures import Figures
from .class_handout import capture, challenge_csv, give_copy, source_session
from .class_schemas import Challenge
from .class_store import ClassRecord, ClassStore, StudentRecord
from .config import Settings
from .manager import SessionManager
from .sessions import CommandError, Session
from .store import StorageError

__all__ = ["Classes", "Room", "challenge_csv", "clean_name", "normalise_code"]
log = logging.getLogger("kan_workbench.classes")
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud, typed right
CODE_LEN = 6
NAME_MAX = 40
PAUSE_WAIT_S = 10.0


@dataclass
class Room:
    """A class in memory: its record and an index of its students by token digest."""

    rec: ClassRecord
    by_token: dict[bytes, StudentRecord] = field(default_factory=dict)
    viewer_tokens: dict[str, str] = field(default_factory=dict)  # session id -> viewer token
    lock: threading.RLock = field(default_factory=threading.RLock)

    heldout: dict | None = None  # a CSV challenge's held-out rows, once read from the source

    @property
    def challenge(self) -> bool:
        return self.rec.challenge is not None

    @property
    def csv_challenge(self) -> bool:
        return self.challenge and self.rec.challenge.get("kind") == "csv"

    @property
    def answer(self) -> str | None:
        """The challenge's secret text: its formula, or a CSV challenge's optional answer."""
        ch = self.rec.challenge or {}
        return ch.get("answer") if ch.get("kind") == "csv" else ch.get("formula")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def clean_name(name: str) -> str:
    """A display name, trimmed; 422 when empty, over-long or with control characters."""
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if not name:
        raise CommandError(422, "name: must not be empty")
    if len(name) > NAME_MAX:
        raise CommandError(422, f"name: at most {NAME_MAX} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise CommandError(422, "name: control or invisible characters are not allowed")
    return name


def normalise_code(code: str) -> str:
    return "".join(c for c in code.upper() if c not in " -\t")


class Classes:
    """Every class of this server; created in the app's lifespan."""

    def __init__(self, settings: Settings, store: ClassStore, manager: SessionManager):
        self.settings, self.store, self.manager = settings, store, manager
        self.figures = Figures()
        self._lock = threading.RLock()
        self._rooms: dict[str, Room] = {}
        self._codes: dict[str, str] = {}  # code -> class id, live classes only
        for rec in store.load_all():
            self._add(rec)

    def close(self) -> None:
        self.figures.close()

    def _add(self, rec: ClassRecord) -> Room:
        room = Room(rec, {_digest(st.token): st for st in rec.students})
        self._rooms[rec.id] = room
        if not rec.ended:
            self._codes[rec.code] = rec.id
        return room

    # --- lookup and tokens ---------------------------------------------------------------
    def room(self, class_id: str) -> Room:
        room = self._rooms.get(class_id)
        if room is None:
            raise CommandError(404, f"no class {class_id!r}")
        return room

    def role(self, room: Room, token: str | None) -> tuple[str, StudentRecord | None]:
        """('teacher', None) or ('student', record); 401 without a token, 403 for another."""
        if not token:
            raise CommandError(401, "send Authorization: Bearer <teacher or student token>")
        if secrets.compare_digest(token.encode(), room.rec.teacher_token.encode()):
            return "teacher", None
        st = room.by_token.get(_digest(token))
        if st is not None and secrets.compare_digest(token.encode(), st.token.encode()):
            return "student", st
        raise CommandError(403, "this token gives no access to this class")

    # --- create and join -----------------------------------------------------------------
    def _new_record(self, session_id: str, challenge: dict | None) -> ClassRecord:
        live = sum(1 for r in self._rooms.values() if not r.rec.ended)
        if live >= self.settings.max_classes:
            raise CommandError(
                429,
                f"at most {self.settings.max_classes} live classes (KAN_WB_MAX_CLASSES);"
                " end one first",
            )
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))
            if code not in self._codes:
                break
        rec = ClassRecord(
            id=secrets.token_urlsafe(12),
            code=code,
            teacher_token=secrets.token_urlsafe(24),
            session_id=session_id,
            challenge=challenge,
            follow=None if challenge else session_id,
        )
        _saved(self.store.create_class, rec)
        return rec

    def create_from_session(self, s: Session) -> Room:
        with self._lock:
            room = self._add(self._new_record(s.id, None))
        room.viewer_tokens[s.id] = s.viewer_token
        return room

    def create_challenge(self, ch: Challenge) -> Room:
        """A hidden source session: from the formula (students get its data), or from the CSV
        (students get its training rows; the held-out rows rank them)."""
        s, record = source_session(self.manager, ch)  # SpecError (422): the creator's only
        with self._lock:
            room = self._add(self._new_record(s.id, record))
        room.viewer_tokens[s.id] = s.viewer_token
        return room

    def join(self, code: str, name: str) -> tuple[Room, StudentRecord]:
        name = clean_name(name)
        code = normalise_code(code)
        with self._lock:
            class_id = self._codes.get(code)
        if class_id is None:
            ended = any(r.rec.code == code and r.rec.ended for r in list(self._rooms.values()))
            if ended:
                raise CommandError(410, "this class has ended")
            raise CommandError(404, "no class with this code")
        room = self._rooms.get(class_id)
        if room is None:  # deleted (expired) a moment ago
            raise CommandError(404, "no class with this code")
        with room.lock:
            if room.rec.ended:
                raise CommandError(410, "this class has ended")
            if len(room.rec.students) >= self.settings.max_class_students:
                raise CommandError(
                    429,
                    f"this class is full: at most {self.settings.max_class_students} students"
                    " per class (KAN_WB_MAX_CLASS_STUDENTS)",
                )
            taken = {st.name.casefold() for st in room.rec.students}
            unique, n = name, 1
            while unique.casefold() in taken:
                n += 1
                unique = f"{name} {n}"
            st = StudentRecord(len(room.rec.students) + 1, unique, secrets.token_urlsafe(24))
            _saved(self.store.add_student, room.rec.id, st)
            room.rec.students.append(st)
            room.by_token[_digest(st.token)] = st
        if room.rec.handed_out and not self.copies_left(room):
            log.warning(
                "class %s: no copy for a late joiner: %s", room.rec.id, self._copies_full(0, 1)
            )
        elif room.rec.handed_out:
            try:
                give_copy(self, room, st, capture(self, room))
            except CommandError as exc:  # joined all the same; a later hand-out retries
                log.warning("class %s: no copy for a late joiner: %s", room.rec.id, exc.message)
        return room, st

    # --- hand-out ------------------------------------------------------------------------
    def handout(self, room: Room) -> dict[str, int]:
        """A copy for each student without one, up to ``max_class_copies``; beyond it the
        copies made stay and the answer is 429 naming the limit."""
        if room.rec.ended:
            raise CommandError(409, "this class has ended")
        todo = [st for st in list(room.rec.students) if st.session_id is None]
        room_left = self.copies_left(room)
        give, left_out = todo[:room_left], todo[room_left:]
        state = capture(self, room) if give else None
        for st in give:
            give_copy(self, room, st, state)
        if (give or not left_out) and not room.rec.handed_out:  # late joiners get one too
            _saved(self.store.set_flags, room.rec.id, handed_out=True)
            room.rec.handed_out = True
        if left_out:
            raise CommandError(429, self._copies_full(len(give), len(left_out)))
        return {"handed_out": len(give), "students": len(room.rec.students)}

    def copies_left(self, room: Room) -> int:
        made = sum(1 for st in room.rec.students if st.session_id is not None)
        return max(0, self.settings.max_class_copies - made)

    def _copies_full(self, made: int, without: int) -> str:
        n = self.settings.max_class_copies
        return (
            f"at most {n} copies per class (KAN_WB_MAX_CLASS_COPIES): {made} handed out now,"
            f" {without} student{'s' if without != 1 else ''} without one"
        )

    # --- expiry (expiry.py decides which; this forgets them) ------------------------------
    def rooms(self) -> list[Room]:
        with self._lock:
            return list(self._rooms.values())

    def delete(self, room: Room) -> None:
        """Forget the class: its record and the students' links to their copies (the copies
        stay, as their students' sessions, and expire like any session); a challenge's hidden
        source session goes with it."""
        _saved(self.store.delete_class, room.rec.id)
        with self._lock:
            self._rooms.pop(room.rec.id, None)
            if self._codes.get(room.rec.code) == room.rec.id:
                del self._codes[room.rec.code]
        with room.lock:
            room.rec.ended = True  # a request holding this room now sees an ended class
        self.figures.forget([st.session_id for st in room.rec.students if st.session_id])
        if room.challenge and room.rec.session_id:
            try:
                self.manager.delete(room.rec.session_id)
            except CommandError as exc:  # gone already, or a storage fault: it has no class
                log.warning("class %s: source session not deleted: %s", room.rec.id, exc.message)

    # --- teacher actions -----------------------------------------------------------------
    def follow(self, room: Room, session_id: str | None) -> None:
        ids = {st.session_id for st in room.rec.students if st.session_id}
        if not room.challenge and room.rec.session_id:
            ids.add(room.rec.session_id)
        if session_id is not None and session_id not in ids:
            raise CommandError(404, "not a session of this class (the teacher's or a student's)")
        target = session_id if session_id is not None else (
            None if room.challenge else room.rec.session_id
        )  # fmt: skip
        _saved(self.store.set_flags, room.rec.id, follow=target)
        room.rec.follow = target

    def pause_all(self, room: Room, paused: bool) -> dict[str, Any]:
        _saved(self.store.set_flags, room.rec.id, paused=paused)
        room.rec.paused = paused
        n = 0
        if paused:
            ids = [st.session_id for st in room.rec.students if st.session_id]
            futures = []
            for sid in [room.rec.session_id, *ids]:
                s = self.manager.get_live(sid) if sid else None
                if s is not None:
                    futures.append(s.submit(commands.pause, s))
            for fut in futures:
                try:
                    fut.result(PAUSE_WAIT_S)
                    n += 1
                except Exception:  # a stuck session is reported by its own stream
                    pass
        return {"paused": paused, "sessions": n}

    def paused_copy(self, session_id: str) -> str | None:
        """Why a student's copy may not train now (its class is paused), or ``None``."""
        for room in list(self._rooms.values()):  # a copy: expiry may delete one
            rec = room.rec
            if (
                rec.paused
                and not rec.ended
                and any(st.session_id == session_id for st in rec.students)
            ):
                return f"class {rec.code} is paused by the teacher: training resumes when they resume the class"
        return None

    def reveal(self, room: Room) -> None:
        if not room.challenge:
            raise CommandError(409, "this class is not a challenge: there is nothing to reveal")
        if room.answer is None:
            raise CommandError(409, "this challenge was started without an answer to reveal")
        _saved(self.store.set_flags, room.rec.id, revealed=True)
        room.rec.revealed = True

    def end(self, room: Room) -> None:
        _saved(self.store.set_flags, room.rec.id, ended=True)
        with self._lock:
            room.rec.ended = True
            if self._codes.get(room.rec.code) == room.rec.id:
                del self._codes[room.rec.code]

    # --- reading -------------------------------------------------------------------------
    def viewer_token(self, room: Room, sid: str) -> str | None:
        tok = room.viewer_tokens.get(sid)
        if tok is None:
            try:
                tokens = self.manager.tokens(sid)
            except CommandError:
                return None
            if tokens is not None:
                tok = room.viewer_tokens[sid] = tokens.viewer_token
        return tok

    def revealed(self, room: Room) -> dict[str, Any] | None:
        if not (room.challenge and room.rec.revealed and room.answer is not None):
            return None
        formula = room.answer
        try:
            latex = kan_core.to_latex(kan_core.parse_formula(formula).expr)
        except Exception:  # a CSV challenge's answer may be words, not a formula
            latex = None
        return {"formula": formula, "latex": latex}


def _saved(method, *args, **kwargs):
    """A store write; a storage fault is a 503 saying why (nothing changed)."""
    try:
        return method(*args, **kwargs)
    except StorageError as exc:
        raise CommandError(503, str(exc)) from exc
