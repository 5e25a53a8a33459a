"""One session failing (NaN, exception, hung step) leaves the others and the server alone."""

import threading

import pytest
from fastapi.testclient import TestClient
from srv_helpers import create, is_event, read_until

import kan_core
from server.config import Settings
from server.main import create_app


class BadTrainer:
    """Stands in for kan_core.Trainer: diverges, raises, or blocks until released."""

    def __init__(self, mode: str):
        self.mode, self.release = mode, threading.Event()

    def step(self):
        if self.mode == "raise":
            raise RuntimeError("boom")
        if self.mode == "hang":
            self.release.wait(30)
        return kan_core.StepResult(
            1, float("nan"), float("nan"), float("nan"), ok=False, message="loss became NaN"
        )

    def reset_optimizer(self):
        pass


def _break(client, session_id: str, trainer: BadTrainer) -> None:
    live = client.app.state.manager.get_live(session_id)
    live._get_trainer = lambda: trainer


@pytest.mark.parametrize("mode, reason", [("nan", "NaN"), ("raise", "boom")])
def test_failing_session_is_marked_errored_others_keep_training(client, mode, reason):
    bad, good = create(client, preset="toy"), create(client, preset="toy")
    _break(client, bad.id, BadTrainer(mode))
    with (
        client.websocket_connect(bad.url(f"/stream?token={bad.viewer}")) as ws_bad,
        client.websocket_connect(good.url(f"/stream?token={good.viewer}")) as ws_good,
    ):
        ws_bad.receive_json(), ws_good.receive_json()
        client.post(good.url("/train"), json={"steps": 8}, headers=good.headers)
        client.post(bad.url("/train"), json={"steps": 8}, headers=bad.headers)
        err = read_until(ws_bad, is_event("error", "trained"))
        assert err["kind"] == "error" and reason in err["message"]
        assert read_until(ws_good, is_event("error", "trained"))["kind"] == "trained"
    snap = client.get(bad.url(), headers=bad.headers).json()
    assert snap["status"] == "error" and reason in snap["error"]
    assert client.get(good.url(), headers=good.headers).json()["step"] == 8
    assert client.get("/api/health").status_code == 200
    # The errored session still answers and keeps its last good model.
    assert client.post(bad.url("/edges/0/0/0/prune"), headers=bad.headers).status_code == 200


def test_hung_step_is_reported_and_contained(tmp_path):
    settings = Settings(data_dir=tmp_path, step_timeout_s=0.5, metrics_hz=100)
    with TestClient(create_app(settings)) as client:
        bad, good = create(client, preset="toy"), create(client, preset="toy")
        trainer = BadTrainer("hang")
        _break(client, bad.id, trainer)
        with client.websocket_connect(bad.url(f"/stream?token={bad.owner}")) as ws:
            ws.receive_json()
            client.post(bad.url("/train"), json={"steps": 3}, headers=bad.headers)
            err = read_until(ws, is_event("error"))
        assert "longer than" in err["message"]
        # Reading a stuck session still answers (from the last published state).
        stuck = client.get(bad.url(), headers=bad.headers)
        assert stuck.status_code == 200 and stuck.json()["status"] == "error"
        assert "longer than" in stuck.json()["error"]
        # Other sessions are untouched.
        with client.websocket_connect(good.url(f"/stream?token={good.owner}")) as ws:
            ws.receive_json()
            assert (
                client.post(good.url("/train"), json={"steps": 2}, headers=good.headers).status_code
                == 200
            )
            assert read_until(ws, is_event("trained", "error"))["kind"] == "trained"
        trainer.release.set()  # the step returns; its result is discarded
        snap = client.get(bad.url(), headers=bad.headers).json()
        assert snap["status"] == "error" and snap["step"] == 0


def test_a_failing_curve_computation_errors_the_session_not_the_worker(client, monkeypatch):
    from server import views

    s = create(client, preset="toy")
    with client.websocket_connect(s.url(f"/stream?token={s.owner}")) as ws:
        ws.receive_json()
        monkeypatch.setattr(views, "edges", lambda *a, **k: 1 / 0)
        client.post(s.url("/train"), json={"steps": 2}, headers=s.headers)
        err = read_until(ws, is_event("error"))
        assert "ZeroDivisionError" in err["message"]
    monkeypatch.undo()
    assert client.get(s.url(), headers=s.headers).json()["status"] == "error"
    assert client.post(s.url("/edges/0/0/0/prune"), headers=s.headers).status_code == 200


def test_an_edit_that_cannot_be_saved_is_not_applied(client, monkeypatch):
    s = create(client, preset="toy")
    store = client.app.state.store

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "record_edit", disk_full)
    r = client.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
    assert r.status_code == 503 and "not applied" in r.text
    monkeypatch.undo()
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["edges"][0]["state"] == "active" and snap["history"] == []
