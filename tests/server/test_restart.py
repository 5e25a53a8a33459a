"""Kill the real server (SIGKILL) mid-training; a restart serves every acknowledged edit."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(pred, what: str, limit: float = 60.0):
    """Poll until ``pred()`` is truthy (bounded); readiness checks, not sleep-and-hope."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/api/health").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def server(tmp_path):
    port, procs = _free_port(), []

    def start() -> httpx.Client:
        procs.append(_serve(tmp_path, port))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        _wait(lambda: procs[-1].poll() is not None or _healthy(http), "the server to start")
        assert procs[-1].poll() is None, procs[-1].stderr.read().decode()
        return http

    yield start, procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def test_sigkill_mid_training_loses_nothing_acknowledged(server):
    start, procs = server
    http = start()
    r = http.post("/api/sessions", json={"preset": "toy", "train_num": 200, "test_num": 100})
    sid, owner, viewer = r.json()["id"], r.json()["owner_token"], r.json()["viewer_token"]
    auth = {"Authorization": f"Bearer {owner}"}

    def snap():
        return http.get(f"/api/sessions/{sid}", headers=auth).json()

    assert http.post(f"/api/sessions/{sid}/train", json={"steps": 5}, headers=auth).is_success
    _wait(lambda: snap()["status"] == "paused", "the train run to end")
    assert http.post(f"/api/sessions/{sid}/edges/0/0/0/prune", headers=auth).status_code == 200
    r = http.post(f"/api/sessions/{sid}/edges/0/1/0/symbolic", json={"name": "x"}, headers=auth)
    assert r.status_code == 200
    assert http.post(f"/api/sessions/{sid}/play", headers=auth).is_success
    _wait(lambda: snap()["step"] >= 8, "training to be under way")
    procs[-1].send_signal(signal.SIGKILL)
    procs[-1].wait(10)

    http = start()
    after = http.get(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {viewer}"})
    assert after.status_code == 200, after.text
    after = after.json()
    assert after["status"] == "paused" and after["step"] >= 5
    states = {(e["l"], e["i"], e["j"]): e for e in after["edges"]}
    assert states[(0, 0, 0)]["state"] == "pruned"
    assert states[(0, 1, 0)]["state"] == "symbolic"
    assert states[(0, 1, 0)]["symbolic"]["name"] == "x"
    assert [h["kind"] for h in after["history"]] == ["prune_edge", "fix_symbolic"]
    assert len(after["metrics"]) >= 5
    # Same tokens, still working: train on, and the old owner token still mutates.
    assert http.post(f"/api/sessions/{sid}/train", json={"steps": 2}, headers=auth).is_success
    _wait(
        lambda: snap()["status"] == "paused" and snap()["step"] >= after["step"] + 2,
        "training after the restart",
    )
    assert http.post(f"/api/sessions/{sid}/undo", headers=auth).status_code == 200
