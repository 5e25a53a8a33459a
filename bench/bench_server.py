"""A real `kan-workbench serve` on 127.0.0.1 (temp data dir), [4,10,10,1] preset sessions:
1. command latency while the session trains (one viewer attached) and, to compare, paused;
2. streaming to 1 and to 50 websocket viewers: edge frames/s delivered per viewer, and the
   server's step rate as a % of kan_core's headless rate on the same spec;
3. server RSS (fresh server) empty and with 30 idle-ish sessions, each trained a few steps;
4. a class (issue 13 item 11, issue 15): a teacher's session, 30 students joined by code and
   handed out copies, every copy training; 3 viewers per copy and 100 following the teacher's
   session (190 viewers); students poll the class state every 1.5 s, the teacher the dashboard
   every 2 s; 5 students edit at once (suggestions, accept, formula, undo, prune, undo).
   Measured: command latency, dashboard GET, frames per viewer (all of them, and those that
   carry progress: loss points or edges, not the status-only frames a session sends while it
   waits for a turn), each session's progress.

    .venv/bin/python bench/bench_server.py [--rounds 20] [--secs 8] [--viewers 1 50]
                                           [--sessions 30] [--class-secs 60]
                                           [--only latency stream rss class]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
import websockets
from _class_scenario import classroom
from _common import print_table, probe_line, setup_torch

WARM_STEP = 50  # past the grid-update phase (stop_grid_update_step): steady-state steps only
HTTP = {"timeout": 60, "trust_env": False}  # trust_env=False: never a proxy, even for 127.0.0.1


@contextlib.contextmanager
def server():
    """A fresh server on a free port, its data in a temp dir; yields (base_url, pid)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).with_name("kan-workbench")  # the venv's console script
    cmd = [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    with tempfile.TemporaryDirectory(prefix="kanwb-bench-") as tmp, open(f"{tmp}/err", "w") as err:
        p = subprocess.Popen([*cmd, "--data-dir", f"{tmp}/data"], cwd=tmp, stderr=err)
        try:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(url + "/api/health", timeout=2, trust_env=False).is_success:
                        break
                if p.poll() is not None or time.monotonic() > deadline:
                    log = Path(err.name).read_text()[-2000:]
                    raise RuntimeError(f"the server did not start (rc {p.poll()}):\n{log}")
                time.sleep(0.1)
            yield url, p.pid
        finally:
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(20)
            p.kill()  # no-op once it has exited
            p.wait(10)


def headless(body: dict, secs: float) -> float:
    """steps/s of kan_core's Trainer in this process, as a session worker would run it: the
    spec, dataset and model the server builds from `body`, its torch threads, from WARM_STEP."""
    import kan_core
    from server.config import Settings
    from server.data import build_dataset, build_model, build_spec
    from server.schemas import SessionCreate
    from server.sessions import train_options

    cfg, threads = Settings(), torch.get_num_threads()
    spec = build_spec(SessionCreate(**body), cfg)
    data = build_dataset(spec, None, cfg)
    opts = train_options(spec)  # as the session's worker builds them
    tr = kan_core.Trainer(build_model(spec, data), data, opts)
    torch.set_num_threads(cfg.torch_threads)
    while tr.steps_done < WARM_STEP:
        tr.step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < secs:
        tr.step()
        n += 1
    torch.set_num_threads(threads)
    return n / (time.perf_counter() - t0)


class Session:
    """One session on the server, driven over REST and watched over websockets."""

    @classmethod
    async def create(cls, http: httpx.AsyncClient, body: dict) -> Session:
        s = cls()
        r = (await http.post("/api/sessions", json=body)).raise_for_status().json()
        s.http, s.id, s.tok, s.tasks = http, r["id"], r["owner_token"], []
        return s

    async def call(self, method: str, path: str = "", **kw) -> dict:
        auth = {"Authorization": f"Bearer {self.tok}"}
        r = await self.http.request(method, f"/api/sessions/{self.id}{path}", headers=auth, **kw)
        return r.raise_for_status().json() if r.content else {}

    async def step(self, until: int = 0, limit: float = 60.0) -> int:
        deadline = time.monotonic() + limit
        while (step := (await self.call("GET"))["step"]) < until:
            if time.monotonic() > deadline:
                raise TimeoutError(f"session did not reach step {until} in {limit:.0f} s")
            await asyncio.sleep(0.1)
        return step

    async def watch(self, n: int) -> list[int]:
        """Connect `n` viewers; returns their live edge-frame counts once all have a snapshot."""
        frames, ready = [-1] * n, asyncio.Event()
        url = self.http.base_url.copy_with(scheme="ws").join(f"/api/sessions/{self.id}/stream")

        async def viewer(k: int) -> None:
            uri = f"{url}?token={self.tok}"
            async with websockets.connect(
                uri, compression=None, max_size=None, proxy=None, open_timeout=30
            ) as ws:
                await ws.recv()  # the snapshot
                frames[k] = 0
                if min(frames) == 0:
                    ready.set()
                async for raw in ws:  # counted, not parsed: the client shares the 2 cores
                    frames[k] += raw.startswith('{"type":"edges"')

        self.tasks = [asyncio.create_task(viewer(k)) for k in range(n)]
        await asyncio.wait_for(ready.wait(), 60)
        return frames

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 30)
        await self.call("DELETE")


