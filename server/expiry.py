"""Expiry of abandoned sessions: one not accessed for ``session_ttl_hours`` is deleted.

The store keeps no access time (its ``updated`` moves only on writes, and a session a class only
looks at is still in use), so this module keeps its own: a small SQLite file beside the store's,
``access.sqlite3``, with one row per session: when a request last touched it. Writes are
throttled (one per session per ``touch_every_s``), so reads stay reads. A session that has no row
(created before this existed) gets one at start, and so the full TTL from then on.

The app's housekeeping loop calls :meth:`AccessLog.sweep` every few minutes; it deletes through
the manager (which stops a live worker and tells viewers ``deleted``) and skips, and touches, a
live session that is busy (training or watched): that is use, not abandonment.

Classes expire too (:func:`expire_classes`): one whose teacher has not been back for
``class_ttl_hours`` (the class store keeps the teacher's last request, written hourly).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .manager import SessionManager
from .sessions import CommandError
from .store import StorageError

if TYPE_CHECKING:
    from .classes import Classes, Room

log = logging.getLogger("kan_workbench.expiry")
SCHEMA = "CREATE TABLE IF NOT EXISTS access (id TEXT PRIMARY KEY, at REAL NOT NULL)"


class AccessLog:
    def __init__(self, path: Path, ttl_hours: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_hours * 3600.0
        # Writing once per session per hour (or per tenth of the TTL) is exact enough.
        self.touch_every_s = min(3600.0, self.ttl_s / 10.0)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()
        self._written: dict[str, float] = {}  # session -> when its row was last written

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def touch(self, session_id: str, now: float | None = None, force: bool = False) -> None:
        """A request used the session (cheap: most calls write nothing)."""
        now = time.time() if now is None else now
        if not force and now - self._written.get(session_id, -1e18) < self.touch_every_s:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO access (id, at) VALUES (?, ?) "
                "ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                (session_id, now),
            )
        self._written[session_id] = now

    def adopt(self, session_ids: list[str], now: float | None = None) -> None:
        """Sessions without a row start their TTL now."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO access (id, at) VALUES (?, ?)",
                [(sid, now) for sid in session_ids],
            )

    def expired(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM access WHERE at < ? ORDER BY at", (now - self.ttl_s,)
            ).fetchall()
        return [r[0] for r in rows]

    def forget(self, session_ids: list[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM access WHERE id = ?", [(s,) for s in session_ids])
        for sid in session_ids:
            self._written.pop(sid, None)

    def sweep(self, manager: SessionManager, now: float | None = None) -> list[str]:
        """Delete the expired sessions; returns their ids. Blocking: call off the event loop."""
        if self.ttl_s <= 0:  # expiry is off
            return []
        now = time.time() if now is None else now
        stored = set(manager.store.session_ids())
        self.forget([sid for sid in self._known() if sid not in stored])  # deleted elsewhere
        self.adopt(sorted(stored), now)
        gone = []
        for sid in self.expired(now):
            live = manager.get_live(sid)
            if live is not None and live.busy:
                self.touch(sid, now, force=True)
                continue
            manager.delete(sid)
            gone.append(sid)
        self.forget(gone)
        if gone:
            log.info("deleted %d sessions unused for %g h: %s", len(gone), self.ttl_s / 3600, gone)
        return gone

    def _known(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM access").fetchall()]


def touch_class(classes: Classes, room: Room, now: float | None = None) -> None:
    """The teacher used the class (cheap: a write at most every tenth of the TTL, or hour).
    A failed write is not the reader's problem: the class just looks older."""
    ttl_s = classes.settings.class_ttl_hours * 3600.0
    now = time.time() if now is None else now
    if ttl_s <= 0 or now - (room.rec.used or room.rec.created) < min(3600.0, ttl_s / 10.0):
        return
    try:
        classes.store.set_used(room.rec.id, now)
    except StorageError:
        return
    room.rec.used = now


def expired_classes(classes: Classes, now: float | None = None) -> list[Room]:
    """Classes whose teacher has not been back for ``class_ttl_hours`` (0: never)."""
    ttl_s = classes.settings.class_ttl_hours * 3600.0
    if ttl_s <= 0:
        return []
    now = time.time() if now is None else now
    return [r for r in classes.rooms() if (r.rec.used or r.rec.created) < now - ttl_s]


def expire_classes(classes: Classes, now: float | None = None) -> list[str]:
    """Delete the classes whose teacher has not been back for ``class_ttl_hours``: the record,
    the students' links to their copies (the copies stay, and expire as sessions do) and a
    challenge's hidden source session. Returns their ids. Blocking: call off the event loop."""
    gone = []
    for room in expired_classes(classes, now):
        try:
            classes.delete(room)
        except CommandError as exc:  # a storage fault: tried again at the next sweep
            log.warning("class %s not deleted: %s", room.rec.id, exc.message)
            continue
        gone.append(room.rec.id)
    if gone:
        ttl = classes.settings.class_ttl_hours
        log.info("deleted %d classes their teacher left for %g h: %s", len(gone), ttl, gone)
    return gone
