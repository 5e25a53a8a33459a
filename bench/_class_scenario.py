"""The class scenario of bench_server.py (``--only class``): a class of N students on one
server, every handed-out copy training, viewers and pollers attached, a few students editing.

Measured over the window: per command p50/p95/max (ms), the dashboard GET and the students'
state polls, frames received per viewer per second (min over viewers), those of them that carry
training progress (loss points or edges), the longest gap between two frames of one viewer, and
every session's steps (min, median; how many advanced).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

import httpx
import websockets

EDITORS = 5  # students editing at the same time
THINK_S = 1.0  # an editor looks at the result this long before the next command
POLL_STATE_S, POLL_DASHBOARD_S = 1.5, 2.0


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Timings:
    def __init__(self):
        self.ms: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.why: dict[str, str] = {}  # the last error of each kind (status and detail)

    async def timed(self, key: str, coro):
        t0 = time.perf_counter()
        try:
            r = await coro
            r.raise_for_status()
        except Exception as exc:
            self.errors[key] = self.errors.get(key, 0) + 1
            resp = getattr(exc, "response", None)
            detail = f"{resp.status_code} {resp.text[:120]}" if resp is not None else repr(exc)
            self.why[key] = detail[:200]
            return None
        self.ms.setdefault(key, []).append((time.perf_counter() - t0) * 1e3)
        return r


class Viewer:
    """One websocket viewer: counts frames, those that carry training progress (new loss
    points or edge curves; not a status-only metrics frame, which the server sends while the
    session waits for a turn), and the longest silence between two frames."""

    def __init__(self, ws_url: str, sid: str, token: str):
        self.uri = f"{ws_url}/api/sessions/{sid}/stream?token={token}"
        self.frames, self.updates, self.max_gap, self.last = 0, 0, 0.0, None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with websockets.connect(
            self.uri, compression=None, max_size=None, proxy=None, open_timeout=60
        ) as ws:
            await ws.recv()  # the snapshot
            self.ready.set()
            async for raw in ws:  # not parsed: the client shares the cores with the server
                now = time.monotonic()
                if self.last is not None:
                    self.max_gap = max(self.max_gap, now - self.last)
                self.last, self.frames = now, self.frames + 1
                self.updates += _progress(raw)

    def window(self, now: float) -> None:
        """Count from now on (connect and warm-up excluded)."""
        self.frames, self.updates, self.max_gap, self.last = 0, 0, 0.0, now


def _progress(raw: str | bytes) -> bool:
    """An edges frame, or a metrics frame with points (the server writes compact JSON with
    "points" last, so a status-only one ends with an empty list)."""
    if isinstance(raw, bytes):
        return False
    if raw.startswith('{"type":"edges"'):
        return True
    return raw.startswith('{"type":"metrics"') and not raw.endswith('"points":[]}')


async def setup(http: httpx.AsyncClient, body: dict, n: int) -> tuple[dict, dict, list[dict]]:
    """Teacher session, class, n joins, hand-out; returns (teacher, class, students' sessions)."""
    teacher = (await http.post("/api/sessions", json=body)).raise_for_status().json()
    cl = await http.post(
        "/api/classes", json={"session": teacher["id"]}, headers=auth(teacher["owner_token"])
    )
    cl = cl.raise_for_status().json()
    joined = []
    for k in range(n):
        r = await http.post("/api/classes/join", json={"code": cl["code"], "name": f"S{k:02d}"})
        joined.append(r.raise_for_status().json())
    base = f"/api/classes/{cl['id']}"
    (await http.post(f"{base}/handout", headers=auth(cl["teacher_token"]))).raise_for_status()
    mine = []
    for st in joined:
        me = (await http.get(f"{base}/me", headers=auth(st["student_token"]))).json()
        mine.append({**me["session"], "student_token": st["student_token"]})
    return teacher, cl, mine


async def editor(
    http, t: Timings, s: dict, stop: float, r0: int, width: list[int], think: float
) -> None:
    """One student's edits on their own copy, round after round until ``stop``, with
    ``think`` seconds between commands."""
    h, base = auth(s["owner_token"]), f"/api/sessions/{s['id']}"
    r, n_in, n_out = r0, width[0], width[1]

    async def timed(key, coro):
        out = await t.timed(key, coro)
        await asyncio.sleep(think)
        return out

    while time.monotonic() < stop:
        e = f"{base}/edges/0/{r % n_in}/{r // n_in % n_out}"
        sug = await timed("suggestions", http.get(e + "/suggestions", headers=h))
        if sug is not None and sug.json()["candidates"]:
            fix = {"name": sug.json()["candidates"][0]["name"]}
            await timed("accept (fix symbolic)", http.post(e + "/symbolic", json=fix, headers=h))
            await timed("formula", http.get(f"{base}/formula", headers=h))
            await timed("undo", http.post(f"{base}/undo", headers=h))
        await timed("prune edge", http.post(e + "/prune", headers=h))
        await timed("undo", http.post(f"{base}/undo", headers=h))
        r += 1


async def poller(http, t: Timings, key: str, url: str, token: str, every: float, stop: float):
    while time.monotonic() < stop:
        t0 = time.monotonic()
        await t.timed(key, http.get(url, headers=auth(token)))
        await asyncio.sleep(max(0.0, every - (time.monotonic() - t0)))


async def steps_of(http, cl: dict) -> list[int | None]:
    d = await http.get(f"/api/classes/{cl['id']}", headers=auth(cl["teacher_token"]))
    return [c["step"] for c in d.raise_for_status().json()["students"]]


async def classroom(
    url: str, body: dict, n: int, per_copy: int, followers: int, secs: float, think: float = THINK_S
) -> dict:
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=url, timeout=120, trust_env=False, limits=limits) as http:
        teacher, cl, mine = await setup(http, body, n)
        ws_url = url.replace("http://", "ws://")
        viewers = [Viewer(ws_url, teacher["id"], teacher["viewer_token"]) for _ in range(followers)]
        viewers += [
            Viewer(ws_url, s["id"], s["viewer_token"]) for s in mine for _ in range(per_copy)
        ]
        tasks = [asyncio.create_task(v.run()) for v in viewers]
        await asyncio.wait_for(asyncio.gather(*(v.ready.wait() for v in viewers)), 180)
        for s in [teacher, *mine]:  # the teacher demonstrates on their own session meanwhile
            (await http.post(f"/api/sessions/{s['id']}/play", headers=auth(s["owner_token"])))
        await asyncio.sleep(3.0)  # every copy past its first steps
        t, start = Timings(), time.monotonic()
        for v in viewers:
            v.window(start)
        before = await steps_of(http, cl)
        stop = start + secs
        base = f"/api/classes/{cl['id']}"
        work = [
            editor(http, t, mine[k], stop, 7 * k, body["width"], think)
            for k in range(min(EDITORS, n))
        ]
        work += [
            poller(http, t, "class state (student poll)", f"{base}/state", s["student_token"],
                   POLL_STATE_S, stop)
            for s in mine
        ]  # fmt: skip
        work.append(
            poller(http, t, "dashboard GET", base, cl["teacher_token"], POLL_DASHBOARD_S, stop)
        )
        await asyncio.gather(*work)
        after, elapsed = await steps_of(http, cl), time.monotonic() - start
        rates = [v.frames / elapsed for v in viewers]
        updates = [v.updates / elapsed for v in viewers]
        gaps = [v.max_gap for v in viewers]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    advanced = [(b or 0) - (a or 0) for a, b in zip(before, after, strict=True)]
    return {
        "timings": t,
        "frames_min": min(rates),
        "frames_median": statistics.median(rates),
        "updates_min": min(updates),
        "updates_median": statistics.median(updates),
        "gap_max": max(gaps),
        "steps_min": min(advanced),
        "steps_median": statistics.median(advanced),
        "advancing": sum(1 for a in advanced if a > 0),
        "sessions": n,
        "viewers": len(viewers),
        "elapsed": elapsed,
        "think": think,
    }
