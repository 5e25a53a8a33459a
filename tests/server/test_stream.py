"""Websocket stream: snapshot first, then metrics/edges/events; latest-wins; shared work."""

import json

import pytest
from fastapi.testclient import TestClient
from srv_helpers import create, is_event, read_each, read_until
from starlette.websockets import WebSocketDisconnect

from server import hub as hub_mod
from server import views
from server.config import Settings
from server.main import create_app


def test_first_frame_is_a_snapshot_for_owner_and_viewer(client):
    s = create(client, preset="toy")
    for token in (s.owner, s.viewer):
        with client.websocket_connect(s.url(f"/stream?token={token}")) as ws:
            msg = ws.receive_json()
            assert msg["type"] == "snapshot" and msg["id"] == s.id and len(msg["edges"]) == 15


@pytest.mark.parametrize(
    "path, code",
    [
        ("/api/sessions/{id}/stream?token=bad", 4403),
        ("/api/sessions/{id}/stream", 4403),
        ("/api/sessions/nope/stream?token=x", 4404),
    ],
)
def test_refused_connections(client, path, code):
    s = create(client, preset="toy")
    with pytest.raises(WebSocketDisconnect) as exc:
        with client.websocket_connect(path.format(id=s.id)) as ws:
            ws.receive_json()
    assert exc.value.code == code


def test_training_streams_every_metrics_point_edges_and_events(client):
    s = create(client, preset="toy")
    steps, edges_msgs, trained = [], 0, False
    with client.websocket_connect(s.url(f"/stream?token={s.viewer}")) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        client.post(s.url("/train"), json={"steps": 6}, headers=s.headers)
        while not (trained and edges_msgs):  # the last curves may follow the event
            msg = ws.receive_json()
            if msg["type"] == "metrics":
                steps += [p["step"] for p in msg["points"]]
            edges_msgs += msg["type"] == "edges"
            trained = trained or (msg["type"] == "event" and msg["kind"] == "trained")
        # Latest-wins never drops loss points: each metrics message carries all new points.
        assert steps == list(range(1, 7))
        assert edges_msgs >= 1
        client.post(s.url("/edges/0/1/1/prune"), headers=s.headers)
        ev, edges = read_each(
            ws,
            is_event("prune_edge"),
            lambda m: m["type"] == "edges" and any(e["state"] == "pruned" for e in m["edges"]),
        )
        assert ev["data"]["l"] == 0 and ev["status"] == "paused"
        changed = {(e["l"], e["i"], e["j"]): e["state"] for e in edges["edges"]}
        assert changed[(0, 1, 1)] == "pruned"


def test_ping_pong(client):
    s = create(client, preset="toy")
    with client.websocket_connect(s.url(f"/stream?token={s.owner}")) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "ping"}))
        assert read_until(ws, lambda m: m["type"] == "pong")


def test_snapshot_of_about_200_edges_is_under_1_mib(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        s = create(client, formula="x_1 + x_2 + x_3 + x_4", width=[4, 20, 5, 1])
        with client.websocket_connect(s.url(f"/stream?token={s.owner}")) as ws:
            text = ws.receive_text()
        assert json.loads(text)["type"] == "snapshot" and len(json.loads(text)["edges"]) == 185
        assert len(text.encode()) < 1024 * 1024


def _edge(l, i, j, y):
    return {
        "l": l,
        "i": i,
        "j": j,
        "state": "active",
        "score": 1.0,
        "symbolic": None,
        "curve": {"x": [0.0, 1.0], "y": [y, y]},
    }


def test_hub_is_latest_wins_and_shared_by_viewers():
    hub = hub_mod.Hub()
    stale = hub.cursor_now()
    hub.publish_edges([_edge(0, 0, 0, 0.0), _edge(0, 1, 0, 0.0)], [])
    assert hub.collect(stale) == ([], True)  # the edge set changed: a new snapshot is due
    a, b, slow = hub.cursor_now(), hub.cursor_now(), hub.cursor_now()
    for n in range(1, 101):  # the slow viewer misses 100 updates...
        hub.publish_point({"step": n, "train_loss": 1.0 / n, "test_loss": None, "reg": 0.0})
        hub.publish_edges([_edge(0, 0, 0, float(n)), _edge(0, 1, 0, 0.0)], [])
    hub.publish_event("pruned", "x")
    frames, resnap = hub.collect(slow)  # ...and then gets one message of each kind
    msgs = [json.loads(f) for f in frames]
    assert not resnap and [m["type"] for m in msgs] == ["metrics", "edges", "event"]
    assert [p["step"] for p in msgs[0]["points"]] == list(range(1, 101))
    assert [e["curve"]["y"] for e in msgs[1]["edges"]] == [[100.0, 100.0]]  # latest; unchanged
    # edge (0, 1, 0) is not resent. Viewers equally up to date share one serialised frame:
    frames_a, frames_b = hub.collect(a)[0], hub.collect(b)[0]
    assert frames_a[1] is frames_b[1] is frames[1]
    assert hub.collect(slow) == ([], False)
    for _ in range(hub_mod.EVENTS_KEPT + 1):  # so far behind that events were dropped...
        hub.publish_event("x", "y")
    assert hub.collect(slow) == ([], True)  # ...means a fresh snapshot, never a silent gap


def test_many_viewers_cost_one_computation(client, monkeypatch):
    calls = []
    real = views.edges
    monkeypatch.setattr(views, "edges", lambda *a, **k: calls.append(1) or real(*a, **k))
    s = create(client, preset="toy")
    viewers = [client.websocket_connect(s.url(f"/stream?token={s.viewer}")) for _ in range(6)]
    sockets = [v.__enter__() for v in viewers]
    for ws in sockets:
        assert ws.receive_json()["type"] == "snapshot"
    calls.clear()
    client.post(s.url("/train"), json={"steps": 5}, headers=s.headers)
    for ws in sockets:
        read_until(ws, is_event("trained"))
    for v in viewers:
        v.__exit__(None, None, None)
    assert len(calls) <= 5 + 1  # at most one per step (plus the final one), not one per viewer


def test_edit_events_carry_history_and_undo_state(client):
    s = create(client, preset="toy")
    with client.websocket_connect(s.url(f"/stream?token={s.viewer}")) as ws:
        ws.receive_json()
        client.post(s.url("/refine"), json={"grid": 7}, headers=s.headers)
        meta = read_until(ws, is_event("refine"))["meta"]
        assert meta["grid"] == 7 and meta["can_undo"] and not meta["can_redo"]
        client.post(s.url("/undo"), headers=s.headers)
        meta = read_until(ws, is_event("undo"))["meta"]
        assert meta["grid"] == 5 and not meta["can_undo"] and meta["can_redo"]
        assert meta["history"][0]["undone"] is True
