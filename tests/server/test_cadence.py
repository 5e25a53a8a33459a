"""Frames to a viewer while its session waits for a turn (issue 13 item 11: frames to every
viewer >= 2/s with 30 sessions training): the session sends its status and step on a timer
(sessions.PULSE_S) even when it cannot step (in line, or its worker busy with a command), and
the loss points still arrive, every one, in order, once its turn comes. Frames are encoded once and shared by viewers that are equally up
to date.

A fake slow step holds the only step slot (a gate the test opens), so "waiting behind a busy
session" does not depend on how fast this machine steps."""

from __future__ import annotations

import threading
import time

from srv_helpers import create

from server import sessions as sessions_mod
from server.hub import Cursor, Hub, dumps
from server.scheduler import SCHEDULER


def test_pulse_period_gives_at_least_two_frames_per_second():
    assert 0 < sessions_mod.PULSE_S <= 0.5


def test_a_pulse_is_a_status_frame_shared_by_viewers_and_nothing_is_sent_without_one():
    hub = Hub(status="training", step=3)
    a, b = hub.cursor_now(), hub.cursor_now()
    assert hub.collect(a) == ([], False)  # nothing new: no frame
    hub.publish_pulse()
    fa, _ = hub.collect(a)
    fb, _ = hub.collect(b)
    assert fa == ['{"type":"metrics","status":"training","step":3,"points":[]}']
    assert fa[0] is fb[0]  # one encoding for both viewers
    assert hub.collect(a) == ([], False)
    # a point after a pulse: the frame carries it, and a viewer that missed the pulse is sent
    # one frame, not two
    hub.publish_pulse()
    hub.publish_point({"step": 4, "train_loss": 0.5, "test_loss": 0.6, "reg": 0.0})
    fa, _ = hub.collect(a)
    assert len(fa) == 1 and '"step":4,"points":[{"step":4,' in fa[0]
    behind = Cursor(step=3, status="training")  # an old cursor (no pulses seen) gets the point
    assert hub.collect(behind)[0] == fa


def _edge(j: int, y: float) -> dict:
    curve = {"x": [0.0, 0.5, 1.0], "y": [0.0, y, 2 * y]}
    return {"l": 0, "i": 0, "j": j, "state": "numeric", "symbolic": None, "score": 1.0,
            "curve": curve, "name": "é\u2028<b>"}  # fmt: skip


def test_edges_frames_are_joined_from_parts_encoded_once_and_equal_a_full_encoding():
    hub = Hub(status="training", step=7)
    nodes = [{"l": 0, "i": 0, "score": 0.5}]
    assert hub.publish_edges([_edge(0, 1.0), _edge(1, 1.0)], nodes) == 2
    new, old = hub.cursor_now(), Cursor(structure=hub.structure)
    assert hub.publish_edges([_edge(0, 1.0), _edge(1, 3.0)], nodes) == 1  # one changed
    frame = [f for f in hub.collect(new)[0] if f.startswith('{"type":"edges"')]
    want = {"type": "edges", "step": 7, "edges": [_edge(1, 3.0)], "nodes": nodes}
    assert frame == [dumps(want)]
    full = [f for f in hub.collect(old)[0] if f.startswith('{"type":"edges"')]
    assert full == [dumps({**want, "edges": [_edge(0, 1.0), _edge(1, 3.0)]})]


def _hold_the_slot(live, gate: threading.Event, entered: threading.Event) -> None:
    """Replace ``live``'s step with one that waits for ``gate`` first (inside its turn)."""
    step = live._train_one

    def slow_step() -> None:
        entered.set()
        gate.wait(30)
        step()

    live._train_one = slow_step


