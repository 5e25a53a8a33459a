"""``SessionManager``: creates sessions, finds them (loading from the store on demand), evicts
idle ones to disk, and watches for hung steps. Lives in the app's lifespan.

Faults: a store that cannot write answers 503 (:class:`StorageError`'s reason) and nothing
changes, in memory or on disk. A stored session that cannot be rebuilt (a damaged model, spec or
CSV) is marked damaged: every access answers 409 naming the damage, it no longer counts against
the cap, and its owner can still delete it. A checkpoint of training progress that the disk
refuses is not an edit refused: the session goes on with its progress in memory
(``Session.unsaved`` says why), ``housekeeping`` tries again every ``CHECKPOINT_RETRY_S``, such a
session is never evicted, and ``close`` makes one last try (logging what is lost).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

import kan_core

from .config import Settings
from .data import SpecError, build_dataset, build_model, build_spec
from .schemas import SessionCreate
from .sessions import CommandError, Session
from .store import RecordDamaged, SessionRecord, SessionTokens, StorageError, Store

log = logging.getLogger("kan_workbench.manager")
CHECKPOINT_RETRY_S = 5.0  # how often a refused checkpoint of a paused session is tried again


class SessionDamaged(CommandError):
    """A stored session that cannot be loaded; ``message`` says why."""

    def __init__(self, session_id: str, reason: str):
        super().__init__(
            409,
            f"session {session_id!r} is damaged and cannot be loaded: {reason}; "
            "its owner can delete it",
        )
        self.reason = reason


class SessionManager:
    def __init__(self, settings: Settings, store: Store):
        self.settings, self.store = settings, store
        self._live: dict[str, Session] = {}
        self._lock = threading.RLock()
        self._retry_at: dict[str, float] = {}  # session id -> when to retry its checkpoint

    @property
    def n_live(self) -> int:
        return len(self._live)

    def create(self, req: SessionCreate) -> Session:
        """Validate, build, persist and start a session (blocking: call off the event loop)."""
        if stored(self.store.count_sessions) >= self.settings.max_sessions:
            raise CommandError(
                429, f"at most {self.settings.max_sessions} sessions; delete one first"
            )
        spec = build_spec(req, self.settings)
        try:
            dataset = build_dataset(spec, req.csv, self.settings)
            model = build_model(spec, dataset)
        except SpecError:
            raise
        except Exception as exc:  # e.g. a formula that evaluates to NaN everywhere
            log.warning("create failed: %r", exc)
            raise SpecError(f"cannot build this session: {type(exc).__name__}: {exc}") from None
        return self.start_new(spec, req.csv, dataset, model)

    def start_new(self, spec: dict, csv: str | None, dataset: dict, model) -> Session:
        """Store and start a session whose model and data are built and checked (by ``create``
        from a spec, or by ``bridge`` from an uploaded model)."""
        rec = SessionRecord(
            id=secrets.token_urlsafe(9),
            owner_token=secrets.token_urlsafe(24),
            viewer_token=secrets.token_urlsafe(24),
            spec=spec,
            model=model.to_bytes(),
            csv=csv,
        )
        stored(self.store.create_session, rec)
        return self._start(Session(rec, dataset, model, self.settings, self.store))

    def get_live(self, session_id: str) -> Session | None:
        return self._live.get(session_id)

    def get(self, session_id: str) -> Session | None:
        """The live session, loading it from the store if it was evicted or the server
        restarted (blocking when it loads: call off the event loop). Raises
        :class:`SessionDamaged` (409) for one that cannot be rebuilt."""
        s = self._live.get(session_id)
        if s is not None:
            return s
        with self._lock:
            s = self._live.get(session_id)
            if s is not None:
                return s
            try:
                rec = stored(self.store.load_session, session_id)
            except RecordDamaged as exc:
                if exc.marked:
                    raise SessionDamaged(session_id, str(exc)) from None
                raise self._damaged(session_id, str(exc)) from None
            if rec is None:
                return None
            return self._start(self._rebuild(rec))

    def _rebuild(self, rec: SessionRecord) -> Session:
        """A live Session from its record; marks the record damaged when that fails."""
        try:
            dataset = build_dataset(rec.spec, rec.csv, self.settings)
        except Exception as exc:
            raise self._damaged(rec.id, f"its dataset cannot be rebuilt ({_why(exc)})") from None
        try:
            model = kan_core.KAN.from_bytes(rec.model)
            model.set_reference_input(dataset["train_input"])
        except Exception as exc:
            raise self._damaged(rec.id, f"its model cannot be read ({_why(exc)})") from None
        try:
            return Session(rec, dataset, model, self.settings, self.store)
        except Exception as exc:
            raise self._damaged(rec.id, f"its spec is incomplete ({_why(exc)})") from None

    def _damaged(self, session_id: str, reason: str) -> SessionDamaged:
        """Log and remember the damage; returns the error to raise."""
        log.error("session %s is damaged: %s", session_id, reason)
        try:
            self.store.mark_damaged(session_id, reason)
        except StorageError as exc:  # still reported; it is tried again on the next access
            log.error("session %s: could not mark it damaged: %s", session_id, exc)
        return SessionDamaged(session_id, reason)

    def tokens(self, session_id: str) -> SessionTokens | None:
        """A session's tokens without loading it (so a damaged session can be deleted)."""
        s = self._live.get(session_id)
        if s is not None:
            return SessionTokens(s.owner_token, s.viewer_token)
        return stored(self.store.tokens, session_id)

    def delete(self, session_id: str) -> None:
        """Delete from the store first: if that fails (503) the session goes on as it was."""
        stored(self.store.delete_session, session_id)
        with self._lock:
            s = self._live.pop(session_id, None)
        if s is not None:
            s.hub.publish_event("deleted", "this session was deleted")
            s.stop()

    def _start(self, s: Session) -> Session:
        with self._lock:
            if len(self._live) >= self.settings.max_live_sessions:
                self._evict(force_one=True)
            if len(self._live) >= self.settings.max_live_sessions:
                raise CommandError(503, "too many active sessions; try again later")
            self._live[s.id] = s
        s.start()
        return s

    def _evict(self, force_one: bool = False) -> list[str]:
        """Stop idle sessions (their state is already in the store); ``force_one`` evicts the
        least recently used idle session even if it has not been idle long."""
        now = time.monotonic()
        # One whose progress could not be saved stays: evicting it would lose that progress.
        idle = sorted(
            (s for s in self._live.values() if not s.busy and s.unsaved is None),
            key=lambda s: s.last_active,
        )
        gone = [s for s in idle if now - s.last_active > self.settings.idle_evict_s]
        if force_one and not gone and idle:
            gone = idle[:1]
        for s in gone:
            self._live.pop(s.id, None)
            s.stop()
        return [s.id for s in gone]

    def housekeeping(self) -> None:
        """Called about once a second by the app: hung-step watchdog, saving again progress
        a refused checkpoint kept in memory, and idle eviction."""
        now = time.monotonic()
        for s in list(self._live.values()):
            s.check_hung()
            if s.unsaved is None:
                self._retry_at.pop(s.id, None)
            elif s.status != "training":  # a training session retries at its next checkpoint
                if now >= self._retry_at.setdefault(s.id, now + CHECKPOINT_RETRY_S):
                    self._retry_at[s.id] = now + CHECKPOINT_RETRY_S
                    s.submit(s.checkpoint)
        with self._lock:
            evicted = self._evict()
        if evicted:
            log.info("evicted idle sessions to disk: %s", evicted)

    def close(self) -> None:
        with self._lock:
            sessions, self._live = list(self._live.values()), {}
        for s in sessions:
            if s.unsaved is not None:
                s.submit(s.checkpoint)  # one last try, before the stop in the worker's queue
            s.stop(timeout=2.0)
            if s.unsaved is not None:
                log.error("session %s: training progress lost at shutdown: %s", s.id, s.unsaved)


def stored(method, *args):
    """Call a store method; a storage fault becomes a 503 that says why."""
    try:
        return method(*args)
    except StorageError as exc:
        log.error("storage fault: %s", exc)
        raise CommandError(503, str(exc)) from exc


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
