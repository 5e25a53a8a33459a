"""Storage faults: memory and disk always agree.

A full or read-only disk is simulated by wrapping the store's connection so that every write
fails as SQLite fails (on a full disk SQLite has already rolled the transaction back itself), or
for real with ``PRAGMA max_page_count``. Damage is written into the database file directly.
"""

import logging
import sqlite3
import time
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from srv_helpers import create, train
from starlette.websockets import WebSocketDisconnect

from server import manager as manager_module
from server.main import create_app
from server.store import SessionRecord, StorageError, Store
from server.stream import close_reason

FULL = "database or disk is full"
READ_ONLY = "attempt to write a readonly database"
WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


class FaultyConnection:
    """The store's connection, with every write failing as SQLite does on a bad disk."""

    def __init__(self, db: sqlite3.Connection, message: str):
        self._db, self.message = db, message

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def execute(self, sql: str, args=()):
        if sql.split()[0].upper() in WRITES:
            if self.message == FULL and self._db.in_transaction:
                self._db.execute("ROLLBACK")  # what SQLite itself does on SQLITE_FULL
            raise sqlite3.OperationalError(self.message)
        return self._db.execute(sql, args)

    def close(self) -> None:
        self._db.close()


@contextmanager
def bad_disk(store: Store, message: str = FULL):
    real = store._db
    store._db = FaultyConnection(real, message)
    try:
        yield
    finally:
        store._db = real


def _store(client) -> Store:
    return client.app.state.store


def _snap(client, s) -> dict:
    r = client.get(s.url(), headers=s.headers)
    assert r.status_code == 200, r.text
    return r.json()


def _edge(snap: dict, l: int, i: int, j: int) -> dict:
    return next(e for e in snap["edges"] if (e["l"], e["i"], e["j"]) == (l, i, j))


def _refused(r, why: str) -> None:
    assert r.status_code == 503, r.text
    assert why in r.json()["detail"] and "nothing changed" in r.json()["detail"], r.text


# --- full or read-only disk: each change happens in memory and on disk, or in neither --------
def test_store_write_on_full_disk_raises_the_real_reason_and_leaves_no_transaction(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(SessionRecord("s1", "o", "v", {"seed": 0}, b"m0"))
    with bad_disk(store), pytest.raises(StorageError, match="the disk is full; nothing changed"):
        store.delete_session("s1")
    with bad_disk(store, READ_ONLY), pytest.raises(StorageError, match="read-only"):
        store.save_checkpoint("s1", b"m1", 1, [])
    store.save_checkpoint("s1", b"m2", 2, [])  # the connection is usable again
    assert store.load_session("s1").model == b"m2"


def test_delete_on_a_full_disk_is_a_503_and_the_session_lives_on(client):
    s = create(client, preset="toy")
    with bad_disk(_store(client)):
        _refused(client.delete(s.url(), headers=s.headers), "the disk is full")
    live = client.app.state.manager.get_live(s.id)
    assert "deleted" not in [ev["kind"] for ev in live.hub.events]  # viewers were not told
    assert _snap(client, s)["id"] == s.id and _store(client).exists(s.id)
    assert client.delete(s.url(), headers=s.headers).status_code == 204
    assert client.get(s.url(), headers=s.headers).status_code == 404


@pytest.mark.parametrize("message", [FULL, READ_ONLY])
def test_refused_edits_change_nothing_in_memory(client, message):
    s = create(client, preset="toy")
    assert client.post(s.url("/edges/0/0/0/prune"), headers=s.headers).status_code == 200
    before = _snap(client, s)
    why = "the disk is full" if message == FULL else "read-only"
    with bad_disk(_store(client), message):
        _refused(client.post(s.url("/edges/0/1/0/prune"), headers=s.headers), why)
        r = client.post(s.url("/edges/0/0/1/reject"), json={"name": "sin"}, headers=s.headers)
        _refused(r, why)
        _refused(client.patch(s.url("/settings"), json={"lr": 0.5}, headers=s.headers), why)
        _refused(client.post(s.url("/undo"), headers=s.headers), why)
        after = _snap(client, s)
    for key in ("rejects", "train", "history", "can_undo"):
        assert after[key] == before[key], key
    assert _edge(after, 0, 0, 0)["state"] == "pruned" and _edge(after, 0, 1, 0)["state"] == "active"
    # The disk agrees, and works again once it has room.
    rec = _store(client).load_session(s.id)
    assert rec.rejects == {} and rec.spec["train"] == before["train"]
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200
    assert _edge(_snap(client, s), 0, 0, 0)["state"] == "active"


def test_create_on_a_really_full_database_is_a_503(client):
    create(client, preset="toy")
    db = _store(client)._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count={pages}")  # a real SQLITE_FULL on the next growth
    r = client.post("/api/sessions", json={"preset": "toy", "train_num": 200, "test_num": 100})
    _refused(r, "the disk is full")
    assert _store(client).count_sessions() == 1
    db.execute("PRAGMA max_page_count=1073741823")
    create(client, preset="toy")


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("before", b"junk", "its saved model cannot be read"),
        ("before", "model as text", "its saved model cannot be read (TypeError"),
        ("params", "{not json", "its parameter record is not valid JSON"),
        ("params", "[1, 2]", "its parameter record is not a JSON dict"),
        ("step", "three", "its step is not a number"),
    ],
)
def test_undo_of_a_damaged_edit_is_a_409_naming_it_and_changes_nothing(client, column, value, why):
    s = create(client, preset="toy")
    client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    store = _store(client)
    store._db.execute(f"UPDATE edits SET {column} = ? WHERE session_id = ?", (value, s.id))
    r = client.post(s.url("/undo"), headers=s.headers)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail.startswith("cannot undo: edit 1 (pruned edge (0, 0, 0)) is damaged: "), detail
    assert why in detail and detail.endswith("; nothing changed"), detail
    snap = _snap(client, s)  # the history lists the edit still, and reads keep working
    assert snap["can_undo"] and [(e["seq"], e["undone"]) for e in snap["history"]] == [(1, False)]
    assert _edge(snap, 0, 0, 0)["state"] == "pruned"
    assert store.load_session(s.id).model == client.app.state.manager.get_live(s.id).committed_bytes
    assert client.post(s.url("/edges/0/1/0/prune"), headers=s.headers).status_code == 200
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200  # the new edit
    assert _edge(_snap(client, s), 0, 1, 0)["state"] == "active"


