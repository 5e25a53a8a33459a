"""Per-class limits (students, copies: 429 naming the setting), class expiry (a class whose
teacher has gone is deleted with its hidden challenge session; the students' copies stay) and
the dashboard's mini-diagram figures (docs/classes.md)."""

from __future__ import annotations

import sqlite3
import time

import pytest
import torch
from fastapi.testclient import TestClient
from srv_helpers import create

import kan_core
from server.class_figures import DIAGRAM_EDGES, edge_layers
from server.class_store import ClassStore
from server.config import Settings
from server.expiry import expire_classes
from server.main import create_app

HOUR = 3600.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def small(tmp_path):
    """An app whose classes take 2 students' copies and expire after an hour."""
    settings = Settings(
        data_dir=tmp_path / "data",
        max_class_students=4,
        max_class_copies=2,
        class_ttl_hours=1,
        session_ttl_hours=1,
        metrics_hz=200,
        edges_hz=50,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def start_class(client) -> tuple:
    s = create(client, preset="toy", width=[2, 3, 1])
    r = client.post("/api/classes", json={"session": s.id}, headers=s.headers)
    assert r.status_code == 201, r.text
    return s, r.json()


def join(client, code: str, name: str):
    return client.post("/api/classes/join", json={"code": code, "name": name})


def test_copies_and_students_are_limited_per_class(small):
    _, cl = start_class(small)
    t = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
    studs = [join(small, cl["code"], name).json() for name in ("Ana", "Bo", "Cy")]
    r = small.post(f"{base}/handout", headers=t)
    assert r.status_code == 429, r.text
    detail = r.json()["detail"]
    assert "KAN_WB_MAX_CLASS_COPIES" in detail and "at most 2 copies" in detail
    assert "2 handed out now, 1 student without one" in detail
    mine = [small.get(f"{base}/me", headers=bearer(s["student_token"])).json() for s in studs]
    assert [m["session"] is not None for m in mine] == [True, True, False]
    assert small.get(base, headers=t).json()["handed_out"]

    late = join(small, cl["code"], "Di")  # a late joiner still joins, without a copy
    assert late.status_code == 201
    me = small.get(f"{base}/me", headers=bearer(late.json()["student_token"])).json()
    assert me["session"] is None
    r = small.post(f"{base}/handout", headers=t)
    assert r.status_code == 429 and "0 handed out now, 2 students without one" in r.text

    full = join(small, cl["code"], "Ed")
    assert full.status_code == 429
    assert "KAN_WB_MAX_CLASS_STUDENTS" in full.text and "at most 4 students" in full.text


def test_a_class_whose_teacher_has_gone_expires(small):
    classes = small.app.state.classes
    teacher, kept = start_class(small)
    _, gone = start_class(small)
    body = {
        "challenge": {"formula": "x_1*x_2", "width": [2, 2, 1], "train_num": 50, "test_num": 20}
    }
    challenge = small.post("/api/classes", json=body).json()
    ch_view = small.get(
        f"/api/classes/{challenge['id']}", headers=bearer(challenge["teacher_token"])
    )
    source = ch_view.json()["source"]
    ana = join(small, gone["code"], "Ana").json()
    assert small.post(
        f"/api/classes/{gone['id']}/handout", headers=bearer(gone["teacher_token"])
    ).is_success
    copy = small.get(f"/api/classes/{gone['id']}/me", headers=bearer(ana["student_token"])).json()[
        "session"
    ]

    for cl in (kept, gone, challenge):  # two hours old, and no teacher since
        room = classes.room(cl["id"])
        room.rec.created -= 2 * HOUR
        room.rec.used = None
    assert small.get(f"/api/classes/{kept['id']}", headers=bearer(kept["teacher_token"])).is_success
    assert classes.room(kept["id"]).rec.used == pytest.approx(time.time(), abs=60)  # came back

    assert sorted(expire_classes(classes)) == sorted([gone["id"], challenge["id"]])
    for cl in (gone, challenge):
        assert (
            small.get(f"/api/classes/{cl['id']}", headers=bearer(cl["teacher_token"])).status_code
            == 404
        )
        assert join(small, cl["code"], "Late").status_code == 404  # the code is free again
    assert small.get(f"/api/classes/{kept['id']}", headers=bearer(kept["teacher_token"])).is_success
    # the hidden source session goes with its challenge; the student's copy and the teacher's
    # own session stay (they expire as sessions do)
    assert (
        small.get(
            f"/api/sessions/{source['id']}", headers=bearer(source["owner_token"])
        ).status_code
        == 404
    )
    assert small.get(f"/api/sessions/{copy['id']}", headers=bearer(copy["owner_token"])).is_success
    assert small.get(teacher.url(), headers=teacher.headers).is_success
    # a copy of an expired class trains freely (no class can pause it any more)
    assert small.app.state.classes.paused_copy(copy["id"]) is None

    # stored: the rows are gone (students' links with them); the kept class keeps its use time
    path = small.app.state.settings.data_dir.resolve() / "classes.sqlite3"
    db = sqlite3.connect(path)
    ids = {r[0] for r in db.execute("SELECT id FROM classes")}
    links = db.execute("SELECT count(*) FROM students WHERE class_id = ?", (gone["id"],)).fetchone()
    db.close()
    assert ids == {kept["id"]} and links == (0,)
    again = ClassStore(path)
    try:
        (rec,) = again.load_all()
    finally:
        again.close()
    assert rec.id == kept["id"] and rec.used == pytest.approx(time.time(), abs=60)


def test_the_teachers_dashboard_keeps_a_challenges_source_session(small):
    body = {
        "challenge": {"formula": "x_1*x_2", "width": [2, 2, 1], "train_num": 50, "test_num": 20}
    }
    cl = small.post("/api/classes", json=body).json()
    t = bearer(cl["teacher_token"])
    source = small.get(f"/api/classes/{cl['id']}", headers=t).json()["source"]
    access, manager = small.app.state.access, small.app.state.manager
    old = time.time() - 2 * HOUR
    access.touch(source["id"], now=old, force=True)  # as if last used two hours ago
    assert source["id"] in access.expired()
    assert small.get(f"/api/classes/{cl['id']}", headers=t).is_success  # the teacher is back
    assert access.sweep(manager) == []
    assert small.get(
        f"/api/sessions/{source['id']}", headers=bearer(source["owner_token"])
    ).is_success


def test_expiry_off_keeps_every_class(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", class_ttl_hours=0)
    with TestClient(create_app(settings)) as client:
        _, cl = start_class(client)
        client.app.state.classes.room(cl["id"]).rec.created -= 1000 * HOUR
        assert expire_classes(client.app.state.classes) == []
        assert client.get(
            f"/api/classes/{cl['id']}", headers=bearer(cl["teacher_token"])
        ).is_success


def test_cards_carry_each_layers_edges_for_the_mini_diagram(client):
    _, cl = start_class(client)
    t = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
    ana = join(client, cl["code"], "Ana").json()
    client.post(f"{base}/handout", headers=t)
    mine = client.get(f"{base}/me", headers=bearer(ana["student_token"])).json()["session"]
    owner = bearer(mine["owner_token"])
    sid = mine["id"]
    assert client.post(f"/api/sessions/{sid}/edges/0/1/2/prune", headers=owner).is_success
    r = client.post(f"/api/sessions/{sid}/edges/1/0/0/symbolic", json={"name": "x"}, headers=owner)
    assert r.status_code == 200, r.text

    model = client.app.state.manager.get(sid).model  # the reference: the copy's own masks
    want = []
    for layer in model.layers:
        on, sym = layer.mask > 0, (layer.mask > 0) & (layer.sym_mask > 0)
        letters = "".join(
            "s" if s else "l" if o else "p"
            for o, s in zip(on.flatten().tolist(), sym.flatten().tolist(), strict=True)
        )
        want.append({"inputs": layer.in_dim, "outputs": layer.out_dim, "live": int((on & ~sym).sum()),
                     "pruned": int((~on).sum()), "symbolic": int(sym.sum()), "edges": letters})  # fmt: skip
    assert want[0]["edges"][1 * 3 + 2] == "p" and want[1]["edges"][0] == "s"

    end = time.monotonic() + 30
    card = None
    while time.monotonic() < end:
        card = client.get(base, headers=t).json()["students"][0]
        if card["layers"] == want:
            break
        time.sleep(0.1)
    assert card["layers"] == want, card["layers"]
    assert card["live_edges"] == sum(w["live"] for w in want) and card["symbolic_edges"] == 1


def test_a_class_file_from_before_expiry_gains_the_use_column(tmp_path):
    path = tmp_path / "classes.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE classes (id TEXT PRIMARY KEY, code TEXT NOT NULL,
        teacher_token TEXT NOT NULL, session_id TEXT, challenge TEXT, follow TEXT,
        paused INTEGER NOT NULL DEFAULT 0, ended INTEGER NOT NULL DEFAULT 0,
        handed_out INTEGER NOT NULL DEFAULT 0, revealed INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL);
        INSERT INTO classes (id, code, teacher_token, created) VALUES ('c1', 'ACDEFG', 't', 5.0);"""
    )
    db.commit()
    db.close()
    store = ClassStore(path)
    try:
        (rec,) = store.load_all()
        assert (rec.id, rec.created, rec.used) == ("c1", 5.0, None)
        store.set_used("c1", 7.0)
        assert store.load_all()[0].used == 7.0
    finally:
        store.close()


def test_a_large_network_gets_counts_only():
    model = kan_core.KAN(width=[20, 20, 1], seed=0)
    with torch.no_grad():
        model.layers[0].mask[3, 4] = 0.0  # one pruned edge
    rows = edge_layers(model)
    assert [r["edges"] for r in rows] == [None, None]  # 420 edges: over DIAGRAM_EDGES
    assert DIAGRAM_EDGES < 420
    assert rows[0] == {"inputs": 20, "outputs": 20, "live": 399, "pruned": 1, "symbolic": 0,
                       "edges": None}  # fmt: skip
    small = edge_layers(kan_core.KAN(width=[2, 3, 1], seed=0))
    assert [r["edges"] for r in small] == ["llllll", "lll"]
