"""Limits from settings, idle eviction to disk with transparent reload, and the CLI."""

from fastapi.testclient import TestClient
from srv_helpers import create, train

from server.cli import build_parser
from server.config import Settings
from server.main import create_app


def test_max_sessions_and_edges(tmp_path):
    cfg = Settings(data_dir=tmp_path, max_sessions=2, max_edges=20, max_grid=12)
    with TestClient(create_app(cfg)) as client:
        s = create(client, preset="toy")
        create(client, preset="toy")
        r = client.post("/api/sessions", json={"preset": "toy"})
        assert r.status_code == 429
        client.delete(s.url(), headers=s.headers)
        r = client.post("/api/sessions", json={"formula": "x_1", "width": [1, 30, 1]})
        assert r.status_code == 422 and "edges" in r.text
        s = create(client, preset="toy")
        r = client.post(s.url("/refine"), json={"grid": 50}, headers=s.headers)
        assert r.status_code == 422 and "grid" in r.text


def test_idle_sessions_are_evicted_and_reload_transparently(tmp_path):
    cfg = Settings(data_dir=tmp_path, max_live_sessions=1)
    with TestClient(create_app(cfg)) as client:
        first = create(client, preset="toy")
        train(client, first, 2)
        client.post(first.url("/edges/0/0/0/prune"), headers=first.headers)
        create(client, preset="toy")  # evicts the idle first session to disk
        manager = client.app.state.manager
        assert manager.get_live(first.id) is None and manager.n_live == 1
        snap = client.get(first.url(), headers=first.headers).json()
        assert snap["step"] == 2 and snap["status"] == "paused"
        assert snap["edges"][0]["state"] == "pruned" and snap["can_undo"]


def test_cli_parses_serve_flags():
    args = build_parser().parse_args(
        ["serve", "--host", "127.0.0.1", "--port", "9001", "--data-dir", "/tmp/x"]
    )
    assert (args.command, args.host, args.port, str(args.data_dir)) == (
        "serve",
        "127.0.0.1",
        9001,
        "/tmp/x",
    )


def test_web_dir_is_served_from_the_root(tmp_path):
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "index.html").write_text("<p>page</p>")
    (web / "js" / "main.js").write_text("export {};")
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", web_dir=web))) as client:
        assert client.get("/sessions/abc?view=x").text == "<p>page</p>"
        r = client.get("/js/main.js")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        assert client.get("/js/missing.js").status_code == 404
        assert client.get("/api/presets").status_code == 200  # API routes win over files
    with TestClient(create_app(Settings(data_dir=tmp_path / "d", web_dir=tmp_path))) as client:
        r = client.get("/")
        assert r.status_code == 200 and "/docs" in r.text  # no page: still a useful answer


def test_workers_train_with_the_thread_budget(client, settings):
    import torch

    s = create(client, preset="toy")
    live = client.app.state.manager.get_live(s.id)
    assert live.submit(torch.get_num_threads).result(10) == settings.torch_threads == 1


def test_oversized_uploads_are_refused(tmp_path):
    cfg = Settings(data_dir=tmp_path, max_upload_bytes=1000)
    with TestClient(create_app(cfg)) as client:
        big = "a,b\n" + "1,2\n" * 1000
        r = client.post("/api/sessions/upload", files={"file": ("d.csv", big)})
        assert r.status_code == 413
        r = client.post("/api/sessions", json={"csv": big})
        assert r.status_code == 422 and "csv" in r.text
        huge = "a,b\n" + "1,2\n" * 40_000
        r = client.post("/api/sessions/upload", files={"file": ("d.csv", huge)})
        assert r.status_code == 413 and "body" in r.text
