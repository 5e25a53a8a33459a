"""REST contract: presets, creation and its 422s, snapshot shape, access, edits, history."""

import time

from srv_helpers import create, train

EDGE_KEYS = {"l", "i", "j", "state", "score", "symbolic", "curve"}


def test_presets_contract(client):
    presets = client.get("/api/presets").json()
    assert presets[0]["formula"] == "exp(sin(pi*x_1) + x_2**2)" and presets[0]["width"] == [2, 5, 1]
    for p in presets:
        assert {"name", "title", "formula", "width"} <= set(p)
        assert sum(a * b for a, b in zip(p["width"], p["width"][1:], strict=False)) >= 2


def test_health_openapi_docs_and_pages(client):
    assert client.get("/api/health").json()["status"] == "ok"
    assert "/api/sessions" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    for path in ("/", "/sessions/anything", "/favicon.ico", "/static/plotly.min.js"):
        assert client.get(path).status_code == 200, path
    assert "text/html" in client.get("/sessions/x").headers["content-type"]


def test_create_and_snapshot(client):
    r = client.post("/api/sessions", json={"preset": "toy", "train_num": 100, "test_num": 50})
    assert r.status_code == 201
    body = r.json()
    assert {"id", "owner_token", "viewer_token"} <= set(body)
    snap = client.get(
        f"/api/sessions/{body['id']}", headers={"Authorization": f"Bearer {body['viewer_token']}"}
    ).json()
    assert snap["status"] == "idle" and snap["step"] == 0 and snap["width"] == [2, 5, 1]
    assert len(snap["edges"]) == 15 and all(set(e) >= EDGE_KEYS for e in snap["edges"])
    assert {e["state"] for e in snap["edges"]} == {"active"}
    assert len(snap["edges"][0]["curve"]["y"]) == 64 and snap["variables"] == ["x_1", "x_2"]


def test_create_rejections_are_fast_422s(client):
    bad = [
        ({"preset": "nope"}, "unknown preset"),
        ({"formula": "foo(x)"}, "formula"),
        ({"formula": "x_1 + __import__('os')"}, "formula"),
        ({"formula": "x_1*x_2", "width": [2, 200, 200, 1]}, "edges"),
        ({"formula": "x_1*x_2", "width": [3, 5, 1]}, "width"),
        ({"formula": "x_1*x_2", "ranges": [[1, 0], [0, 1]]}, "ranges"),
        ({"preset": "toy", "formula": "x"}, "exactly one"),
        ({"preset": "toy", "grid": 0}, "grid"),
        ({"csv": "a,b\n1,2\n"}, "csv"),
        ({"csv": "a,b\n1,x\n2,3\n"}, "non-numeric"),
    ]
    for body, needle in bad:
        t = time.perf_counter()
        r = client.post("/api/sessions", json=body)
        assert r.status_code == 422, (body, r.text)
        assert needle in r.text, (needle, r.text)
        assert time.perf_counter() - t < 1.0


