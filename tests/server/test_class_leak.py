"""A challenge's hidden formula reaches no student by any route (issue 15, part 5).

The formula has a distinctive constant (3.71) and shape. Every student-readable answer is
grepped for its text, its sympy, LaTeX and MathML forms and the constant: every GET of the
student's own session the API has (found from the OpenAPI document, so a route added later is
covered too), its stream frames while it trains and is edited, the class routes a student may
call and the errors of those they may not, the pages, and the stored session row. The same grep
finds the formula in the teacher's view (so it can find it at all), and after *reveal* students
see it.
"""

from __future__ import annotations

import json
import re
import sqlite3

import sympy
from srv_helpers import is_event, read_until

import kan_core

FORMULA = "x_1*sin(3.71*x_2)"
CONSTANT = re.compile(r"(?<![\d.])3\.710*(?![\d])|371/100")


def forbidden_texts() -> list[str]:
    expr = kan_core.parse_formula(FORMULA).expr
    texts = {
        FORMULA,
        str(expr),
        sympy.sstr(expr),
        sympy.srepr(expr),
        kan_core.to_latex(expr),
        kan_core.to_mathml(expr),
        "sin(3.71",
        "3.71*x_2",
    }
    return sorted(t for t in texts if t)


def leaks(text: str) -> list[str]:
    found = [t for t in forbidden_texts() if t in text]
    found += CONSTANT.findall(text)
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_get_paths(client) -> list[str]:
    """Every GET route of a session (edge routes for edge (0, 1, 0))."""
    paths = client.get("/openapi.json").json()["paths"]
    out = []
    for path, ops in paths.items():
        if path.startswith("/api/sessions/{session_id}") and "get" in ops:
            out.append(path.replace("{l}", "0").replace("{i}", "1").replace("{j}", "0"))
    return out


def test_the_hidden_formula_reaches_no_student(client, settings):
    body = {
        "challenge": {
            "formula": FORMULA,
            "ranges": [[-1, 1], [-1, 1]],
            "width": [2, 3, 1],
            "train_num": 200,
            "test_num": 100,
        }
    }
    r = client.post("/api/classes", json=body)
    assert r.status_code == 201 and not leaks(r.text), r.text
    cl = r.json()
    teacher = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
    teacher_view = client.get(base, headers=teacher)
    assert leaks(teacher_view.text), "the grep must find the formula where it is meant to be"
    source = teacher_view.json()["source"]
    src_snap = client.get(f"/api/sessions/{source['id']}", headers=bearer(source["owner_token"]))
    assert leaks(src_snap.text)  # the source session itself is the teacher's only

    seen: list[tuple[str, str]] = []  # (what, text) of every student-readable answer

    def read(what: str, r) -> None:
        seen.append((what, r.text))

    read("join", client.post("/api/classes/join", json={"code": cl["code"], "name": "Ana"}))
    ana = json.loads(seen[-1][1])
    bo = client.post("/api/classes/join", json={"code": cl["code"], "name": "Bo"}).json()
    sa = bearer(ana["student_token"])
    read("state before", client.get(f"{base}/state", headers=sa))
    assert client.post(f"{base}/handout", headers=teacher).status_code == 200
    me = client.get(f"{base}/me", headers=sa)
    read("me", me)
    mine = me.json()["session"]
    owner = bearer(mine["owner_token"])
    sid = mine["id"]

    # the stream while the copy trains and is edited, and the teacher follows it
    with client.websocket_connect(f"/api/sessions/{sid}/stream?token={mine['viewer_token']}") as ws:
        seen.append(("stream snapshot", json.dumps(ws.receive_json())))
        assert client.post(
            f"/api/sessions/{sid}/train", json={"steps": 3}, headers=owner
        ).is_success
        seen.append(("stream trained", json.dumps(read_until(ws, is_event("trained")))))
        r = client.post(f"/api/sessions/{sid}/edges/0/0/0/prune", headers=owner)
        read("prune", r)
        seen.append(("stream prune", json.dumps(read_until(ws, is_event("prune_edge")))))
        client.post(f"/api/sessions/{sid}/focus", json={"edge": [0, 1, 0]}, headers=owner)
        seen.append(("stream focus", json.dumps(read_until(ws, lambda m: m["type"] == "focus"))))
    assert client.post(f"{base}/follow", json={"session": sid}, headers=teacher).status_code == 200

    paths = session_get_paths(client)
    assert {"/api/sessions/{session_id}", "/api/sessions/{session_id}/formula"} <= set(paths)
    for path in paths:
        r = client.get(path.replace("{session_id}", sid), headers=owner)
        assert r.status_code < 500, (path, r.status_code)  # 409: not for this session
        read(path, r)
    for tail in ("", "/state", "/me", "/leaderboard"):
        read(f"class{tail}", client.get(base + tail, headers=sa))
    for tail in ("/handout", "/follow", "/pause-all", "/reveal", "/end"):  # refusals
        read(f"refused {tail}", client.post(base + tail, json={}, headers=sa))
    read("bad join", client.post("/api/classes/join", json={"code": cl["code"], "name": ""}))
    for path, ops in client.get("/openapi.json").json()["paths"].items():  # presets, lessons…
        if "get" in ops and "{" not in path and path != "/api/qr.svg":
            read(path, client.get(path, headers=sa))
    for page in ("/", "/join", f"/classes/{cl['id']}", f"/sessions/{sid}"):
        read(page, client.get(page))
    follow = client.get(f"{base}/state", headers=bearer(bo["student_token"])).json()["follow"]
    assert follow["session"] == sid  # never the source session
    assert client.get(f"{base}/state", headers=sa).json()["revealed"] is None

    found = {what: leaks(text) for what, text in seen if leaks(text)}
    assert not found, found
    assert len(seen) > 20

    # what is stored for the student's copy: a CSV session (the data), no formula
    db = sqlite3.connect(settings.data_dir / "workbench.sqlite3")
    spec, csv = db.execute("SELECT spec, csv FROM sessions WHERE id = ?", (sid,)).fetchone()
    edits = db.execute("SELECT params, summary FROM edits WHERE session_id = ?", (sid,)).fetchall()
    db.close()
    assert json.loads(spec)["kind"] == "csv" and not leaks(spec) and not leaks(str(edits))
    assert csv.splitlines()[0] == "x_1,x_2,y" and not leaks(csv.splitlines()[0])

    # reveal: now every student sees it
    assert client.post(f"{base}/reveal", headers=teacher).status_code == 200
    state = client.get(f"{base}/state", headers=sa).json()
    assert state["revealed"]["formula"] == FORMULA and "3.71" in state["revealed"]["latex"]
