"""The SQLite layer under the session and class stores: one connection behind a lock, each write
one committed transaction, and the errors the stores raise.

stdlib ``sqlite3`` in WAL mode, one connection guarded by a lock (workers write from their own
threads). Every write is one transaction that has committed when the method returns, so a caller
that acknowledges after calling it never acknowledges something a crash could lose.

Faults: a write that fails (full or read-only disk) raises :class:`StorageError` with a readable
reason and leaves the database as it was, so the caller can leave memory as it was too. A row that
cannot be parsed raises :class:`RecordDamaged`. A database file that cannot be opened is kept
aside under a timestamped name and a fresh one started (``dbfile.open_database``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .dbfile import Salvage, open_database

__all__ = ["DAMAGED_FILE", "RecordDamaged", "SqliteDatabase", "StorageError", "parse_json"]


DAMAGED_FILE = "the database file is damaged"


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
            why = DAMAGED_FILE
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


class SqliteDatabase:
    """One SQLite file behind a lock: each ``_tx`` is one committed transaction, errors come out
    as :class:`StorageError`. Subclasses give ``_prepare`` (settings and schema)."""

    # ``salvage(damaged, fresh)``: copies what can be read of a file that fails its check into
    # a fresh one that takes its place (dbfile.open_database); None keeps such a file in use.
    _salvage: Salvage | None = None

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, self._prepare, self._salvage)

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


def parse_json(text: Any, kind: type, what: str) -> Any:
    """A JSON column, or :class:`RecordDamaged` naming it."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RecordDamaged(f"its {what} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise RecordDamaged(f"its {what} is not a JSON {kind.__name__}")
    return value