def test_access_rules(client):
    s = create(client, preset="toy")
    assert client.post(s.url("/train"), json={"steps": 1}).status_code == 401
    assert (
        client.post(s.url("/train"), json={"steps": 1}, headers=s.viewer_headers).status_code == 403
    )
    assert client.post(s.url("/edges/0/0/0/prune"), headers=s.viewer_headers).status_code == 403
    assert client.get(s.url(), headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(s.url()).status_code == 401
    assert client.get(s.url(), headers=s.viewer_headers).status_code == 200
    for headers in ({}, s.headers, {"Authorization": "Bearer x"}):
        assert client.get("/api/sessions/unknown", headers=headers).status_code == 404
        assert (
            client.post(
                "/api/sessions/unknown/train", json={"steps": 1}, headers=headers
            ).status_code
            == 404
        )


def test_bad_body_names_the_field(client):
    s = create(client, preset="toy")
    r = client.post(s.url("/train"), json={"steps": "many"}, headers=s.headers)
    assert r.status_code == 422 and "steps" in r.text
    r = client.post(s.url("/train"), json={"steps": 10**6}, headers=s.headers)
    assert r.status_code == 422 and "steps" in r.text


def test_train_pause_and_step_counter(client):
    s = create(client, preset="toy")
    ev = train(client, s, 3)
    assert ev["kind"] == "trained" and ev["step"] == 3
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["status"] == "paused" and snap["step"] == 3 and len(snap["metrics"]) == 3
    r = client.post(s.url("/play"), headers=s.headers).json()
    assert r["status"] == "training"
    r = client.post(s.url("/pause"), headers=s.headers).json()
    assert r["status"] == "paused"
    assert client.get(s.url(), headers=s.headers).json()["status"] == "paused"


def test_prune_restore_and_impossible_edits(client):
    s = create(client, preset="toy")
    r = client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    assert r.status_code == 200 and r.json()["ok"]
    edges = client.get(s.url(), headers=s.headers).json()["edges"]
    assert next(e for e in edges if (e["l"], e["i"], e["j"]) == (0, 0, 0))["state"] == "pruned"
    assert client.post(s.url("/edges/0/0/0/prune"), headers=s.headers).status_code == 409
    assert client.get(s.url("/edges/0/0/0/suggestions"), headers=s.headers).status_code == 409
    assert client.post(s.url("/edges/5/0/0/prune"), headers=s.headers).status_code == 404
    assert client.post(s.url("/edges/0/9/0/prune"), headers=s.headers).status_code == 404
    assert client.post(s.url("/edges/0/0/0/restore"), headers=s.headers).status_code == 200
    assert client.post(s.url("/edges/0/0/0/restore"), headers=s.headers).status_code == 409


def test_pruning_an_inputs_last_path_warns(client):
    s = create(client, formula="x_1 + x_2", width=[2, 1])
    r = client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    assert r.status_code == 200 and r.json()["warnings"], r.json()


def test_suggest_accept_reject_unfix_formula(client):
    s = create(client, preset="toy")
    train(client, s, 5)
    r = client.get(s.url("/edges/0/0/1/suggestions?topk=3"), headers=s.viewer_headers)
    assert r.status_code == 200
    cands = r.json()["candidates"]
    assert 1 <= len(cands) <= 3
    assert set(cands[0]) >= {"name", "a", "b", "c", "d", "r2", "complexity", "curve"}
    first = cands[0]["name"]
    r = client.post(s.url("/edges/0/0/1/reject"), json={"name": first}, headers=s.headers)
    assert r.status_code == 200
    again = client.get(s.url("/edges/0/0/1/suggestions"), headers=s.headers).json()
    assert first not in [c["name"] for c in again["candidates"]] and again["rejected"] == [first]
    name = again["candidates"][0]["name"]
    r = client.post(s.url("/edges/0/0/1/symbolic"), json={"name": name}, headers=s.headers)
    assert r.status_code == 200 and r.json()["detail"]["name"] == name
    edge = next(
        e
        for e in client.get(s.url(), headers=s.headers).json()["edges"]
        if (e["l"], e["i"], e["j"]) == (0, 0, 1)
    )
    assert edge["state"] == "symbolic" and edge["symbolic"]["name"] == name
    f = client.get(s.url("/formula"), headers=s.viewer_headers)
    assert f.status_code == 200 and f.json()["complete"] is False and f.json()["outputs"]
    bad = client.post(s.url("/edges/0/0/1/symbolic"), json={"name": "nope"}, headers=s.headers)
    assert bad.status_code == 422 and "name" in bad.text
    assert client.post(s.url("/edges/0/0/1/unfix"), headers=s.headers).status_code == 200
    assert client.post(s.url("/edges/0/0/1/unfix"), headers=s.headers).status_code == 409


def test_auto_symbolic_gives_a_complete_formula(client):
    s = create(client, formula="x_1**2 + x_2", width=[2, 1])
    train(client, s, 5)
    r = client.post(s.url("/auto-symbolic"), json={"r2_threshold": 0.0}, headers=s.headers)
    assert r.status_code == 200, r.text
    f = client.get(s.url("/formula"), headers=s.headers).json()
    assert f["complete"] is True and f["python"] and f["formula_rmse"] is not None
    assert "<math" in f["outputs"][0]["mathml"]


def test_auto_symbolic_names_the_nodes_it_merged_and_undo_brings_them_back(client):
    s = create(client, preset="toy")  # untrained [2, 5, 1]: its hidden nodes are near-lines
    r = client.post(s.url("/auto-symbolic"), json={}, headers=s.headers)
    assert r.status_code == 200, r.text
    merged = r.json()["detail"]["merged_nodes"]
    assert merged and all(l == 1 for l, _ in merged)
    assert all(f"({l},{i})" in r.json()["summary"] for l, i in merged)
    edges = client.get(s.url(), headers=s.headers).json()["edges"]
    gone = {(e["l"], e["i"], e["j"]) for e in edges if e["state"] == "pruned"}
    for _, i in merged:  # every edge into and out of a merged node
        assert {(0, 0, i), (0, 1, i), (1, i, 0)} <= gone
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 200
    edges = client.get(s.url(), headers=s.headers).json()["edges"]
    assert all(e["state"] == "active" for e in edges)
    # merge_nodes false: every node kept, as pykan
    r = client.post(s.url("/auto-symbolic"), json={"merge_nodes": False}, headers=s.headers)
    assert r.status_code == 200 and r.json()["detail"]["merged_nodes"] == []
    edges = client.get(s.url(), headers=s.headers).json()["edges"]
    assert all(e["state"] == "symbolic" for e in edges)
    bad = client.post(s.url("/auto-symbolic"), json={"merge_nodes": "x"}, headers=s.headers)
    assert bad.status_code == 422 and "merge_nodes" in bad.text


def test_undo_redo_history(client):
    s = create(client, preset="toy")
    client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    client.post(s.url("/refine"), json={"grid": 8}, headers=s.headers)
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["grid"] == 8 and snap["can_undo"] and not snap["can_redo"]
    assert [h["kind"] for h in snap["history"]] == ["prune_edge", "refine"]
    assert client.post(s.url("/undo"), headers=s.headers).json()["kind"] == "undo"
    assert client.get(s.url(), headers=s.headers).json()["grid"] == 5
    client.post(s.url("/undo"), headers=s.headers)
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["edges"][0]["state"] == "active" and not snap["can_undo"] and snap["can_redo"]
    assert client.post(s.url("/undo"), headers=s.headers).status_code == 409
    client.post(s.url("/redo"), headers=s.headers)
    assert client.get(s.url(), headers=s.headers).json()["edges"][0]["state"] == "pruned"


def test_auto_prune_reset_settings_nodes(client):
    s = create(client, preset="toy")
    r = client.post(s.url("/prune"), json={"node_th": 1e5, "edge_th": 1e5}, headers=s.headers)
    assert r.status_code == 200
    snap = client.get(s.url(), headers=s.headers).json()
    assert any(e["state"] == "pruned" for e in snap["edges"]) and len(snap["edges"]) == 15
    assert client.post(s.url("/reset"), headers=s.headers).status_code == 200
    snap = client.get(s.url(), headers=s.headers).json()
    assert {e["state"] for e in snap["edges"]} == {"active"}
    r = client.patch(s.url("/settings"), json={"opt": "Adam", "lr": 0.01}, headers=s.headers)
    assert r.status_code == 200 and r.json()["detail"]["opt"] == "Adam"
    assert (
        client.patch(s.url("/settings"), json={"opt": "SGD"}, headers=s.headers).status_code == 422
    )
    assert client.post(s.url("/nodes/1/2/prune"), headers=s.headers).status_code == 200
    assert client.post(s.url("/nodes/1/2/restore"), headers=s.headers).status_code == 200
    assert client.post(s.url("/nodes/0/0/prune"), headers=s.headers).status_code == 409
    assert client.post(s.url("/nodes/1/9/prune"), headers=s.headers).status_code == 404


def test_edge_detail(client):
    s = create(client, preset="toy")
    d = client.get(s.url("/edges/0/1/2?n=32"), headers=s.viewer_headers).json()
    assert len(d["x"]) == len(d["y"]) == 32 and d["knots"] and d["data_range"][0] < 0


def test_csv_sessions_json_and_upload(client):
    rows = "\n".join(f"{a / 10},{b / 10},{(a * b) / 100}" for a in range(-5, 5) for b in range(3))
    s = create(client, csv="u,v,w\n" + rows)
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["variables"] == ["u", "v"] and snap["source"]["target"] == "w"
    r = client.post(
        "/api/sessions/upload",
        files={"file": ("d.csv", "u,v,w\n" + rows)},
        data={"options": '{"target": "u", "width": [2, 3, 1]}'},
    )
    assert r.status_code == 201, r.text
    tok = r.json()["owner_token"]
    snap = client.get(
        f"/api/sessions/{r.json()['id']}", headers={"Authorization": f"Bearer {tok}"}
    ).json()
    assert snap["variables"] == ["v", "w"] and snap["width"] == [2, 3, 1]
    r = client.post("/api/sessions/upload", files={"file": ("d.csv", "u\n1\n")})
    assert r.status_code == 422


def test_delete(client):
    s = create(client, preset="toy")
    assert client.delete(s.url(), headers=s.viewer_headers).status_code == 403
    assert client.delete(s.url(), headers=s.headers).status_code == 204
    assert client.get(s.url(), headers=s.headers).status_code == 404


def test_preset_preview_and_formula_check(client):
    p = client.get("/api/presets/toy/preview?n=8").json()
    assert len(p["x"]) == len(p["y"]) == 8 and len(p["z"]) == 8 and len(p["z"][0]) == 8
    assert p["variables"] == ["x_1", "x_2"]
    assert client.get("/api/presets/nope/preview").status_code == 404
    ok = client.post("/api/formula/check", json={"formula": "sin(x_1)*x_2"}).json()
    assert ok["ok"] and ok["variables"] == ["x_1", "x_2"] and ok["latex"]
    bad = client.post("/api/formula/check", json={"formula": "foo(x_1)"}).json()
    assert not bad["ok"] and "foo" in bad["message"]


def test_a_library_refusal_is_a_409_naming_it_and_changes_nothing(client):
    """kan_core's ValueErrors (here: too few distinct samples for a symbolic fit — the data, not
    the request, is the problem) reach the user as 409s naming the problem, not 500s; the session
    is left as it was."""
    s = create(client, csv="a,b,y\n0.1,0.2,1\n0.3,0.1,2\n0.5,0.9,3\n0.7,0.4,4\n0.2,0.8,5\n")
    before = client.get(s.url(), headers=s.headers).json()
    r = client.get(s.url("/edges/0/0/0/suggestions"), headers=s.headers)
    assert r.status_code == 409 and "at least 10 distinct samples" in r.text, r.text
    r = client.post(s.url("/edges/0/0/0/symbolic"), json={"name": "sin"}, headers=s.headers)
    assert r.status_code == 409 and "at least 10 distinct samples" in r.text, r.text
    after = client.get(s.url(), headers=s.headers).json()
    assert after["edges"] == before["edges"] and after["history"] == before["history"]
