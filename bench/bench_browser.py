"""The page while a session trains: how busy Chromium's main thread is, and how long Pause takes.

Starts ``python -m server.cli serve`` on a free port with a temp data dir, creates a session
through the API, opens its owner page in headless Debian Chromium (as tests/browser does), starts
Play and lets it train for ``--train-s`` seconds, then:

- busy %: Chromium's main-thread task time over the window (CDP ``Performance.getMetrics``
  ``TaskDuration`` delta / wall time), with the longest-task figures from a PerformanceObserver;
- pause latency: a real mouse click on the Pause button, from the click event's timestamp to the
  moment the status pill says "Paused" (a MutationObserver in the page records it), i.e. what a
  user waits for: the click queued behind page work, the POST, the server's answer, the render.

Usage (``--web-dir`` serves another copy of web/, e.g. to measure an older loss chart)::

    nice .venv/bin/python bench/bench_browser.py [--preset four_vars] [--train-s 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("KAN_WB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]

# Runs in the page before its scripts: long tasks, click timestamps and when the pill says paused.
PROBE = """
window.__bench = {long: [], clickAt: null, pausedAt: null};
new PerformanceObserver((l) => { for (const e of l.getEntries()) __bench.long.push(e.duration); })
  .observe({type: "longtask", buffered: true});
document.addEventListener("click", (ev) => {
  if (ev.target.closest && ev.target.closest("button.play")) __bench.clickAt = ev.timeStamp;
}, true);
new MutationObserver(() => {
  const pill = document.querySelector(".status");
  if (__bench.clickAt !== null && __bench.pausedAt === null && pill && pill.dataset.status === "paused")
    __bench.pausedAt = performance.now();
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-status"]});
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The workbench in a subprocess on 127.0.0.1."""

    def __init__(self, data_dir: Path, web_dir: Path | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        if web_dir:
            env["KAN_WB_WEB_DIR"] = str(web_dir)
        cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(data_dir), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in 30 s")

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def task_seconds(cdp) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def one_round(page, server: Server, preset: str, train_s: float) -> dict:
    created = server.api("POST", "/api/sessions", {"preset": preset, "seed": 0})
    page.goto(server.url + "/favicon.svg")
    entry = {**created, "title": "", "created": 0}
    page.evaluate(
        "([id, e]) => localStorage.setItem('kanwb.sessions', JSON.stringify({[id]: e}))",
        [created["id"], entry],
    )
    page.goto(server.url + created["url"])
    page.wait_for_selector("[data-edge]")
    page.wait_for_selector(".status[data-status='idle']")
    server.api("POST", f"/api/sessions/{created['id']}/play", token=created["owner_token"])
    page.wait_for_selector(".status[data-status='training']", timeout=30_000)
    page.wait_for_timeout(1000)  # past the first frames

    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.evaluate("() => { __bench.long.length = 0; }")
    t0, busy0 = time.monotonic(), task_seconds(cdp)
    time.sleep(train_s)  # the page works on its own; Playwright does not touch it meanwhile
    busy = (task_seconds(cdp) - busy0) / (time.monotonic() - t0)
    long_tasks = page.evaluate("() => __bench.long.slice()")
    step_before = int(page.locator("[data-step]").inner_text())

    box = page.locator("button.play").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".status[data-status='paused']", timeout=60_000)
    probe = page.evaluate("() => __bench")
    server.api("DELETE", f"/api/sessions/{created['id']}", token=created["owner_token"])
    return {
        "busy": busy,
        "pause_ms": probe["pausedAt"] - probe["clickAt"],
        "long_n": len(long_tasks),
        "long_max": max(long_tasks, default=0.0),
        "steps": step_before,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="four_vars")
    ap.add_argument("--train-s", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--web-dir", type=Path, default=None, help="serve this copy of web/")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        server = Server(Path(tmp), args.web_dir)
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, chromium_sandbox=False, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(PROBE)
            rows = [one_round(page, server, args.preset, args.train_s) for _ in range(args.rounds)]
        finally:
            browser.close()
            server.stop()

    web = args.web_dir or "web/"
    print(f"\npreset {args.preset}, {args.train_s:g} s of training per round, web {web}\n")
    print("| round | steps | main thread busy | long tasks (max ms) | pause latency ms |")
    print("|---|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        print(
            f"| {i} | {r['steps']} | {r['busy']:.0%} | {r['long_n']} ({r['long_max']:.0f}) "
            f"| {r['pause_ms']:.0f} |"
        )
    med = lambda k: statistics.median(r[k] for r in rows)  # noqa: E731
    print(f"| median | | {med('busy'):.0%} | | {med('pause_ms'):.0f} |")


if __name__ == "__main__":
    main()
