"""Store: committed writes, undo/redo over model snapshots, history trimming, reopen."""

import logging

import pytest

from server.store import MAX_EDITS_KEPT, SessionRecord, StorageError, Store


def _rec(sid="s1", model=b"m0"):
    return SessionRecord(
        id=sid,
        owner_token="own",
        viewer_token="view",
        spec={"kind": "preset", "seed": 0},
        model=model,
    )


def test_create_load_roundtrip(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(_rec())
    rec = store.load_session("s1")
    assert rec.owner_token == "own" and rec.viewer_token == "view" and rec.model == b"m0"
    assert store.load_session("nope") is None
    assert store.count_sessions() == 1 and store.session_ids() == ["s1"]


def test_checkpoint_survives_reopen(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = Store(path)
    store.create_session(_rec())
    store.save_checkpoint("s1", b"m7", 7, [{"step": 7, "train_loss": 0.1}])
    store.save_rejects("s1", {"0,0,0": ["sin"]})
    store.close()
    rec = Store(path).load_session("s1")
    assert (rec.model, rec.step, rec.rejects) == (b"m7", 7, {"0,0,0": ["sin"]})
    assert rec.metrics == [{"step": 7, "train_loss": 0.1}]


def test_undo_redo_and_new_edit_drops_redo_tail(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(_rec())
    store.record_edit("s1", "prune_edge", {"l": 0}, "e1", b"m0", b"m1", 3, [])
    store.record_edit("s1", "refine", {"grid": 10}, "e2", b"m1", b"m2", 5, [])
    rec, model = store.undo("s1", 5, [])
    assert (rec.summary, model, store.load_session("s1").model) == ("e2", b"m1", b"m1")
    rec, model = store.undo("s1", 5, [])
    assert (rec.summary, model) == ("e1", b"m0")
    assert store.undo("s1", 5, []) is None
    rec, model = store.redo("s1", 5, [])
    assert (rec.summary, model) == ("e1", b"m1")
    store.record_edit("s1", "reset", {}, "e3", b"m1", b"m3", 6, [])
    assert store.redo("s1", 6, []) is None  # e2 was dropped by the new edit
    assert [(e.summary, e.undone) for e in store.edits("s1")] == [("e1", False), ("e3", False)]


def test_history_is_trimmed(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(_rec())
    for n in range(MAX_EDITS_KEPT + 5):
        store.record_edit("s1", "k", {}, f"e{n}", b"a", b"b", n, [])
    edits = store.edits("s1")
    assert len(edits) == MAX_EDITS_KEPT and edits[-1].summary == f"e{MAX_EDITS_KEPT + 4}"


def test_delete_cascades(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(_rec())
    store.record_edit("s1", "k", {}, "e", b"a", b"b", 0, [])
    store.delete_session("s1")
    assert not store.exists("s1") and store.edits("s1") == []


def test_old_databases_gain_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, owner_token TEXT NOT NULL,"
        " viewer_token TEXT NOT NULL, spec TEXT NOT NULL, csv TEXT, created REAL NOT NULL,"
        " updated REAL NOT NULL, step INTEGER NOT NULL DEFAULT 0,"
        " rejects TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '[]',"
        " model BLOB NOT NULL)"
    )
    db.execute("INSERT INTO sessions VALUES ('s1','o','v','{}',NULL,0,0,3,'{}','[]',x'00')")
    db.commit()
    db.close()
    rec = Store(path).load_session("s1")
    assert rec.step == 3 and rec.fits == {}


def test_history_bytes_are_bounded_keeping_the_newest_edits(tmp_path):
    store = Store(tmp_path / "db.sqlite3", max_history_bytes=10_000)
    store.create_session(_rec())
    snap = b"x" * 1_500  # one edit holds before + after = 3,000 bytes
    for n in range(10):
        store.record_edit("s1", "k", {}, f"e{n}", snap, snap, n, [])
    edits = store.edits("s1")
    assert [e.summary for e in edits] == ["e7", "e8", "e9"]  # 3 × 3,000 ≤ 10,000 < 4 × 3,000
    assert store.history_bytes("s1") == 9_000
    rec, model = store.undo("s1", 9, [])
    assert (rec.summary, model) == ("e9", snap)


def test_one_edit_larger_than_the_bound_is_still_undoable(tmp_path):
    store = Store(tmp_path / "db.sqlite3", max_history_bytes=100)
    store.create_session(_rec())
    store.record_edit("s1", "k", {}, "small", b"a", b"b", 1, [])
    store.record_edit("s1", "k", {}, "big", b"a" * 500, b"b" * 500, 2, [])
    assert [e.summary for e in store.edits("s1")] == ["big"]
    assert store.undo("s1", 2, [])[1] == b"a" * 500


def test_fork_copies_the_state_and_history_under_new_tokens_in_one_transaction(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.create_session(_rec())
    store.record_edit("s1", "prune_edge", {"l": 0}, "e1", b"m0", b"m1", 3, [])
    store.record_edit("s1", "refine", {"grid": 10}, "e2", b"m1", b"m2", 5, [])
    store.undo("s1", 5, [])
    copy = SessionRecord("s2", "own2", "view2", {"kind": "preset", "seed": 0}, b"m1", step=5)
    copy.fits = {"0,0,0": {"name": "sin", "r2": 0.99}}
    store.fork("s1", copy)
    rec = store.load_session("s2")
    assert (rec.owner_token, rec.model, rec.step, rec.fits) == ("own2", b"m1", 5, copy.fits)
    assert [(e.summary, e.undone) for e in store.edits("s2")] == [("e1", False), ("e2", True)]
    assert store.redo("s2", 5, [])[1] == b"m2"  # the copy's history is its own
    assert [e.undone for e in store.edits("s1")] == [False, True]
    with pytest.raises(StorageError, match="UNIQUE"):  # the id is taken: nothing is written
        store.fork("s1", SessionRecord("s2", "o", "v", {}, b"x"))
    assert store.load_session("s2").owner_token == "own2" and len(store.edits("s2")) == 2


def _break_first_overflow_page(path, table: str) -> bytes:
    """Point ``table``'s first row's overflow chain at a page that is not there (needs dbstat)."""
    import sqlite3

    with sqlite3.connect(path) as db:
        try:
            (page,) = db.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND path = '/000+000000'", (table,)
            ).fetchone()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
    db.close()
    data = bytearray(path.read_bytes())
    data[(page - 1) * 4096 : (page - 1) * 4096 + 4] = b"\xff" * 4
    path.write_bytes(bytes(data))
    return bytes(data)


def _partly_damaged(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = Store(path)
    store.create_session(_rec())
    store.record_edit("s1", "k", {}, "big", b"a" * 9000, b"b" * 9000, 1, [])  # overflows a page
    store.record_edit("s1", "k", {}, "small", b"b", b"c", 2, [])
    store.close()
    return path, _break_first_overflow_page(path, "edits")


def test_a_partly_damaged_file_is_rebuilt_without_the_rows_it_cannot_read(tmp_path, caplog):
    path, damaged = _partly_damaged(tmp_path)
    with caplog.at_level(logging.ERROR):
        store = Store(path)
    assert [e.summary for e in store.edits("s1")] == ["small"]
    assert store.load_session("s1").model == b"c" and store.undo("s1", 2, [])[1] == b"b"
    assert [p.read_bytes() for p in tmp_path.glob("db.sqlite3.damaged-*[0-9Z]")] == [damaged]
    assert "session s1: 1 edit(s) of its history could not be read" in caplog.text
    assert store._query("PRAGMA quick_check") == [("ok",)]


def test_a_partly_damaged_file_that_cannot_be_rebuilt_is_copied_aside_and_kept(
    tmp_path, caplog, monkeypatch
):
    path, damaged = _partly_damaged(tmp_path)

    def fail(old, new):
        raise RuntimeError("no room for the copy")

    monkeypatch.setattr(Store, "_salvage", staticmethod(fail))
    with caplog.at_level(logging.ERROR):
        store = Store(path)
    assert "could not rebuild" in caplog.text and "a copy is kept" in caplog.text
    assert store.load_session("s1").model == b"c"  # still served, from the damaged file
    assert [p.read_bytes() for p in tmp_path.glob("db.sqlite3.damaged-*[0-9Z]")] == [damaged]
    assert not list(tmp_path.glob("*.rebuilding*"))
