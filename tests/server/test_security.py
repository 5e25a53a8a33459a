"""Security: names are data (escaped MathML/LaTeX), security headers on every page, the stream
authenticates without a token in the URL, and no token reaches a log line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sympy
import websockets
from srv_helpers import create

from kan_core.printers import fast_latex, fast_mathml
from server.security import redact

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    '<iframe srcdoc="<script>parent.alert(1)</script>"></iframe>',
    '<iframe src="javascript:alert(1)">',
    "<img src=x onerror=alert(1)>",
    "</mi><script>alert(1)</script><mi>",
    "<svg onload=alert(1)>",
    "a&b\"c'd",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_printers_write_names_as_text(name):
    x, y = sympy.Symbol(name, real=True), sympy.Symbol("x_1", real=True)
    # The fast path, a function of the name, and sympy's fallback printer (Heaviside).
    expr = sympy.sin(x) + x**2 * y + sympy.Heaviside(x)
    ml = fast_mathml(expr)
    for raw in ("<iframe", "<script", "<img", "<svg", "</mi><script"):
        assert raw not in ml
    assert "&lt;" in ml or "&amp;" in ml


def test_latex_escapes_the_special_characters_of_names():
    tex = fast_latex(sympy.sin(sympy.Symbol("a}{\\b_c#", real=True)))
    assert r"\mathrm{a\}\{\backslash{}b\_c\#}" in tex


def _hostile_csv(header: str) -> str:
    rows = [f"{0.05 * k:.3f},{0.1 * k:.3f}" for k in range(-20, 21)]
    return "\n".join([f'"{header.replace(chr(34), chr(34) * 2)}",y', *rows])


@pytest.mark.parametrize("edit", ["/edges/0/0/0/symbolic", "/auto-symbolic"])
@pytest.mark.parametrize("name", HOSTILE[:3])
def test_formula_of_a_hostile_csv_column_is_escaped(client, name, edit):
    """Partial formulas (our printer) and complete ones (sympy's printer) alike."""
    r = client.post("/api/sessions", json={"csv": _hostile_csv(name), "target": "y"})
    assert r.status_code == 201, r.text
    s = r.json()
    auth = {"Authorization": f"Bearer {s['viewer_token']}"}
    fixed = client.post(
        f"/api/sessions/{s['id']}{edit}",
        json={"name": "x"} if "edges" in edit else {},
        headers={"Authorization": f"Bearer {s['owner_token']}"},
    )
    assert fixed.status_code == 200, fixed.text
    f = client.get(f"/api/sessions/{s['id']}/formula", headers=auth)
    assert f.status_code == 200, f.text
    assert f.json()["complete"] is (edit == "/auto-symbolic")
    ml = f.json()["outputs"][0]["mathml"]
    assert "<iframe" not in ml and "<img" not in ml and "<script" not in ml
    assert "&lt;" in ml  # the name is there, as text


@pytest.mark.parametrize("path", ["/", "/sessions/abc", "/js/main.js", "/api/health", "/nope"])
def test_security_headers_on_every_response(client, path):
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline' https" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_stream_takes_the_token_from_the_subprotocol_header(client):
    s = create(client, preset="toy")
    url = s.url("/stream")
    with client.websocket_connect(url, subprotocols=["kanwb", f"bearer.{s.owner}"]) as ws:
        assert ws.accepted_subprotocol == "kanwb"
        assert ws.receive_json()["type"] == "snapshot"
    with client.websocket_connect(url, subprotocols=["kanwb", "bearer.nope"]) as ws:
        with pytest.raises(Exception) as info:
            ws.receive_json()
        assert getattr(info.value, "code", None) == 4403


def test_redact_hides_every_token_form():
    line = (
        '127.0.0.1:5 - "GET /sessions/ab?view=SeCrEt-1_x HTTP/1.1" 200 '
        '"WebSocket /api/sessions/ab/stream?x=1&token=OwNeR_2-y" Authorization: Bearer ZZZ.9'
    )
    out = redact(line)
    for secret in ("SeCrEt-1_x", "OwNeR_2-y", "ZZZ.9"):
        assert secret not in out
    assert out.count("***") == 3 and "/api/sessions/ab/stream" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_token_in_the_live_servers_log(tmp_path):
    """The real CLI at log level info (access log on): viewer link, stream by URL token and by
    subprotocol, REST with Bearer; none of the tokens appears in anything the server wrote."""
    port, log = _free_port(), tmp_path / "server.log"
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(tmp_path / "data"), "--log-level", "debug"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if http.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {"preset": "toy", "train_num": 100, "test_num": 50}
        s = http.post("/api/sessions", json=body).json()
        owner, viewer, sid = s["owner_token"], s["viewer_token"], s["id"]
        assert http.get(f"/sessions/{sid}?view={viewer}").status_code == 200
        assert http.get(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {owner}"})
        base = f"ws://127.0.0.1:{port}/api/sessions/{sid}/stream"

        async def streams():
            async with websockets.connect(f"{base}?token={viewer}") as ws:
                await ws.recv()
            async with websockets.connect(base, subprotocols=["kanwb", f"bearer.{owner}"]) as ws:
                assert ws.subprotocol == "kanwb"
                await ws.recv()

        asyncio.run(streams())
        http.get(f"/api/sessions/nope/stream?token={owner}")
    finally:
        proc.terminate()
        proc.wait(15)
    text = log.read_text()
    assert "/stream" in text and "GET /sessions/" in text  # the log did record the requests
    assert owner not in text and viewer not in text