def test_a_waiting_session_streams_at_least_two_frames_per_second_then_every_point(
    client, monkeypatch
):
    monkeypatch.setattr(sessions_mod, "PULSE_S", 0.05)  # 20/s expected; asserted >= 2/s
    manager = client.app.state.manager
    SCHEDULER.configure(1)
    gate, entered = threading.Event(), threading.Event()
    timer = threading.Timer(60, gate.set)  # never hang: the busy step ends by itself
    timer.start()
    try:
        busy, waiting = create(client, preset="toy", seed=1), create(client, preset="toy", seed=2)
        _hold_the_slot(manager.get_live(busy.id), gate, entered)
        r = client.post(busy.url("/train"), json={"steps": 3}, headers=busy.headers)
        assert r.status_code == 200 and entered.wait(30)  # busy holds the only slot
        with client.websocket_connect(waiting.url(f"/stream?token={waiting.viewer}")) as ws:
            assert ws.receive_json()["type"] == "snapshot"
            r = client.post(waiting.url("/train"), json={"steps": 4}, headers=waiting.headers)
            assert r.status_code == 200
            frames, t0 = [], time.monotonic()
            while len(frames) < 10:
                msg = ws.receive_json()
                if msg["type"] == "metrics":
                    frames.append(msg)
            elapsed = time.monotonic() - t0
            assert not gate.is_set()  # all of this while busy still held the slot
            assert manager.get_live(waiting.id).step == 0
            # status-only frames: training, not a step taken, no point made up
            assert all(m["status"] == "training" and m["step"] == 0 for m in frames)
            assert all(m["points"] == [] for m in frames)
            assert len(frames) / elapsed >= 2.0, (len(frames), elapsed)
            gate.set()  # busy steps and leaves the slot: waiting gets its turns
            points, last = [], frames[-1]
            while not (last["status"] == "paused" and last["step"] == 4):
                msg = ws.receive_json()
                if msg["type"] == "metrics":
                    points, last = points + [p["step"] for p in msg["points"]], msg
            assert points == [1, 2, 3, 4]  # every point, in order, after the pulses
        deadline = time.monotonic() + 30  # busy's other steps may come after waiting's
        while manager.get_live(busy.id).step < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert manager.get_live(busy.id).step == 3
    finally:
        gate.set()
        timer.cancel()
        SCHEDULER.configure(0)


def test_frames_go_on_while_the_worker_runs_a_long_command(client, monkeypatch):
    """The pulse does not come from the worker: a command that holds it (a slow suggestion on
    a busy box) leaves the viewers their frames."""
    monkeypatch.setattr(sessions_mod, "PULSE_S", 0.05)
    live_s = create(client, preset="toy", seed=3)
    live = client.app.state.manager.get_live(live_s.id)
    gate, started = threading.Event(), threading.Event()
    threading.Timer(60, gate.set).start()

    def slow_command() -> None:
        started.set()
        gate.wait(30)

    try:
        with client.websocket_connect(live_s.url(f"/stream?token={live_s.viewer}")) as ws:
            assert ws.receive_json()["type"] == "snapshot"
            r = client.post(live_s.url("/train"), json={"steps": 10_000}, headers=live_s.headers)
            assert r.status_code == 200
            live.submit(slow_command)
            assert started.wait(30)
            step0, quiet, t0 = live.step, 0, time.monotonic()
            while quiet < 10:
                msg = ws.receive_json()
                if msg["type"] != "metrics":
                    continue
                assert msg["status"] == "training" and msg["step"] <= step0
                quiet += msg["points"] == [] and msg["step"] == step0  # not sent before
            assert not gate.is_set() and live.step == step0  # the worker was held throughout
            assert quiet / (time.monotonic() - t0) >= 2.0
    finally:
        gate.set()
        client.post(live_s.url("/pause"), headers=live_s.headers)


def _let_the_pulser_look(rounds: int) -> None:
    """Wait (bounded) until the pulse thread has looked at the sessions ``rounds`` more times
    (each round sleeps a quarter period): an absence checked over that many looks, not over a
    wall-clock guess that a busy box may fill with fewer."""
    pulser = sessions_mod._PULSER
    goal, deadline = pulser.rounds + rounds + 1, time.monotonic() + 30
    while pulser.rounds < goal and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pulser.rounds >= goal, "the pulse thread stopped looking"


def test_no_pulse_without_viewers_or_when_not_waiting(client, monkeypatch):
    """A paused session sends nothing on a timer; a training one with no viewer publishes no
    pulse (its hub does not change)."""
    monkeypatch.setattr(sessions_mod, "PULSE_S", 0.05)
    manager = client.app.state.manager
    SCHEDULER.configure(1)
    gate, entered = threading.Event(), threading.Event()
    timer = threading.Timer(60, gate.set)
    timer.start()
    try:
        busy, other = create(client, preset="toy", seed=1), create(client, preset="toy", seed=2)
        _hold_the_slot(manager.get_live(busy.id), gate, entered)
        client.post(busy.url("/train"), json={"steps": 1}, headers=busy.headers)
        assert entered.wait(30)
        live = manager.get_live(other.id)
        client.post(other.url("/train"), json={"steps": 2}, headers=other.headers)
        deadline = time.monotonic() + 10
        while SCHEDULER.waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert SCHEDULER.waiting == 1  # other is in line
        _let_the_pulser_look(40)  # ~10 pulse periods
        assert live.hub.pulse == 0
        gate.set()
        deadline = time.monotonic() + 30
        while live.status != "paused" and time.monotonic() < deadline:
            time.sleep(0.02)
        with client.websocket_connect(other.url(f"/stream?token={other.viewer}")) as ws:
            assert ws.receive_json()["type"] == "snapshot"
            _let_the_pulser_look(40)
            assert live.hub.pulse == 0  # paused: nothing on a timer
    finally:
        gate.set()
        timer.cancel()
        SCHEDULER.configure(0)
