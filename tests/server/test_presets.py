"""Contract: every preset has at least 2 edges and trains 30 steps in seconds via the API."""

import time

from srv_helpers import Sess, train


def test_every_preset_trains_30_steps_in_seconds(client):
    for preset in client.get("/api/presets").json():
        r = client.post("/api/sessions", json={"preset": preset["name"]})  # default sizes
        assert r.status_code == 201, (preset["name"], r.text)
        body = r.json()
        s = Sess(body["id"], body["owner_token"], body["viewer_token"])
        t = time.perf_counter()
        ev = train(client, s, 30)
        took = time.perf_counter() - t
        assert ev["kind"] == "trained" and ev["step"] == 30, (preset["name"], ev)
        assert took < 20, f"{preset['name']}: 30 steps took {took:.1f} s"
        snap = client.get(s.url(), headers=s.headers).json()
        assert len(snap["edges"]) >= 2 and snap["metrics"][-1]["train_loss"] is not None
