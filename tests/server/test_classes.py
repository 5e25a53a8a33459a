"""Classes (docs/classes.md, issue 15): join by code, hand-out, dashboard, follow, focus,
pause-all, end, a restart; /api/lan and /api/qr.svg."""

from __future__ import annotations

import re
import time

import pytest
import segno
import torch
from fastapi.testclient import TestClient
from srv_helpers import Sess, create, is_event, read_until, train

from server import netinfo
from server.classes import ALPHABET, challenge_csv
from server.data import build_dataset
from server.main import create_app
from server.routes import classes as class_routes


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_class(client, **session):
    s = create(client, preset="toy", width=[2, 3, 1], **session)
    r = client.post("/api/classes", json={"session": s.id}, headers=s.headers)
    assert r.status_code == 201, r.text
    return s, r.json()


def join(client, code: str, name: str) -> dict:
    r = client.post("/api/classes/join", json={"code": code, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def wait_for(pred, what: str, limit: float = 60.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        out = pred()
        if out:
            return out
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_thirty_students_join_get_copies_and_the_dashboard_moves(client):
    teacher, cl = start_class(client)
    assert re.fullmatch(f"[{ALPHABET}]{{6}}", cl["code"])
    assert cl["join_url"].endswith(f"/join?code={cl['code']}")
    train(client, teacher, 2)
    r = client.post(
        teacher.url("/prune"), json={"edge_th": 0.0, "node_th": 0.0}, headers=teacher.headers
    )
    assert r.status_code == 200, r.text
    t = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"

    students = [join(client, cl["code"], f"Student {n:02d}") for n in range(30)]
    assert len({st["student_token"] for st in students}) == 30
    dup = join(client, cl["code"].lower(), " Student  00 ")  # case, spacing: still the same name
    assert dup["name"] == "Student 00 2"
    students.append(dup)

    r = client.post(f"{base}/handout", headers=bearer(students[0]["student_token"]))
    assert r.status_code == 403
    r = client.post(f"{base}/handout", headers=t)
    assert r.status_code == 200 and r.json() == {"handed_out": 31, "students": 31}
    assert client.post(f"{base}/handout", headers=t).json()["handed_out"] == 0  # idempotent

    snap_teacher = client.get(teacher.url(), headers=teacher.headers).json()
    mine = []
    for st in students:
        me = client.get(f"{base}/me", headers=bearer(st["student_token"])).json()
        assert me["name"] == st["name"] and me["session"] is not None
        mine.append(me["session"])
    assert len({m["id"] for m in mine}) == 31
    # A copy is the teacher's state: model, step, history (undo works), owned by the student.
    first = mine[0]
    snap = client.get(f"/api/sessions/{first['id']}", headers=bearer(first["owner_token"])).json()
    assert snap["step"] == snap_teacher["step"] == 2
    assert [h["kind"] for h in snap["history"]] == [h["kind"] for h in snap_teacher["history"]]
    assert [e["curve"] for e in snap["edges"]] == [e["curve"] for e in snap_teacher["edges"]]
    assert (
        client.post(
            f"/api/sessions/{first['id']}/undo", headers=bearer(first["owner_token"])
        ).status_code
        == 200
    )
    # ... and the undo happened in the copy only
    again = client.get(teacher.url(), headers=teacher.headers).json()
    assert again["can_undo"] and not again["can_redo"]
    # another student's owner token gives nothing on this copy
    r = client.post(
        f"/api/sessions/{first['id']}/train",
        json={"steps": 1},
        headers=bearer(mine[1]["owner_token"]),
    )
    assert r.status_code == 403

    # Teacher sees everyone's session and viewer token; a student sees no one's tokens.
    dash = client.get(base, headers=t).json()
    assert [c["name"] for c in dash["students"]] == [st["name"] for st in students]
    assert all(c["session"]["viewer_token"] for c in dash["students"])
    student_view = client.get(base, headers=bearer(students[3]["student_token"]))
    text = student_view.text
    for st, m in zip(students, mine, strict=True):
        if st is not students[3]:
            assert st["student_token"] not in text and m["owner_token"] not in text
            assert m["viewer_token"] not in text
    assert cl["teacher_token"] not in text and teacher.owner not in text
    assert student_view.json()["me"]["name"] == "Student 03"

    # Two students train; their cards move (step, test RMSE), and formulas arrive.
    for m in mine[:2]:
        train(client, Sess(m["id"], m["owner_token"], m["viewer_token"]), 3)

    def moved():
        d = client.get(base, headers=t).json()["students"]
        ok = all(c["step"] == 5 and c["formula"] and c["live_edges"] is not None for c in d[:2])
        return d if ok and d[2]["step"] == 2 else None

    cards = wait_for(moved, "dashboard figures")
    assert cards[0]["test_rmse"] != dash["students"][0]["test_rmse"]
    assert cards[0]["live_edges"] + cards[0]["symbolic_edges"] == 9  # [2, 3, 1], none pruned
    assert "phi_" in cards[0]["formula"]  # no symbolic edge yet: placeholders
    t0 = time.perf_counter()
    client.get(base, headers=t)
    assert time.perf_counter() - t0 < 2.0
    board = client.get(f"{base}/leaderboard", headers=bearer(students[5]["student_token"])).json()
    assert len(board) == 31
    ranked = [r["test_nrmse"] for r in board if r["test_nrmse"] is not None]
    assert ranked == sorted(ranked) and len(ranked) >= 2


def test_names_codes_and_tokens_are_checked(client):
    teacher, cl = start_class(client)
    base = f"/api/classes/{cl['id']}"
    for name, why in [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 41, "at most"),
        ("a\u0007b", "control"),
    ]:
        r = client.post("/api/classes/join", json={"code": cl["code"], "name": name})
        assert r.status_code == 422 and why in r.text, (name, r.text)
    assert (
        client.post("/api/classes/join", json={"code": "ZZZZZZ", "name": "Bo"}).status_code == 404
    )
    st = join(client, f"{cl['code'][:3]}-{cl['code'][3:]}", "<b>Bo</b>")
    assert st["name"] == "<b>Bo</b>"  # data, not markup: kept as typed
    assert client.get(base).status_code == 401
    assert client.get(base, headers=bearer("nope")).status_code == 403
    assert client.get(base, headers=teacher.headers).status_code == 403  # a session token
    assert (
        client.get("/api/classes/unknown", headers=bearer(cl["teacher_token"])).status_code == 404
    )
    assert client.get(f"{base}/me", headers=bearer(cl["teacher_token"])).status_code == 403
    for tail in ("/follow", "/pause-all", "/end", "/reveal"):
        r = client.post(base + tail, json={}, headers=bearer(st["student_token"]))
        assert r.status_code == 403, tail
    # only the owner starts a class from a session
    r = client.post("/api/classes", json={"session": teacher.id}, headers=teacher.viewer_headers)
    assert r.status_code == 403
    assert client.post("/api/classes", json={"session": teacher.id}).status_code == 401
    assert client.post("/api/classes", json={}).status_code == 422
    r = client.post("/api/classes", json={"challenge": {"formula": "__import__('os')"}})
    assert r.status_code == 422


def test_codes_are_unique_and_readable(client):
    s = create(client, preset="toy")
    codes = set()
    for _ in range(40):
        r = client.post("/api/classes", json={"session": s.id}, headers=s.headers)
        codes.add(r.json()["code"])
    assert len(codes) == 40
    assert all(re.fullmatch(f"[{ALPHABET}]{{6}}", c) for c in codes)
    assert not set("0O1IL").intersection(ALPHABET)


def test_follow_focus_pause_all_late_join_and_end(client):
    teacher, cl = start_class(client)
    t = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
    ana = join(client, cl["code"], "Ana")
    state = client.get(f"{base}/state", headers=bearer(ana["student_token"])).json()
    assert state["follow"] == {"session": teacher.id, "viewer_token": teacher.viewer, "name": None}
    assert state["me"] == {"name": "Ana", "session": None} and not state["handed_out"]

    # focus: the teacher's selection reaches every viewer of the stream
    with client.websocket_connect(teacher.url(f"/stream?token={teacher.viewer}")) as ws:
        assert ws.receive_json()["focus"] == {"edge": None, "node": None}
        r = client.post(
            teacher.url("/focus"), json={"edge": [0, 1, 2], "node": None}, headers=teacher.headers
        )
        assert r.status_code == 200
        msg = read_until(ws, lambda m: m["type"] == "focus")
        assert msg == {"type": "focus", "edge": [0, 1, 2], "node": None}
    r = client.post(teacher.url("/focus"), json={"edge": [0, 5, 0]}, headers=teacher.headers)
    assert r.status_code == 404
    r = client.post(teacher.url("/focus"), json={"node": [1, 0]}, headers=teacher.viewer_headers)
    assert r.status_code == 403
    with client.websocket_connect(teacher.url(f"/stream?token={teacher.viewer}")) as ws:
        assert ws.receive_json()["focus"] == {"edge": [0, 1, 2], "node": None}
    snap = client.get(teacher.url(), headers=teacher.viewer_headers).json()
    assert snap["focus"] == {"edge": [0, 1, 2], "node": None}

    assert client.post(f"{base}/handout", headers=t).status_code == 200
    bo = join(client, cl["code"], "Bo")  # a late joiner gets a copy on join
    me = client.get(f"{base}/me", headers=bearer(bo["student_token"])).json()
    assert me["session"] is not None
    ana_me = client.get(f"{base}/me", headers=bearer(ana["student_token"])).json()["session"]

    # follow a student's session, then back to the teacher's
    r = client.post(f"{base}/follow", json={"session": ana_me["id"]}, headers=t)
    assert r.json()["follow"] == {
        "session": ana_me["id"],
        "viewer_token": ana_me["viewer_token"],
        "name": "Ana",
    }
    state = client.get(f"{base}/state", headers=bearer(bo["student_token"])).json()
    assert state["follow"]["name"] == "Ana"
    assert (
        client.post(f"{base}/follow", json={"session": "elsewhere"}, headers=t).status_code == 404
    )
    r = client.post(f"{base}/follow", json={"session": None}, headers=t)
    assert r.json()["follow"]["session"] == teacher.id

    # pause-all stops a student's training
    owner = bearer(ana_me["owner_token"])
    with client.websocket_connect(
        f"/api/sessions/{ana_me['id']}/stream?token={ana_me['viewer_token']}"
    ) as ws:
        ws.receive_json()
        assert (
            client.post(
                f"/api/sessions/{ana_me['id']}/train", json={"steps": 5000}, headers=owner
            ).status_code
            == 200
        )
        read_until(ws, lambda m: m["type"] == "metrics" and m["status"] == "training")
        r = client.post(f"{base}/pause-all", headers=t)
        assert r.status_code == 200 and r.json()["paused"] and r.json()["sessions"] >= 2
        read_until(ws, is_event("paused"))
    snap = client.get(f"/api/sessions/{ana_me['id']}", headers=owner).json()
    assert snap["status"] == "paused" and snap["step"] < 5000
    assert client.get(f"{base}/state", headers=t).json()["paused"] is True
    # while paused, the student's copy refuses to train (the server, not only the page)
    for path, body in (("/play", None), ("/train", {"steps": 1})):
        r = client.post(f"/api/sessions/{ana_me['id']}{path}", json=body, headers=owner)
        assert r.status_code == 409 and "paused by the teacher" in r.json()["detail"], r.json()
    assert (
        client.post(f"{base}/pause-all", json={"paused": False}, headers=t).json()["paused"]
        is False
    )
    r = client.post(f"/api/sessions/{ana_me['id']}/train", json={"steps": 1}, headers=owner)
    assert r.status_code == 200, r.json()
    assert client.post(f"{base}/reveal", headers=t).status_code == 409  # not a challenge

    assert client.post(f"{base}/end", headers=t).status_code == 200
    r = client.post("/api/classes/join", json={"code": cl["code"], "name": "Cy"})
    assert r.status_code == 410
    assert client.get(f"{base}/state", headers=bearer(ana["student_token"])).json()["ended"] is True
    assert client.post(f"{base}/handout", headers=t).status_code == 409
    # the student keeps their session
    assert client.get(f"/api/sessions/{ana_me['id']}", headers=owner).status_code == 200


def test_a_restart_keeps_classes(settings):
    with TestClient(create_app(settings)) as client:
        teacher, cl = start_class(client)
        ana = join(client, cl["code"], "Ana")
        client.post(f"/api/classes/{cl['id']}/handout", headers=bearer(cl["teacher_token"]))
        me = client.get(f"/api/classes/{cl['id']}/me", headers=bearer(ana["student_token"])).json()
        client.post(
            f"/api/classes/{cl['id']}/follow",
            json={"session": me["session"]["id"]},
            headers=bearer(cl["teacher_token"]),
        )
    with TestClient(create_app(settings)) as client:
        base = f"/api/classes/{cl['id']}"
        assert client.get(f"{base}/me", headers=bearer(ana["student_token"])).json() == me
        state = client.get(f"{base}/state", headers=bearer(cl["teacher_token"])).json()
        assert state["handed_out"] and state["follow"]["session"] == me["session"]["id"]
        assert join(client, cl["code"], "Bo")["class_id"] == cl["id"]  # the code still works
        r = client.get(
            f"/api/sessions/{me['session']['id']}", headers=bearer(me["session"]["owner_token"])
        )
        assert r.status_code == 200


def test_challenge_copies_hold_the_same_data(client):
    r = client.post(
        "/api/classes",
        json={
            "challenge": {
                "formula": "x_1 + x_2**2",
                "width": [2, 2, 1],
                "train_num": 150,
                "test_num": 70,
                "seed": 7,
            }
        },
    )
    assert r.status_code == 201, r.text
    cl = r.json()
    dash = client.get(f"/api/classes/{cl['id']}", headers=bearer(cl["teacher_token"])).json()
    assert dash["challenge"] and dash["source"]["formula"] == "x_1 + x_2**2"
    assert dash["follow"] is None
    src = client.app.state.manager.get(dash["source"]["id"])
    text, target, fraction = challenge_csv(src.spec, src.dataset)
    spec = {**src.spec, "kind": "csv", "target": target, "test_fraction": fraction}
    rebuilt = build_dataset(spec, text, client.app.state.settings)
    for key in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(rebuilt[key], src.dataset[key]), key
    st = join(client, cl["code"], "Ana")
    client.post(f"/api/classes/{cl['id']}/handout", headers=bearer(cl["teacher_token"]))
    me = client.get(f"/api/classes/{cl['id']}/me", headers=bearer(st["student_token"])).json()
    copy = client.app.state.manager.get(me["session"]["id"])
    for key in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(copy.dataset[key], src.dataset[key]), key
    assert copy.spec["kind"] == "csv" and "formula" not in copy.spec


def test_lan_addresses_and_join_url(client, monkeypatch):
    info = client.get("/api/lan").json()
    assert info["addresses"] == [] and "--host 0.0.0.0" in info["hint"]
    assert info["bound_to"] == "127.0.0.1"
    for addr in netinfo.lan_addresses():
        assert not addr.startswith("127.") and addr != "0.0.0.0"
    assert netinfo.lan_info("192.168.4.2", 80)["addresses"] == ["192.168.4.2"]
    monkeypatch.setattr(class_routes, "lan_addresses", lambda: ["192.168.1.20"])
    monkeypatch.setattr(client.app.state.settings, "host", "0.0.0.0")
    _, cl = start_class(client)
    assert cl["join_url"] == f"http://192.168.1.20:8000/join?code={cl['code']}"


def _svg_modules(svg: str) -> set[tuple[int, int]]:
    """Dark modules of segno's path-per-row SVG: 'M x y.5 h n m dx dy h n ...'."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"|d="([^"]+)"[^>]*class="qrline"', svg)
    d = path.group(1) or path.group(2)
    x = y = 0.0
    dark = set()
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", d):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            for k in range(int(float(a))):
                dark.add((int(y), int(x) + k))
            x += float(a)
    return dark


@pytest.mark.parametrize("text", ["http://192.168.1.20:8000/join?code=ACDEFG", "x" * 512])
def test_qr_svg_encodes_the_text(client, text):
    r = client.get("/api/qr.svg", params={"text": text})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in r.text
    matrix = segno.make(text, error="m", micro=False).matrix
    expected = {(i + 4, j + 4) for i, row in enumerate(matrix) for j, v in enumerate(row) if v}
    assert _svg_modules(r.text) == expected


def test_qr_svg_refuses_bad_text(client):
    assert client.get("/api/qr.svg", params={"text": "x" * 513}).status_code == 422
    assert client.get("/api/qr.svg", params={"text": ""}).status_code == 422
    assert client.get("/api/qr.svg").status_code == 422


def test_a_late_joiner_still_joins_when_the_teachers_session_is_gone(client):
    teacher, cl = start_class(client)
    t = bearer(cl["teacher_token"])
    assert client.post(f"/api/classes/{cl['id']}/handout", headers=t).status_code == 200
    assert client.delete(teacher.url(), headers=teacher.headers).status_code == 204
    late = join(client, cl["code"], "Late")
    me = client.get(f"/api/classes/{cl['id']}/me", headers=bearer(late["student_token"])).json()
    assert me == {"name": "Late", "session": None}
    r = client.post(f"/api/classes/{cl['id']}/handout", headers=t)
    assert r.status_code == 409 and "no longer exists" in r.text