def test_redo_of_a_damaged_edit_is_a_409_naming_it(client):
    s = create(client, preset="toy")
    client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200
    _store(client)._db.execute("UPDATE edits SET after = ? WHERE session_id = ?", (b"x", s.id))
    r = client.post(s.url("/redo"), headers=s.headers)
    assert r.status_code == 409 and r.json()["detail"].startswith("cannot redo: edit 1 ("), r.text
    snap = _snap(client, s)
    assert snap["can_redo"] and _edge(snap, 0, 0, 0)["state"] == "active"


# --- damaged sessions and database files ------------------------------------------------------
def _damage(settings, sql: str, args: tuple) -> None:
    with sqlite3.connect(settings.db_path) as db:
        db.execute(sql, args)
    db.close()


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("model", b"\x00garbage", "model"),
        ("spec", "{not json", "spec"),
        ("csv", "a,b\n1,x\n", "dataset"),
    ],
)
def test_a_damaged_session_is_a_409_naming_it_and_can_be_deleted(settings, column, value, needle):
    settings.max_sessions = 2
    with TestClient(create_app(settings)) as c:
        bad = create(c, csv="a,b\n" + "".join(f"{k},{2 * k}\n" for k in range(40)))
        good = create(c, preset="toy")
    _damage(settings, f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, bad.id))
    with TestClient(create_app(settings)) as c:
        for _ in range(2):  # every time, not only the first
            r = c.get(bad.url(), headers=bad.headers)
            assert r.status_code == 409 and "damaged" in r.text and needle in r.text, r.text
        for token in (bad.owner, bad.viewer):  # the stream closes at once, saying why
            with pytest.raises(WebSocketDisconnect) as exc:
                with c.websocket_connect(bad.url(f"/stream?token={token}")) as ws:
                    ws.receive_json()
            assert exc.value.code == 1013, exc.value
            assert "is damaged" in exc.value.reason and needle in exc.value.reason, exc.value
        assert c.get(good.url(), headers=good.headers).status_code == 200
        create(c, preset="toy")  # the damaged session no longer holds a place under the cap
        assert c.delete(bad.url(), headers=bad.viewer_headers).status_code == 403
        assert c.delete(bad.url(), headers=bad.headers).status_code == 204
        assert c.get(bad.url(), headers=bad.headers).status_code == 404


def test_a_close_reason_fits_a_close_frame_in_whole_characters():
    assert close_reason("short") == "short"
    long = "damaged: naïve ünïcode " * 20
    cut = close_reason(long)
    assert len(cut.encode()) <= 123 and cut.endswith("...") and long.startswith(cut[:-3])


def test_a_damaged_database_header_is_kept_aside_and_a_fresh_one_started(settings, caplog):
    with TestClient(create_app(settings)) as c:
        s = create(c, preset="toy")
    data = settings.db_path.read_bytes()
    garbage = b"this is not a database" * 10
    settings.db_path.write_bytes(garbage + data[len(garbage) :])
    for n in range(2):  # twice: the second damaged file never overwrites the first
        with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as c:
            assert c.get("/api/health").status_code == 200
            assert c.get(s.url(), headers=s.headers).status_code == 404
            create(c, preset="toy")
        kept = sorted(
            p
            for p in settings.data_dir.glob("workbench.sqlite3.damaged-*")
            if not p.name.endswith(("-wal", "-shm"))
        )
        assert len(kept) == n + 1, kept
        assert kept[0].read_bytes().startswith(garbage)
        assert any(
            r.levelno >= logging.ERROR and "cannot read" in r.message for r in caplog.records
        )
        settings.db_path.write_bytes(garbage)


def _first_overflow_page(db_path, table: str, cell: int) -> int:
    """The page holding the first overflow part of ``table``'s ``cell``-th row (SQLite's dbstat)."""
    with sqlite3.connect(db_path) as db:
        try:
            row = db.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND path = ?",
                (table, f"/{cell:03x}+000000"),
            ).fetchone()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
    db.close()
    assert row is not None, f"{table} row {cell} has no overflow page"
    return row[0]