async def latency(url: str, body: dict, rounds: int) -> dict[tuple[str, str], list[float]]:
    """ms per (mode, command); round r works on input edge (0, r % 4, r // 4 % 10)."""
    out: dict[tuple[str, str], list[float]] = {}
    async with httpx.AsyncClient(base_url=url, **HTTP) as http:
        s = await Session.create(http, body)
        await s.watch(1)

        async def timed(key, method, path, **kw):
            t0 = time.perf_counter()
            r = await s.call(method, path, **kw)
            if key[0]:  # None: the warm-up round (imports, caches), not recorded
                out.setdefault(key, []).append((time.perf_counter() - t0) * 1e3)
            return r

        for mode in ("training", "paused"):
            await s.call("POST", "/play" if mode == "training" else "/pause")
            await s.step(until=WARM_STEP)
            for r in range(rounds + 1):
                m, e = mode if r else None, f"/edges/0/{r % 4}/{r // 4 % 10}"
                sug = await timed((m, "suggestions"), "GET", e + "/suggestions")
                fix = {"name": sug["candidates"][0]["name"]}
                await timed((m, "accept (fix symbolic)"), "POST", e + "/symbolic", json=fix)
                await timed((m, "formula"), "GET", "/formula")
                await timed((m, "undo"), "POST", "/undo")
                await timed((m, "prune edge"), "POST", e + "/prune")
                await timed((m, "undo"), "POST", "/undo")
        await s.close()
    return out


async def stream(url: str, body: dict, n: int, secs: float) -> tuple[float, float, float]:
    """(mean, min over viewers) edge frames/s per viewer and the server's steps/s, n viewers."""
    async with httpx.AsyncClient(base_url=url, **HTTP) as http:
        s = await Session.create(http, body)
        frames = await s.watch(n)
        await s.call("POST", "/play")
        s0, f0, t0 = await s.step(until=WARM_STEP), list(frames), time.perf_counter()
        await asyncio.sleep(secs)
        s1, f1, dt = await s.step(), list(frames), time.perf_counter() - t0
        await s.close()
    fps = [(b - a) / dt for a, b in zip(f0, f1, strict=True)]
    return statistics.mean(fps), min(fps), (s1 - s0) / dt


async def memory(url: str, pid: int, body: dict, n: int, steps: int = 3) -> list[list]:
    def rss_mb() -> tuple[float, int]:  # (VmRSS in MB, threads) of the server
        kb = int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])
        return kb / 1024, len(os.listdir(f"/proc/{pid}/task"))

    rows = [["empty server", *rss_mb()]]
    async with httpx.AsyncClient(base_url=url, **HTTP) as http:
        ss = [await Session.create(http, {**body, "seed": k}) for k in range(n)]
        rows.append([f"{n} sessions created (step 0)", *rss_mb()])
        await asyncio.gather(*(s.call("POST", "/train", json={"steps": steps}) for s in ss))
        await asyncio.gather(*(s.step(until=steps, limit=120) for s in ss))
        rows.append([f"{n} sessions trained {steps} steps each, paused", *rss_mb()])
    return rows


