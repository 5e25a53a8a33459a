"""Issue 13 hardening: the model cost budget on every route that builds or grows a model, and
request bodies capped while they stream (chunked ones included)."""

import asyncio
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from srv_helpers import SMALL, create
from test_restart import _free_port, _healthy, _serve, _wait

from server.budget import count_edges, model_cost, over_budget
from server.config import Settings
from server.main import create_app


# --- the cost budget ---------------------------------------------------------------------------
def test_edges_are_counted_for_plain_and_nested_widths():
    assert count_edges([2, 5, 1]) == 15
    assert count_edges([4, 10, 10, 1]) == 150
    # [2, 1]: 3 nodes, 2 + 2·1 = 4 subnodes (a mult node takes two inputs).
    assert count_edges([2, [2, 1], 1]) == 2 * 4 + 3 * 1
    assert count_edges([[2, 1], [3, 2], 1]) == 3 * 7 + 5 * 1
    assert count_edges([2, [0, 1], 1], mult_arity=3) == 2 * 3 + 1 * 1
    assert model_cost([4, 10, 10, 1], grid=10, k=3, samples=2000) == 150 * 13 * 2000
    assert over_budget([2, 5, 1], 5, 3, 2000, limit=240_000) is None
    assert "240,000 edge-sample units" in over_budget([2, 5, 1], 5, 3, 2000, limit=239_999)


def test_the_issue_requests_are_refused_in_milliseconds(client):
    for body in (
        {"preset": "toy", "width": [2, 3333, 1], "grid": 20, "k": 5},
        {"preset": "toy", "width": [2, 300, 1], "grid": 200, "k": 5},
    ):
        start = time.perf_counter()
        r = client.post("/api/sessions", json={**body, "train_num": 10000, "test_num": 10000})
        elapsed = time.perf_counter() - start
        assert r.status_code == 422, r.text
        assert "the limit is 20,000,000" in r.text and "fewer edges" in r.text
        assert elapsed < 1.0, elapsed
    assert client.app.state.manager.n_live == 0


def test_the_default_budget_keeps_a_150_edge_model(client):
    r = client.post(
        "/api/sessions", json={"preset": "four_vars", "width": [4, 10, 10, 1], "grid": 10}
    )
    assert r.status_code == 201, r.text


def _csv(rows: int) -> str:
    return "a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 3}\n" for i in range(rows))


def test_every_route_that_builds_a_model_checks_the_budget(tmp_path):
    cfg = Settings(data_dir=tmp_path, max_model_cost=100_000)
    with TestClient(create_app(cfg)) as client:
        r = client.post("/api/sessions", json={"formula": "x_1", "width": [1, 100, 1], **SMALL})
        assert r.status_code == 422 and "edge-sample units" in r.text
        # A CSV's samples are its rows: 90 edges × 8 × 200 rows is over, 9 edges is not.
        big = {"csv": _csv(200), "width": [2, 30, 1]}
        r = client.post("/api/sessions", json=big)
        assert r.status_code == 422 and "200 samples" in r.text
        files = {"file": ("d.csv", _csv(200))}
        r = client.post(
            "/api/sessions/upload", files=files, data={"options": '{"width": [2, 30, 1]}'}
        )
        assert r.status_code == 422 and "200 samples" in r.text
        create(client, csv=_csv(200), width=[2, 3, 1])
        # Refine: toy with 300 samples allows (grid + 3) · 15 · 300 ≤ 100 000, so grid ≤ 19.
        s = create(client, preset="toy")
        r = client.post(s.url("/refine"), json={"grid": 40}, headers=s.headers)
        assert r.status_code == 422 and "edge-sample units" in r.text
        r = client.post(s.url("/refine"), json={"grid": 10}, headers=s.headers)
        assert r.status_code == 200, r.text


# --- bodies capped while they stream -----------------------------------------------------------
CHUNK = 64 * 1024
PART_HEAD = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="d.csv"\r\n\r\n'


def _call_app(app, path: str, content_type: bytes, n_chunks: int) -> tuple[int, dict, int]:
    """Send a chunked body (no Content-Length) of ``n_chunks`` × 64 KiB straight to the ASGI
    app; returns (status, JSON body, chunks the app pulled)."""
    pulled, sent = 0, []
    first = PART_HEAD if content_type.startswith(b"multipart") else b""

    async def receive():
        nonlocal pulled
        pulled += 1
        chunk = b"1" * CHUNK
        if pulled == 1:  # a multipart part header first, so the parser reads on
            chunk = first + chunk[len(first) :]
        return {"type": "http.request", "body": chunk, "more_body": pulled < n_chunks}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", content_type), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/api/sessions", b"application/json"),
        ("/api/sessions/upload", b"multipart/form-data; boundary=xx"),
    ],
)
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(tmp_path, path, content_type):
    cfg = Settings(data_dir=tmp_path, max_upload_bytes=1024 * 1024, max_body_slack=0)
    status, body, pulled = _call_app(create_app(cfg), path, content_type, n_chunks=1000)
    assert status == 413 and str(1024 * 1024) in body["detail"]
    assert pulled == 1024 * 1024 // CHUNK + 1  # one chunk past the limit; 983 never read


def test_a_real_server_refuses_a_chunked_upload_without_reading_it(tmp_path):
    """Through uvicorn and a socket: 200 MiB offered, the 413 comes after a few MiB."""
    port = _free_port()
    proc = _serve(tmp_path, port)
    offered, total = 0, 200 * 1024 * 1024

    def body():
        nonlocal offered
        yield PART_HEAD
        while offered < total:
            offered += 1024 * 1024
            yield b"1,2\n" * (1024 * 1024 // 4)

    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        _wait(lambda: proc.poll() is not None or _healthy(http), "the server to start")
        r = http.post(
            "/api/sessions/upload",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=xx"},
        )
        assert r.status_code == 413 and "bytes (the limit)" in r.json()["detail"]
        assert offered < total // 4, offered  # the rest was never taken from the client
        assert _healthy(http)
    finally:
        proc.kill()
        proc.wait(10)