def test_a_partly_damaged_database_is_rebuilt_and_its_damaged_session_can_be_deleted(
    settings, caplog
):
    with TestClient(create_app(settings)) as c:
        bad = create(c, preset="toy")
        good = create(c, preset="toy")
        for s in (bad, good):
            assert c.post(s.url("/edges/0/0/0/prune"), headers=s.headers).status_code == 200
    # The model of ``bad`` (its row's first overflow page) now points to a page that is not there.
    page = _first_overflow_page(settings.db_path, "sessions", 0)
    data = bytearray(settings.db_path.read_bytes())
    data[(page - 1) * 4096 : (page - 1) * 4096 + 4] = b"\xff" * 4
    settings.db_path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as c:
        r = c.get(bad.url(), headers=bad.headers)
        assert r.status_code == 409 and "database file is damaged there" in r.text, r.text
        snap = _snap(c, good)  # the other session serves as usual, with its history
        assert _edge(snap, 0, 0, 0)["state"] == "pruned" and snap["can_undo"]
        assert c.post(good.url("/undo"), headers=good.headers).status_code == 200
        assert c.delete(bad.url(), headers=bad.headers).status_code == 204
        assert c.get(bad.url(), headers=bad.headers).status_code == 404
        create(c, preset="toy")
    logged = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("partly damaged" in m and f"session {bad.id} is damaged" in m for m in logged)
    kept = list(settings.data_dir.glob("workbench.sqlite3.damaged-*[0-9Z]"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data)  # the damaged file, as it was
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    db.close()


def test_an_empty_database_file_is_reported_and_kept_aside(settings, caplog):
    settings.data_dir.mkdir(parents=True)
    settings.db_path.write_bytes(b"")
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as c:
        assert c.get("/api/health").status_code == 200
    assert any("empty (0 bytes)" in r.message for r in caplog.records if r.levelno >= logging.ERROR)
    assert len(list(settings.data_dir.glob("workbench.sqlite3.empty-*"))) == 1


# --- training progress on a full disk: not an edit, so the session carries on -----------------
def _kinds(live) -> list[str]:
    return [ev["kind"] for ev in live.hub.events]


@pytest.mark.parametrize(("message", "why"), [(FULL, "the disk is full"), (READ_ONLY, "read-only")])
def test_a_refused_checkpoint_keeps_training_in_memory_warns_and_saves_again(
    client, monkeypatch, message, why
):
    monkeypatch.setattr(manager_module, "CHECKPOINT_RETRY_S", 0.0)
    s = create(client, preset="toy")
    store, manager = _store(client), client.app.state.manager
    live = manager.get_live(s.id)
    with bad_disk(store, message):
        assert train(client, s, 3)["kind"] == "trained"
        snap = _snap(client, s)
        assert (snap["status"], snap["step"], snap["error"]) == ("paused", 3, None)
        assert store.load_session(s.id).step == 0  # the disk keeps its last written checkpoint
        manager.housekeeping()  # a retry while the disk is still full: no second warning
        _refused(client.post(s.url("/edges/0/0/0/prune"), headers=s.headers), why)
        assert _kinds(live).count("unsaved") == 1 and "saved" not in _kinds(live)
        assert why in live.unsaved and live.status == "paused"
        warning = next(ev for ev in live.hub.events if ev["kind"] == "unsaved")
        assert f"step 3 is not saved ({live.unsaved})" in warning["message"]
        assert why in warning["message"] and warning["data"] == {"reason": live.unsaved}
        _wait(lambda: live.hub.n_subscribers == 0)
        assert manager._evict(force_one=True) == []  # its progress lives only in memory
    _wait(lambda: manager.housekeeping() or store.load_session(s.id).step == 3)
    rec = store.load_session(s.id)
    assert rec.model == live.committed_bytes and [p["step"] for p in rec.metrics] == [1, 2, 3]
    assert live.unsaved is None and _kinds(live).count("saved") == 1
    assert train(client, s, 1)["kind"] == "trained" and store.load_session(s.id).step == 4


@pytest.mark.parametrize("disk_back", [True, False])
def test_progress_only_in_memory_gets_a_last_try_at_shutdown(
    settings, monkeypatch, caplog, disk_back
):
    monkeypatch.setattr(manager_module, "CHECKPOINT_RETRY_S", 1e9)  # no retry but the last one
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)) as c:
        s = create(c, preset="toy")
        store = _store(c)
        real, store._db = store._db, FaultyConnection(store._db, FULL)
        assert train(c, s, 2)["kind"] == "trained"
        if disk_back:
            store._db = real
    lost = [r.message for r in caplog.records if "progress lost at shutdown" in r.message]
    assert lost == (
        []
        if disk_back
        else [f"session {s.id}: training progress lost at shutdown: the disk is full"]
    ), lost
    with TestClient(create_app(settings)) as c:
        assert _snap(c, s)["step"] == (2 if disk_back else 0)


def _wait(done, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