def summary(ts: list[float]) -> list[float]:
    p95 = statistics.quantiles(ts, n=20, method="inclusive")[18] if len(ts) > 1 else ts[0]
    return [statistics.median(ts), p95, max(ts)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="four_vars")
    ap.add_argument("--width", default="4,10,10,1")
    ap.add_argument("--rounds", type=int, default=20, help="command rounds per mode")
    ap.add_argument("--secs", type=float, default=8.0, help="measuring window per stream case")
    ap.add_argument("--viewers", type=int, nargs="+", default=[1, 50])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--class-secs", type=float, default=60.0, help="class scenario window")
    ap.add_argument("--class-think", type=float, default=1.0, help="editors' pause, s")
    ap.add_argument("--class-viewers", type=int, nargs=2, default=[3, 100],
                    help="viewers per student copy, viewers following the teacher")  # fmt: skip
    parts = ["latency", "stream", "rss", "class"]
    ap.add_argument("--only", nargs="+", choices=parts, default=parts)
    args = ap.parse_args()
    setup_torch(0)
    w = [int(v) for v in args.width.split(",")]
    # Sustained training: a run that stops itself on a plateau would leave nothing to measure.
    body = {"preset": args.preset, "width": w, "train": {"stop_on_plateau": False}}
    n_edges = sum(a * b for a, b in zip(w, w[1:], strict=False))
    print(f"session: {args.preset} {w} ({n_edges} edges), server defaults; from step {WARM_STEP}")
    print(probe_line())

    if "latency" in args.only:
        with server() as (url, _):
            lat = asyncio.run(latency(url, body, args.rounds))
        train = {k: v for (mode, k), v in lat.items() if mode == "training"}
        rows = [[k, len(v), *summary(v), *summary(lat["paused", k])[:2]] for k, v in train.items()]
        heads = ["command", "n", "training median", "p95", "max", "paused median", "p95"]
        title = f"Command latency, ms ({n_edges} edges, 1 viewer; target < 100 ms while training)"
        print_table(heads, rows, title, 1)

    if "stream" in args.only:
        rows = []
        with server() as (url, _):
            for n in args.viewers:  # headless next to each case (same seed): the load drifts
                head = headless({**body, "seed": n}, args.secs)
                mean, low, steps = asyncio.run(stream(url, {**body, "seed": n}, n, args.secs))
                rows.append([n, mean, low, steps, head, 100 * steps / head])
        heads = ["viewers", "edge frames/s per viewer", "min", "steps/s", "headless", "% headless"]
        print_table(heads, rows, "Streaming (targets: >= 5 edge frames/s, >= 70 % headless)", 1)

    if "rss" in args.only:
        with server() as (url, pid):
            rows = asyncio.run(memory(url, pid, body, args.sessions))
        print_table(["server", "RSS MB", "threads"], rows, f"Server memory, {n_edges} edges", 0)

    if "class" in args.only:
        per_copy, followers = args.class_viewers
        with server() as (url, _):
            res = asyncio.run(
                classroom(
                    url, body, args.sessions, per_copy, followers, args.class_secs, args.class_think
                )
            )
        print_class(res, n_edges, lat if "latency" in args.only else None)
    print(probe_line())


def print_class(res: dict, n_edges: int, single: dict | None) -> None:
    """The class scenario's table, beside the single-session figures when they were measured."""
    t = res["timings"]
    rows = []
    for key, ms in t.ms.items():
        alone = (
            summary(single["training", key])[:2]
            if single and ("training", key) in single
            else ["", ""]
        )
        rows.append([key, len(ms), t.errors.get(key, 0), *summary(ms), *alone])
    for key, n_err in t.errors.items():
        if key not in t.ms:
            rows.append([key, 0, n_err, "", "", "", "", ""])
    heads = ["request", "n", "errors", "class median", "p95", "max", "1 session median", "p95"]
    title = (
        f"Class: {res['sessions']} copies training ({n_edges} edges each), {res['viewers']} viewers,"
        f" pollers, 5 editing ({res['think']:g} s between commands); {res['elapsed']:.0f} s"
        " (targets: p95 < 500 ms,"
        " dashboard <= 2 s)"
    )
    print_table(heads, rows, title, 1)
    for key, why in t.why.items():
        print(f"  last error of {key}: {why}")
    rows = [
        ["frames/s per viewer (min, median)", f"{res['frames_min']:.1f}", f"{res['frames_median']:.1f}"],
        ["  of which with progress (points, edges)", f"{res['updates_min']:.2f}",
         f"{res['updates_median']:.2f}"],
        ["longest gap between frames, s", f"{res['gap_max']:.2f}", ""],
        ["steps per copy in the window (min, median)", res["steps_min"], res["steps_median"]],
        ["copies that advanced", f"{res['advancing']}/{res['sessions']}", ""],
    ]  # fmt: skip
    print_table(["figure", "value", ""], rows, "Class: streams and progress", 1)


if __name__ == "__main__":
    main()
