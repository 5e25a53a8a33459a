"""SQLite persistence: sessions, their latest checkpoint, and the edit history.

stdlib ``sqlite3`` in WAL mode, one connection guarded by a lock (workers write from their own
threads). Every write is one transaction that has committed when the method returns, so a caller
that acknowledges after calling it never acknowledges something a crash could lose.

Undo/redo keeps whole model snapshots: each edit row holds the model bytes from before and after
the edit. Undo restores ``before`` of the newest live edit; redo restores ``after`` of the oldest
undone one; a new edit drops the undone tail (like an editor).

Faults: a write that fails (full or read-only disk) raises :class:`StorageError` with a readable
reason and leaves the database as it was, so the caller can leave memory as it was too. A row that
cannot be parsed raises :class:`RecordDamaged` (the manager then marks the session damaged). A
database file that cannot be opened is kept aside under a timestamped name and a fresh one started
(``dbfile.open_database``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dbfile import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    owner_token TEXT NOT NULL,
    viewer_token TEXT NOT NULL,
    spec TEXT NOT NULL,          -- JSON: how to rebuild the dataset and the initial model
    csv TEXT,                    -- uploaded CSV text, when the dataset came from one
    created REAL NOT NULL,
    updated REAL NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    rejects TEXT NOT NULL DEFAULT '{}',   -- JSON: "l,i,j" -> [names the user rejected]
    metrics TEXT NOT NULL DEFAULT '[]',   -- JSON: loss history points
    fits TEXT NOT NULL DEFAULT '{}',      -- JSON: "l,i,j" -> last symbolic fit (for its R²)
    model BLOB NOT NULL,                  -- latest checkpoint, KAN.to_bytes()
    damage TEXT                           -- why the session cannot be loaded (NULL: it can)
);
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
COLUMNS_ADDED = {"fits": "TEXT NOT NULL DEFAULT '{}'", "damage": "TEXT"}  # after the first release


class StorageError(Exception):
    """The database could not be read or written; the message says why, for people, and
    ``why`` the cause alone ("the disk is full"), for a caller that words its own message."""

    def __init__(self, message: str, why: str | None = None):
        super().__init__(message)
        self.why = why or message

    @classmethod
    def from_sqlite(cls, exc: sqlite3.Error, writing: bool) -> StorageError:
        text = str(exc).lower()
        if "full" in text:
            why = "the disk is full"
        elif "readonly" in text or "read-only" in text:
            why = "the database is read-only"
        elif "malformed" in text or "not a database" in text:
            why = "the database file is damaged"
        elif "i/o" in text:
            why = "a disk I/O error"
        elif "locked" in text or "busy" in text:
            why = "the database is locked"
        else:
            why = f"{type(exc).__name__}: {exc}"
        if writing:
            return cls(f"could not save: {why}; nothing changed", why)
        return cls(f"could not read the database: {why}", why)


class RecordDamaged(Exception):
    """A stored session that cannot be parsed; the message says which part and why.
    ``marked``: it was already marked damaged (``mark_damaged``)."""

    def __init__(self, reason: str, marked: bool = False):
        super().__init__(reason)
        self.marked = marked


class EditDamaged(Exception):
    """An edit in the history whose saved model or parameters cannot be read (undo/redo of it
    changes nothing); the message names the edit and says why."""

    def __init__(self, seq: int, kind: str, summary: str, reason: str):
        super().__init__(f"edit {seq} ({summary or kind}) is damaged: {reason}")
        self.seq, self.kind = seq, kind


@dataclass
class SessionTokens:
    owner_token: str
    viewer_token: str


@dataclass
class SessionRecord:
    """One stored session, as the SessionManager needs it to rebuild a live Session."""

    id: str
    owner_token: str
    viewer_token: str
    spec: dict[str, Any]
    model: bytes
    csv: str | None = None
    step: int = 0
    rejects: dict[str, list[str]] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    fits: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EditRecord:
    seq: int
    kind: str
    params: dict[str, Any]
    summary: str
    step: int
    undone: bool
    damage: str | None = None  # why part of the row cannot be read (it is shown, not undone)


class SqliteDatabase:
    """One SQLite file behind a lock: each ``_tx`` is one committed transaction, errors come out
    as :class:`StorageError`. Subclasses give ``_prepare`` (settings and schema)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, self._prepare)

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, fn, *args):
        """``fn(db, *args)`` in one transaction: committed, or (on any error) as if never run.
        A database error comes out as :class:`StorageError`; ``fn``'s own errors as they are."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._db, *args)
                    self._db.execute("COMMIT")
                except BaseException:
                    # SQLite has already rolled back after some errors (a full disk); a ROLLBACK
                    # then fails and would hide the error that matters.
                    if self._db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError.from_sqlite(exc, writing=True) from exc
            return out

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StorageError.from_sqlite(exc, writing=False) from exc


class Store(SqliteDatabase):
    """All session database access. Thread-safe; each public method is one committed transaction."""

    def __init__(self, path: Path, max_history_bytes: int = MAX_HISTORY_BYTES):
        self.max_history_bytes = max_history_bytes
        super().__init__(path)

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        """Settings, schema and migrations of a freshly opened connection."""
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (SIGKILL); only power loss can drop the tail.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        cols = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        for name, decl in COLUMNS_ADDED.items():
            if name not in cols:
                db.execute(f"ALTER TABLE sessions ADD COLUMN {name} {decl}")

    # --- sessions -------------------------------------------------------------------------
    def create_session(self, rec: SessionRecord) -> None:
        self._tx(_insert_session, rec)

    def fork(self, source_id: str, rec: SessionRecord) -> None:
        """Store ``rec`` (a new session: the source's committed state under new tokens, as a
        class hands it out) with a copy of the source's edit history, in one transaction."""

        def write(db: sqlite3.Connection) -> None:
            _insert_session(db, rec)
            db.execute(
                "INSERT INTO edits (session_id, seq, kind, params, summary, step, created, undone,"
                " before, after) SELECT ?, seq, kind, params, summary, step, created, undone,"
                " before, after FROM edits WHERE session_id = ?",
                (rec.id, source_id),
            )

        self._tx(write)

    def load_session(self, session_id: str) -> SessionRecord | None:
        """The stored session, None if there is none; :class:`RecordDamaged` if it cannot be
        parsed (or was marked damaged before)."""
        rows = self._query(
            "SELECT id, owner_token, viewer_token, spec, model, csv, step, rejects, metrics,"
            " fits, damage FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not rows:
            return None
        sid, owner, viewer, spec, model, csv, step, rejects, metrics, fits, damage = rows[0]
        if damage is not None:
            raise RecordDamaged(damage, marked=True)
        if not isinstance(model, bytes) or not model:
            raise RecordDamaged("its model is missing")
        if csv is not None and not isinstance(csv, str):
            raise RecordDamaged("its CSV is not text")
        if not isinstance(step, int):
            raise RecordDamaged("its step count is not a number")
        return SessionRecord(
            sid,
            owner,
            viewer,
            _parse(spec, dict, "spec"),
            model,
            csv,
            step,
            _parse(rejects, dict, "rejected candidates"),
            _parse(metrics, list, "loss history"),
            _parse(fits, dict, "symbolic fits"),
        )

    def mark_damaged(self, session_id: str, reason: str) -> None:
        """Remember why a session cannot be loaded (it then no longer counts against the cap)."""
        self._tx(
            lambda db: db.execute(
                "UPDATE sessions SET damage = ? WHERE id = ?", (reason, session_id)
            )
        )

    def tokens(self, session_id: str) -> SessionTokens | None:
        """A session's tokens, read without parsing the rest (a damaged one has them too)."""
        rows = self._query(
            "SELECT owner_token, viewer_token FROM sessions WHERE id = ?", (session_id,)
        )
        return SessionTokens(*rows[0]) if rows else None

    def exists(self, session_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM sessions WHERE id = ?", (session_id,)))

    def count_sessions(self) -> int:
        """Sessions that count against the cap: all but the damaged ones."""
        return self._query("SELECT COUNT(*) FROM sessions WHERE damage IS NULL")[0][0]

    def session_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM sessions ORDER BY created")]

    def delete_session(self, session_id: str) -> None:
        self._tx(lambda db: db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)))

    def save_checkpoint(
        self, session_id: str, model: bytes, step: int, metrics: list[dict[str, Any]]
    ) -> None:
        """The latest model state (end of a train run, reset, undo...)."""
        self._tx(
            lambda db: db.execute(
                "UPDATE sessions SET model = ?, step = ?, metrics = ?, updated = ? WHERE id = ?",
                (model, step, json.dumps(metrics), time.time(), session_id),
            )
        )

    def save_spec(self, session_id: str, spec: dict[str, Any]) -> None:
        self._tx(
            lambda db: db.execute(
                "UPDATE sessions SET spec = ?, updated = ? WHERE id = ?",
                (json.dumps(spec), time.time(), session_id),
            )
        )

    def save_rejects(self, session_id: str, rejects: dict[str, list[str]]) -> None:
        self._tx(
            lambda db: db.execute(
                "UPDATE sessions SET rejects = ?, updated = ? WHERE id = ?",
                (json.dumps(rejects), time.time(), session_id),
            )
        )

    # --- edits ----------------------------------------------------------------------------
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


def _insert_session(db: sqlite3.Connection, rec: SessionRecord) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO sessions (id, owner_token, viewer_token, spec, csv, created, updated,"
        " step, rejects, metrics, fits, model) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            rec.id, rec.owner_token, rec.viewer_token, json.dumps(rec.spec), rec.csv, now, now,
            rec.step, json.dumps(rec.rejects), json.dumps(rec.metrics), json.dumps(rec.fits),
            rec.model,
        ),
    )  # fmt: skip


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
        params = _parse(params, dict, "parameters")
    except RecordDamaged as exc:
        params = {}
        problems.append(str(exc))
    damage = "; ".join(problems) or None
    return EditRecord(int(seq), kind, params, summary, step, bool(undone), damage)


def _parse(text: Any, kind: type, what: str) -> Any:
    """A JSON column, or :class:`RecordDamaged` naming it."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RecordDamaged(f"its {what} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise RecordDamaged(f"its {what} is not a JSON {kind.__name__}")
    return value
