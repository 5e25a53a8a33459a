"""Golden files: the shape of every stream message and the API surface.

A protocol change shows up as a diff under tests/server/golden/. After an intended change,
regenerate with ``UPDATE_GOLDEN=1 pytest tests/server/test_golden.py`` and bump
``server.PROTOCOL_VERSION`` if clients must change (see docs/protocol.md).
"""

import json
import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from srv_helpers import create, is_event, read_each, read_until

from server.schemas import StreamMessage

GOLDEN = Path(__file__).parent / "golden"
ADAPTER = TypeAdapter(StreamMessage)


def shape(value):
    """Keys and JSON types, recursively; a list is shown by its first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def check_golden(name: str, data) -> None:
    path = GOLDEN / name
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(text)
        if not os.environ.get("UPDATE_GOLDEN"):
            pytest.fail(f"wrote missing golden file {path}; check it in")
    assert json.loads(path.read_text()) == data, f"{name} changed (UPDATE_GOLDEN=1 to accept)"


@pytest.fixture
def messages(client):
    """One real message of every type, from a session that trains, fixes and prunes."""
    s = create(client, preset="toy")
    got = {}
    with client.websocket_connect(s.url(f"/stream?token={s.viewer}")) as ws:
        got["snapshot"] = ws.receive_json()
        client.post(s.url("/train"), json={"steps": 3}, headers=s.headers)
        got["metrics"] = read_until(ws, lambda m: m["type"] == "metrics" and m["points"])
        read_until(ws, is_event("trained"))
        client.post(s.url("/edges/0/0/0/symbolic"), json={"name": "x"}, headers=s.headers)
        got["event"], got["edges"] = read_each(
            ws,
            is_event("fix_symbolic"),
            lambda m: m["type"] == "edges" and any(e["symbolic"] for e in m["edges"]),
        )
        client.post(s.url("/edges/0/1/0/prune"), headers=s.headers)
        read_until(ws, is_event("prune_edge"))
    snap = got["snapshot"]
    # Make optional parts present so their shape is pinned too.
    symbolic_edge = next(e for e in got["edges"]["edges"] if e["symbolic"])
    snap["edges"] = got["edges"]["edges"] = [symbolic_edge]
    snap["history"] = [{"seq": 1, "kind": "prune_edge", "summary": "s", "step": 0, "undone": False}]
    snap["rejects"] = {"0,0,0": ["sin"]}
    snap["metrics"] = got["metrics"]["points"][:1]
    return got


@pytest.mark.parametrize("kind", ["snapshot", "metrics", "edges", "event"])
def test_stream_message_golden(messages, kind):
    msg = messages[kind]
    parsed = ADAPTER.validate_python(msg)
    assert parsed.type == kind
    check_golden(f"stream_{kind}.json", shape(msg))


def test_api_surface_golden(client):
    spec = client.get("/openapi.json").json()
    surface = {
        "paths": {p: sorted(ops) for p, ops in sorted(spec["paths"].items())},
        "schemas": {
            name: sorted(s.get("properties", {}))
            for name, s in sorted(spec["components"]["schemas"].items())
            if not name.startswith(("HTTPValidationError", "ValidationError", "Body_"))
        },
    }
    check_golden("api_surface.json", surface)
