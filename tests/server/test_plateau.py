"""Training that stops itself when the loss plateaus (TrainSettings.stop_on_plateau)."""

import statistics

import pytest
from srv_helpers import create, is_event, read_until

from server.schemas import TrainSettings


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_until_stopped(client, sid: str, owner: str, viewer: str, path: str, body=None) -> dict:
    """Start training (``/train`` or ``/play``) and return the event that ends the run."""
    with client.websocket_connect(f"/api/sessions/{sid}/stream?token={viewer}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        r = client.post(f"/api/sessions/{sid}{path}", json=body, headers=bearer(owner))
        assert r.status_code == 200, r.text
        return read_until(ws, is_event("trained", "paused", "error"), limit=100_000)


def test_the_toy_stops_by_itself_well_before_a_large_target(client):
    s = create(client, preset="toy")
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["train"]["stop_on_plateau"] is True  # on by default
    patience = snap["train"]["plateau_patience"]
    ev = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 5000})
    assert ev["kind"] == "paused" and ev["data"] == {"reason": "plateau"}, ev
    assert ev["message"] == f"stopped: the loss stopped improving at step {ev['step']}"
    # not while grid updates are scheduled (50 steps), not before two windows, well before 5000
    assert 50 + 2 * patience <= ev["step"] <= 1000, ev
    snap = client.get(s.url(), headers=s.headers).json()
    assert snap["status"] == "paused" and snap["step"] == ev["step"]
    # independently of the detector: over its last two windows the published training loss
    # fell by less than plateau_rel_tol (medians), before that it was still falling
    loss = [p["train_loss"] for p in snap["metrics"]]
    before = statistics.median(loss[-2 * patience : -patience])
    last = statistics.median(loss[-patience:])
    assert before - last <= snap["train"]["plateau_rel_tol"] * before + 1e-6 * before
    assert loss[0] > 10 * last  # it did train first
    # Play again: a fresh run, which stops again by itself (the loss is still flat)
    ev2 = run_until_stopped(client, s.id, s.owner, s.viewer, "/play")
    assert ev2["kind"] == "paused" and ev2["data"] == {"reason": "plateau"}
    assert ev2["step"] == ev["step"] + 2 * patience, (ev, ev2)


def test_with_the_switch_off_it_runs_to_the_target(client):
    s = create(client, preset="toy", train={"stop_on_plateau": False})
    ev = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 160})
    assert ev["kind"] == "trained" and ev["step"] == 160, ev
    # switched on later (a settings edit): the next run stops by itself, 2 windows in
    r = client.patch(
        s.url("/settings"), json={"stop_on_plateau": True, "plateau_patience": 5}, headers=s.headers
    )
    assert r.status_code == 200 and r.json()["detail"]["plateau_patience"] == 5, r.text
    ev = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 5000})
    assert ev["kind"] == "paused" and ev["data"] == {"reason": "plateau"}, ev
    assert ev["step"] == 160 + 2 * 5, ev  # the loss was already flat at step 160


def test_a_slow_tolerance_keeps_training_to_the_target(client):
    # rel_tol is the fall per window that counts as progress: a tiny one never stops a run
    # that still moves, a large patience needs more steps than the target
    s = create(client, preset="toy", train={"plateau_patience": 200})
    ev = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 300})
    assert ev["kind"] == "trained" and ev["step"] == 300, ev


@pytest.mark.parametrize(
    "body, field",
    [
        ({"plateau_patience": 1}, "plateau_patience"),
        ({"plateau_patience": 2.5}, "plateau_patience"),
        ({"plateau_rel_tol": 0}, "plateau_rel_tol"),
        ({"plateau_rel_tol": 0.9}, "plateau_rel_tol"),
        ({"stop_on_plateau": "maybe"}, "stop_on_plateau"),
    ],
)
def test_bad_plateau_settings_are_refused_by_name(client, body, field):
    s = create(client, preset="toy")
    r = client.patch(s.url("/settings"), json=body, headers=s.headers)
    assert r.status_code == 422 and field in r.text, r.text
    r = client.post("/api/sessions", json={"preset": "toy", "train": body})
    assert r.status_code == 422 and field in r.text, r.text


def test_old_stored_settings_without_the_fields_get_the_defaults():
    # a session stored before these settings existed: the spec lacks them; the model's
    # defaults apply (what sessions.py falls back to)
    d = TrainSettings()
    assert (d.stop_on_plateau, d.plateau_patience, d.plateau_rel_tol) == (True, 20, 1e-3)


def test_a_students_copy_stops_by_itself_too(client):
    teacher = create(client, preset="toy", width=[2, 3, 1], train={"plateau_patience": 6})
    r = client.post("/api/classes", json={"session": teacher.id}, headers=teacher.headers)
    assert r.status_code == 201, r.text
    cl = r.json()
    st = client.post("/api/classes/join", json={"code": cl["code"], "name": "Ana"}).json()
    r = client.post(f"/api/classes/{cl['id']}/handout", headers=bearer(cl["teacher_token"]))
    assert r.status_code == 200, r.text
    me = client.get(f"/api/classes/{cl['id']}/me", headers=bearer(st["student_token"])).json()
    copy = me["session"]
    snap = client.get(f"/api/sessions/{copy['id']}", headers=bearer(copy["owner_token"])).json()
    assert snap["train"]["stop_on_plateau"] is True and snap["train"]["plateau_patience"] == 6
    ev = run_until_stopped(client, copy["id"], copy["owner_token"], copy["viewer_token"], "/play")
    assert ev["kind"] == "paused" and ev["data"] == {"reason": "plateau"}, ev
    assert 50 + 2 * 6 <= ev["step"] <= 1000, ev


def test_every_preset_and_custom_session_starts_with_lambda_and_auto_stop(client):
    """The first phase trains with a sparsity penalty and stops by itself, whatever the source
    (a new user changes nothing)."""
    presets = [p["name"] for p in client.get("/api/presets").json()]
    assert "toy" in presets and "circle" in presets
    sources = [{"preset": name} for name in presets]
    sources += [
        {"formula": "x_1*x_2", "ranges": [-1, 1]},
        {"csv": "a,b,y\n" + "\n".join(f"{k / 10},{k % 7},{2 * k / 10 + k % 7}" for k in range(30))},
    ]
    for body in sources:
        s = create(client, **body)
        train = client.get(s.url(), headers=s.headers).json()["train"]
        assert train["lamb"] > 0 and train["stop_on_plateau"] is True, (body, train)
        client.delete(s.url(), headers=s.headers)


def test_after_auto_prune_the_fine_tuning_run_stops_by_itself_too(client):
    # Auto-prune sets λ to 0 (a settings change mid-session): the next run tracks the loss
    # alone and still ends on a plateau, not in an error
    s = create(client, preset="toy", train={"plateau_patience": 5})
    ev = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 5000})
    assert ev["kind"] == "paused" and ev["data"] == {"reason": "plateau"}, ev
    r = client.post(s.url("/prune"), json={"node_th": 0.01, "edge_th": 0.03}, headers=s.headers)
    assert r.status_code == 200 and any("λ set to 0" in w for w in r.json()["warnings"]), r.text
    ev2 = run_until_stopped(client, s.id, s.owner, s.viewer, "/train", {"steps": 5000})
    assert ev2["kind"] == "paused" and ev2["data"] == {"reason": "plateau"}, ev2
    assert ev["step"] + 2 * 5 <= ev2["step"] < ev["step"] + 2000, (ev, ev2)
