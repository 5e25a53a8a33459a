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
import torch
from srv_helpers import is_event, read_until

import kan_core
from server.data import build_dataset

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


def student_reads(client, cl: dict) -> dict:
    """Two students join, the teacher hands out and follows Ana's copy; every answer a student
    can read (routes, stream frames, refusals, pages) is collected in ``seen``."""
    teacher = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
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
    assert len(seen) > 20
    return {"seen": seen, "sid": sid, "sa": sa, "bo": bearer(bo["student_token"])}


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

    got = student_reads(client, cl)
    seen, sid, sa, bo = got["seen"], got["sid"], got["sa"], got["bo"]
    follow = client.get(f"{base}/state", headers=bo).json()["follow"]
    assert follow["session"] == sid  # never the source session
    assert client.get(f"{base}/state", headers=sa).json()["revealed"] is None

    found = {what: leaks(text) for what, text in seen if leaks(text)}
    assert not found, found

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


# --- a challenge from a CSV: the held-out rows' labels and the answer are the secret --------
ANSWER = "y = x_1 times x_2, plus Quokka-noise"


def challenge_table(rows: int = 150, seed: int = 11) -> str:
    """x_1, x_2 in [0, 1) and y = x_1*x_2 + noise, labels written with 8 decimals: each one is
    a distinctive string, found wherever a label is printed in full."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, 2, generator=g, dtype=torch.float64)
    y = x[:, 0] * x[:, 1] + 0.1 * torch.rand(rows, generator=g, dtype=torch.float64)
    pairs = zip(x.tolist(), y.tolist(), strict=True)
    lines = ["x_1,x_2,y"] + [f"{a:.4f},{b:.4f},{c:.8f}" for (a, b), c in pairs]
    return "\n".join(lines) + "\n"


def f32(text: str) -> float:
    return float(torch.tensor(float(text), dtype=torch.float32))


def label_forms(text: str) -> set[str]:
    """How a label can be printed: the CSV's own text, float32's JSON repr, the 9-digit CSV."""
    v32 = f32(text)
    return {text, repr(v32), f"{v32:.9g}"}


def test_held_out_labels_and_the_answer_reach_no_student(client, settings):
    text = challenge_table()
    body = {"challenge": {"csv": text, "target": "y", "width": [2, 3, 1], "answer": ANSWER}}
    r = client.post("/api/classes", json=body)
    assert r.status_code == 201 and ANSWER not in r.text, r.text
    cl = r.json()
    teacher = bearer(cl["teacher_token"])
    base = f"/api/classes/{cl['id']}"
    # The split, rebuilt independently of the class code: data.build_dataset as for any CSV.
    spec = {"kind": "csv", "target": "y", "seed": 0, "test_fraction": 0.2}
    split = build_dataset(spec, text, settings)
    held = sorted({float(v) for v in split["test_label"].flatten().tolist()})
    train_labels = {float(v) for v in split["train_label"].flatten().tolist()}
    assert len(held) == 30 and not set(held) & train_labels
    by_text = {f32(row.split(",")[2]): row.split(",")[2] for row in text.splitlines()[1:]}
    forbidden = {ANSWER} | {f for v in held for f in label_forms(by_text[v])}

    def secrets_in(t: str) -> list[str]:
        return sorted(f for f in forbidden if f in t)

    teacher_view = client.get(base, headers=teacher)
    assert ANSWER in teacher_view.text  # the teacher's own view has the answer
    source = teacher_view.json()["source"]
    assert source["formula"] == ANSWER

    got = student_reads(client, cl)
    found = {what: secrets_in(t) for what, t in got["seen"] if secrets_in(t)}
    assert not found, found

    # the copy holds the training rows only: none of the held-out rows, all of the others
    db = sqlite3.connect(settings.data_dir / "workbench.sqlite3")
    csv_copy = db.execute("SELECT csv FROM sessions WHERE id = ?", (got["sid"],)).fetchone()[0]
    csv_source = db.execute("SELECT csv FROM sessions WHERE id = ?", (source["id"],)).fetchone()[0]
    db.close()
    assert secrets_in(csv_source), "the grep must find the labels where they are"
    assert not secrets_in(csv_copy)
    copy_labels = {f32(line.split(",")[2]) for line in csv_copy.splitlines()[1:]}
    assert copy_labels == train_labels and not copy_labels & set(held)
    assert csv_copy.splitlines()[0] == "x_1,x_2,y"

    # the leaderboard ranks on the held-out rows; reveal shows the answer to everyone
    board = client.get(f"{base}/leaderboard", headers=got["sa"])
    assert board.status_code == 200 and not secrets_in(board.text)
    assert client.get(f"{base}/state", headers=got["sa"]).json()["revealed"] is None
    assert client.post(f"{base}/reveal", headers=teacher).status_code == 200
    revealed = client.get(f"{base}/state", headers=got["sa"]).json()["revealed"]
    assert revealed == {"formula": ANSWER, "latex": None}
