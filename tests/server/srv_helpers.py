"""Helpers shared by the server tests (a plain module: tests/ has no packages)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

SMALL = {"train_num": 200, "test_num": 100}  # keeps every test fast


@dataclass
class Sess:
    id: str
    owner: str
    viewer: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner}"}

    @property
    def viewer_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.viewer}"}

    def url(self, tail: str = "") -> str:
        return f"/api/sessions/{self.id}{tail}"


def create(client: TestClient, **body) -> Sess:
    body = {**SMALL, **body} if "csv" not in body else body
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    data = r.json()
    return Sess(data["id"], data["owner_token"], data["viewer_token"])


def read_until(ws, pred, limit: int = 5000) -> dict:
    """Receive stream messages until ``pred(msg)``; fails after ``limit`` messages."""
    for _ in range(limit):
        msg = ws.receive_json()
        if pred(msg):
            return msg
    raise AssertionError("expected message never came")


def is_event(*kinds: str):
    return lambda m: m["type"] == "event" and m["kind"] in kinds


def train(client: TestClient, s: Sess, steps: int) -> dict:
    """Train ``steps`` steps and wait for the stream's ``trained`` (or ``error``) event."""
    with client.websocket_connect(s.url(f"/stream?token={s.owner}")) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        r = client.post(s.url("/train"), json={"steps": steps}, headers=s.headers)
        assert r.status_code == 200, r.text
        return read_until(ws, is_event("trained", "error"))


def read_each(ws, *preds, limit: int = 5000) -> list[dict]:
    """Receive until every predicate has matched a message, in any order (one frame batch may
    carry an edit's ``edges`` before its ``event``); returns the first match of each."""
    found: list[dict | None] = [None] * len(preds)
    for _ in range(limit):
        msg = ws.receive_json()
        for k, pred in enumerate(preds):
            if found[k] is None and pred(msg):
                found[k] = msg
        if all(m is not None for m in found):
            return found
    raise AssertionError("expected messages never came")


def ckpt_parts(fix: Path, name: str, cache: bool = True) -> dict[str, bytes]:
    """The multipart parts of a pykan checkpoint fixture ``fix/name_*`` (``saveckpt``'s files)."""
    parts = {
        "pykan_config": (fix / f"{name}_config.yml").read_bytes(),
        "pykan_state": (fix / f"{name}_state").read_bytes(),
    }
    if cache:
        parts["pykan_cache_data"] = (fix / f"{name}_cache_data").read_bytes()
    return parts


def upload(client: TestClient, parts: dict[str, bytes], status: int = 201):
    """A multipart create; the new session, or (for another ``status``) the error's detail."""
    r = client.post("/api/sessions", files={k: (k, v) for k, v in parts.items()})
    assert r.status_code == status, r.text
    if status != 201:
        detail = r.json()["detail"]
        return detail if isinstance(detail, str) else r.text
    d = r.json()
    return Sess(d["id"], d["owner_token"], d["viewer_token"])
