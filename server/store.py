"""SQLite persistence of sessions: their spec, latest checkpoint and tokens (this module), and
their edit history (``store_edits``), over the SQLite layer in ``store_db``.

A session row that cannot be parsed raises :class:`RecordDamaged` (the manager then marks the
session damaged: ``damage`` holds why, and it is no longer loaded nor counted against the cap).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store_db import DAMAGED_FILE, RecordDamaged, SqliteDatabase, StorageError, parse_json
from .store_edits import (
    EDITS_SCHEMA,
    MAX_EDITS_KEPT,
    MAX_HISTORY_BYTES,
    EditDamaged,
    EditHistory,
    EditRecord,
)
from .store_salvage import UNREADABLE, salvage

__all__ = [
    "MAX_EDITS_KEPT",
    "MAX_HISTORY_BYTES",
    "EditDamaged",
    "EditRecord",
    "RecordDamaged",
    "SessionRecord",
    "SessionTokens",
    "SqliteDatabase",
    "StorageError",
    "Store",
]

SESSIONS_SCHEMA = """
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
"""
SCHEMA = SESSIONS_SCHEMA + EDITS_SCHEMA  # one file holds both tables
COLUMNS_ADDED = {"fits": "TEXT NOT NULL DEFAULT '{}'", "damage": "TEXT"}  # after the first release


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


class Store(EditHistory, SqliteDatabase):
    """All session database access. Thread-safe; each public method is one committed transaction."""

    def __init__(self, path: Path, max_history_bytes: int = MAX_HISTORY_BYTES):
        self.max_history_bytes = max_history_bytes
        super().__init__(path)

    _salvage = staticmethod(salvage)  # a partly damaged file is rebuilt (store_salvage.py)

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
        try:
            rows = self._query(
                "SELECT id, owner_token, viewer_token, spec, model, csv, step, rejects, metrics,"
                " fits, damage FROM sessions WHERE id = ?",
                (session_id,),
            )
        except StorageError as exc:  # damaged pages: this row's, if its tokens still read
            if exc.why == DAMAGED_FILE and self.tokens(session_id) is not None:
                raise RecordDamaged(UNREADABLE) from None
            raise
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
            parse_json(spec, dict, "spec"),
            model,
            csv,
            step,
            parse_json(rejects, dict, "rejected candidates"),
            parse_json(metrics, list, "loss history"),
            parse_json(fits, dict, "symbolic fits"),
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
