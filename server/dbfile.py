"""Opening the database file, and what to do when it cannot be read.

A file SQLite cannot open (a damaged header: "file is not a database") or an empty one (0 bytes,
with no write-ahead log that could still hold its contents: something truncated it) is renamed
aside as ``<name>.damaged-<UTC time>`` (or ``.empty-``; never overwriting an earlier one),
together with its ``-wal``/``-shm`` files, and a fresh database is started; the server says so at
ERROR. A file that opens but fails ``PRAGMA quick_check`` is rebuilt when its owner gives a
``salvage`` (copy what can be read into a fresh file, which takes its place; the damaged file is
renamed aside): SQLite cannot change a row whose pages are damaged, so without a rebuild such a
session could never be deleted. Without ``salvage``, or if the rebuild fails, the file is copied
aside and kept in use: its readable rows go on serving.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["open_database", "set_aside"]

log = logging.getLogger("kan_workbench.store")
SIDE_FILES = ("-wal", "-shm")


Salvage = Callable[[sqlite3.Connection, sqlite3.Connection], list[str]]


def open_database(
    path: Path, prepare: Callable[[sqlite3.Connection], None], salvage: Salvage | None = None
) -> sqlite3.Connection:
    """A connection to ``path`` after ``prepare(db)`` (schema, settings); see the module doc.
    ``salvage(damaged, fresh)`` copies what it can read and returns notes on what it could not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _is_truncated(path):
        kept = set_aside(path, "empty")
        log.error(
            "the database %s is empty (0 bytes): its sessions are lost; kept it as %s and "
            "started a fresh database",
            path,
            kept.name,
        )
    db = None
    try:
        db = _connect(path, prepare)
        problems = [row[0] for row in db.execute("PRAGMA quick_check(20)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()  # before the file is renamed aside
        if isinstance(exc, sqlite3.OperationalError):
            raise  # locked, read-only, cannot open...: the file itself may be fine
        kept = set_aside(path, "damaged")
        log.error(
            "cannot read the database %s (%s): kept it as %s and started a fresh, empty "
            "database; the sessions it held are not served",
            path,
            exc,
            kept.name,
        )
        return _connect(path, prepare)
    # quick_check's rows may hold several lines, and a "*** in database main ***" heading
    detail = "; ".join(
        line for row in problems for line in row.splitlines() if not line.startswith("***")
    )
    if problems != ["ok"] and salvage is not None:
        rebuilt = _rebuild(path, db, prepare, salvage, detail)
        if rebuilt is not None:
            return rebuilt
    if problems != ["ok"]:
        kept = _copy_aside(path, "damaged")
        log.error(
            "the database %s is partly damaged (%s); a copy is kept as %s; sessions that "
            "cannot be read will be reported damaged",
            path,
            detail,
            kept.name,
        )
    return db


def _rebuild(
    path: Path,
    db: sqlite3.Connection,
    prepare: Callable[[sqlite3.Connection], None],
    salvage: Salvage,
    problems: str,
) -> sqlite3.Connection | None:
    """Copy what ``salvage`` can read from ``db`` into a fresh file that replaces ``path`` (kept
    aside); None, with ``db`` still open and ``path`` untouched, if that fails."""
    fresh = path.with_name(path.name + ".rebuilding")
    _remove(fresh)
    try:
        new = _connect(fresh, prepare)
        try:
            new.execute("BEGIN")
            notes = salvage(db, new)
            new.execute("COMMIT")
        finally:
            new.close()
    except Exception as exc:
        log.error("could not rebuild the partly damaged database %s: %r", path, exc)
        _remove(fresh)
        return None
    db.close()
    kept = set_aside(path, "damaged")
    for side in ("", *SIDE_FILES):
        src = fresh.with_name(fresh.name + side)
        if src.exists():
            src.rename(path.with_name(path.name + side))
    log.error(
        "the database %s is partly damaged (%s); kept it as %s and rebuilt it from what could be "
        "read%s",
        path,
        problems,
        kept.name,
        (": " + "; ".join(notes)) if notes else " (every row)",
    )
    return _connect(path, prepare)


def _remove(path: Path) -> None:
    for side in ("", *SIDE_FILES):
        path.with_name(path.name + side).unlink(missing_ok=True)


def _connect(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        prepare(db)
    except BaseException:
        db.close()  # before the file is renamed aside
        raise
    return db


def _is_truncated(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size > 0:
        return False
    wal = path.with_name(path.name + "-wal")
    return not (wal.is_file() and wal.stat().st_size > 0)


def _free_name(path: Path, kind: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{path.name}.{kind}-{stamp}"
    n = 0
    while True:
        name = base if n == 0 else f"{base}-{n}"
        taken = [path.with_name(name + side) for side in ("", *SIDE_FILES)]
        if not any(p.exists() for p in taken):
            return path.with_name(name)
        n += 1


def set_aside(path: Path, kind: str) -> Path:
    """Rename ``path`` (and its -wal/-shm) to a new timestamped name; returns that name."""
    target = _free_name(path, kind)
    for side in ("", *SIDE_FILES):
        src = path.with_name(path.name + side)
        if src.exists():
            src.rename(target.with_name(target.name + side))
    return target


def _copy_aside(path: Path, kind: str) -> Path:
    target = _free_name(path, kind)
    for side in ("", *SIDE_FILES):
        src = path.with_name(path.name + side)
        if src.exists():
            shutil.copy2(src, target.with_name(target.name + side))
    return target
