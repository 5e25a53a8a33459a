"""Opening a model in the workbench (issue 16): multipart ``POST /api/sessions`` with a kan_core
file or a real pykan checkpoint (tests/server/fixtures/pykan_ckpt, written by
bench/make_pykan_ckpt_fixture.py with pykan's saveckpt; the reference outputs are pykan's own
``loadckpt(...)(x)``), with or without a CSV; ``GET /model``; hostile files; prune/snap/train on
the uploaded session; a restart; ``kan-workbench open`` and ``show``/``pull`` against a live
server."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from srv_helpers import Sess, ckpt_parts, train, upload

from kan_core import KAN
from server.client import ClientError, pull, show

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "pykan_ckpt"


@pytest.fixture(scope="module")
def expected() -> dict:
    return torch.load(FIX / "expected.pt", weights_only=True)


def ckpt(name: str, cache: bool = True) -> dict[str, bytes]:
    return ckpt_parts(FIX, name, cache)


def model_of(client, s: Sess, headers=None) -> KAN:
    r = client.get(s.url("/model"), headers=headers or s.viewer_headers)  # a reader token does
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="kan-{s.id}.pt"'
    return KAN.from_bytes(r.content)


def csv_of(x: torch.Tensor, y: torch.Tensor, names=None) -> bytes:
    names = names or [f"in{i}" for i in range(x.shape[1])] + ["out"]
    rows = [",".join(names)] + [
        ",".join(map(repr, [*a, b])) for a, b in zip(x.tolist(), y[:, 0].tolist(), strict=True)
    ]
    return ("\n".join(rows) + "\n").encode()


def spec_of(client, s: Sess) -> dict:
    return client.app.state.manager.get_live(s.id).spec


# --- uploads ---------------------------------------------------------------------------------
def test_kan_core_file_roundtrip(client):
    gen = torch.Generator().manual_seed(4)
    m = KAN(width=[2, 3, 1], grid=6, seed=4)
    with torch.no_grad():
        m.layers[0].coef.add_(torch.randn(m.layers[0].coef.shape, generator=gen))
    x = torch.rand(50, 2, generator=gen) * 2 - 1
    m.set_reference_input(x)
    s = upload(client, {"model": m.to_bytes()})
    snap = client.get(s.url(), headers=s.headers).json()
    assert len(snap["edges"]) == 9 and snap["variables"] == ["x_1", "x_2"]
    back = model_of(client, s)
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x), rtol=0, atol=0)
    assert spec_of(client, s)["data_origin"] == "checkpoint"  # the file's reference input


@pytest.mark.parametrize("name", ["mult", "deep", "symbolic"])
def test_pykan_checkpoint_outputs_equal_pykans(client, expected, name):
    s = upload(client, ckpt(name))
    e = expected[name]
    with torch.no_grad():
        torch.testing.assert_close(model_of(client, s)(e["x"]), e["y"], rtol=1e-5, atol=1e-5)
    snap = client.get(s.url(), headers=s.headers).json()
    n_edges = {"mult": 2 * 7 + 5, "deep": 12 + 8 + 2, "symbolic": 3}[name]
    assert len(snap["edges"]) == n_edges
    assert all(len(e["curve"]["x"]) > 10 for e in snap["edges"] if "curve" in e)
    assert spec_of(client, s)["data_origin"] == "checkpoint"
    formula = client.get(s.url("/formula"), headers=s.headers).json()
    assert formula["complete"] is (name == "symbolic")


def test_without_cache_samples_the_grid_and_training_asks_for_a_dataset(client, expected):
    fresh = upload(client, ckpt("fresh"))  # pykan's cache_data file holds None
    assert spec_of(client, fresh)["data_origin"] == "grid"
    s = upload(client, ckpt("mult", cache=False))
    live = client.app.state.manager.get_live(s.id)
    assert live.spec["data_origin"] == "grid" and live.spec["labels"] == "model"
    assert live.spec["width"] == [2, [3, 2], 1]
    x = live.dataset["train_input"]
    grid = live.model.layers[0].grid
    assert bool((x >= grid[:, 3]).all() and (x <= grid[:, -4]).all())  # inside the grid span
    for path, body in (("/train", {"steps": 2}), ("/play", None)):
        r = client.post(s.url(path), json=body, headers=s.headers)
        assert r.status_code == 409 and "upload a dataset" in r.json()["detail"]
    r = client.post(s.url("/reset"), headers=s.headers)
    assert r.status_code == 409 and "uploaded model" in r.json()["detail"]
    # everything but training works: prune, snap, formula, and the model file follows
    r = client.post(s.url("/prune"), json={"node_th": 0.0, "edge_th": 0.0}, headers=s.headers)
    assert r.status_code == 200, r.text
    r = client.post(s.url("/edges/0/0/0/symbolic"), json={"name": "sin"}, headers=s.headers)
    assert r.status_code == 200, r.text
    assert model_of(client, s).layers[0].sym_funs.get((0, 0)) == "sin"
    r = client.get(s.url("/edges/0/1/0/suggestions"), headers=s.headers)
    assert r.status_code == 200 and r.json()["candidates"], r.text
    assert client.get(s.url("/formula"), headers=s.headers).status_code == 200


def test_with_a_csv_the_session_trains(client, expected):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(300, 2, generator=gen) * 2 - 1
    y = torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)
    s = upload(client, {**ckpt("mult"), "data": csv_of(x, y, ["a", "b", "f"])})
    live = client.app.state.manager.get_live(s.id)
    assert live.spec["labels"] == "csv" and live.variables == ["a", "b"] and live.target == "f"
    before = model_of(client, s)
    with torch.no_grad():  # uploaded as it was
        torch.testing.assert_close(before(expected["mult"]["x"]), expected["mult"]["y"])
    assert train(client, s, 3)["kind"] == "trained"
    r = client.post(s.url("/edges/0/0/1/symbolic"), json={"name": "x^2"}, headers=s.headers)
    assert r.status_code == 200, r.text
    after = model_of(client, s)
    assert after.layers[0].sym_funs.get((0, 1)) == "x^2"
    assert not torch.equal(after.layers[1].coef, before.layers[1].coef)  # it trained


def test_a_float64_checkpoint_opens_in_float32(client, expected):
    parts = ckpt("deep")
    state = torch.load(io.BytesIO(parts["pykan_state"]), weights_only=True)
    parts["pykan_state"] = _torch_save({k: v.double() for k, v in state.items()})
    s = upload(client, parts)
    m = model_of(client, s)
    assert m.layers[0].coef.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(m(expected["deep"]["x"]), expected["deep"]["y"])


def test_a_csv_must_fit_the_model(client):
    x, y = torch.zeros(5, 3), torch.zeros(5, 1)
    detail = upload(client, {**ckpt("mult"), "data": csv_of(x, y)}, 422)
    assert "2 input(s)" in detail and "needs 3 columns" in detail and "has 4" in detail
    detail = upload(client, {**ckpt("mult"), "data": b"\xff\xfe"}, 422)
    assert "UTF-8" in detail


def _torch_save(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/kanwb-pwned",))


def test_hostile_or_wrong_files_are_422_naming_the_problem(client):
    good = KAN(width=[2, 2, 1]).to_bytes()
    cases = [
        ({"model": b"not a model"}, "model file: not a KAN Workbench model file"),
        ({"model": good[: len(good) // 2]}, "model file:"),  # truncated
        ({"model": _torch_save({"x": _Evil()})}, "model file: cannot read it"),
        ({"model": _torch_save({"meta": "{}", "tensors": {}})}, "unsupported format"),
        ({"model": good, **ckpt("mult")}, "not both"),
        ({"pykan_config": ckpt("mult")["pykan_config"]}, "'pykan_state' part"),
        (
            {"pykan_config": b"!!python/object/apply:os.system ['true']", "pykan_state": b"x"},
            "pykan_config: not valid YAML",
        ),
        (
            {**ckpt("mult"), "pykan_state": _torch_save({"x": _Evil()})},
            "pykan_state: cannot read it safely",
        ),
        (
            {**ckpt("mult"), "pykan_cache_data": _torch_save(torch.zeros(4, 5))},
            "pykan_cache_data: shape",
        ),
        ({"data": b"a,b\n1,2\n3,4\n"}, "give a 'model' file part"),
        ({"model": good, "evil": b"1"}, "unknown part 'evil'"),
    ]
    for parts, message in cases:
        detail = upload(client, parts, 422)
        assert message in detail, (message, detail)
    assert not Path("/tmp/kanwb-pwned").exists()
    # a part given twice
    files = [("model", ("m", good)), ("model", ("m", good))]
    r = client.post("/api/sessions", files=files)
    assert r.status_code == 422 and "twice" in r.text
    assert client.get("/api/health").status_code == 200


def test_upload_limits(tmp_path):
    from fastapi.testclient import TestClient

    from server.config import Settings
    from server.main import create_app

    cfg = Settings(data_dir=tmp_path / "d", max_upload_bytes=30_000, max_grid=5, max_edges=15)
    with TestClient(create_app(cfg)) as c:
        assert "model: larger than 30000 bytes" in upload(c, {"model": b"x" * 30_001}, 413)
        assert "body: larger than" in upload(c, {"model": b"x" * 100_000}, 413)
        assert "edges" in upload(c, ckpt("mult"), 422)  # 19 edges: over max_edges
        m = KAN(width=[1, 2, 1], grid=7)
        assert "grid: at most 5" in upload(c, {"model": m.to_bytes()}, 422)


def test_cached_inputs_are_subsampled_to_the_cost_budget(tmp_path):
    from fastapi.testclient import TestClient

    from server.config import Settings
    from server.main import create_app

    # [2, [3, 2], 1]: 19 edges × (grid 5 + k 3) = 152 units a sample; the cache has 100 rows
    cfg = Settings(data_dir=tmp_path / "d", max_model_cost=152 * 50)
    with TestClient(create_app(cfg)) as c:
        s = upload(c, ckpt("mult"))
        live = c.app.state.manager.get_live(s.id)
        rows = live.dataset["train_input"].shape[0] + live.dataset["test_input"].shape[0]
        assert rows == 50
        cache = torch.load(FIX / "mult_cache_data", weights_only=True)
        assert all(bool((cache == r).all(1).any()) for r in live.dataset["train_input"])


def test_an_uploaded_session_survives_a_restart(settings, expected):
    from fastapi.testclient import TestClient

    from server.main import create_app

    with TestClient(create_app(settings)) as c:
        s = upload(c, ckpt("deep", cache=False))
        r = c.post(s.url("/edges/0/0/0/prune"), headers=s.headers)
        assert r.status_code == 200, r.text
        saved = c.get(s.url("/model"), headers=s.headers).content
    with TestClient(create_app(settings)) as c:
        r = c.get(s.url("/model"), headers=s.headers)
        assert r.status_code == 200 and r.content == saved
        assert c.get(s.url(), headers=s.headers).json()["edges"][0]["state"] == "pruned"
        r = c.post(s.url("/train"), json={"steps": 1}, headers=s.headers)
        assert r.status_code == 409  # still no dataset after the restart


def test_model_download_needs_a_token(client):
    s = upload(client, ckpt("symbolic"))
    assert client.get(s.url("/model")).status_code == 401
    r = client.get(s.url("/model"), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403
    assert client.get("/api/sessions/nope/model", headers=s.headers).status_code == 404


# --- from a notebook: the CLI and the Python client against a live server ---------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "server.cli", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data = tmp_path_factory.mktemp("bridge-live")
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    assert proc.poll() is None, "the server did not start"
    yield url
    proc.terminate()
    proc.wait(20)


def test_cli_open_prints_the_owner_link(live_url, expected, tmp_path):
    out = _cli("open", str(FIX / "mult"), "--url", live_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        re.escape(live_url) + r"/sessions/[\w-]+#owner=[\w-]+&viewer=[\w-]+", lines[0]
    )
    with torch.no_grad():
        got = pull(lines[0])(expected["mult"]["x"])
    torch.testing.assert_close(got, expected["mult"]["y"], rtol=1e-5, atol=1e-5)
    # a kan_core file with a CSV
    path = tmp_path / "m.pt"
    KAN(width=[2, 2, 1], seed=3).save(path)
    (tmp_path / "d.csv").write_bytes(csv_of(torch.rand(20, 2), torch.rand(20, 1)))
    out = _cli("open", str(path), "--data", str(tmp_path / "d.csv"), "--url", live_url)
    assert out.returncode == 0 and out.stdout.count("\n") == 1, out.stderr
    # failures: one line on stderr, nothing on stdout, exit status 1
    for args in (("open", str(tmp_path / "nothing")), ("open", str(tmp_path / "d.csv"))):
        out = _cli(*args, "--url", live_url)
        assert out.returncode == 1 and out.stdout == "" and "kan-workbench open:" in out.stderr
    assert "model file" in out.stderr  # the server's reason for the CSV given as a model


def test_show_then_pull_roundtrip(live_url):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(100, 2, generator=gen) * 2 - 1
    data = {
        "train_input": x[:80],
        "train_label": x[:80, :1] * x[:80, 1:],
        "test_input": x[80:],
        "test_label": x[80:, :1] * x[80:, 1:],
    }
    model = KAN(width=[2, 3, 1], seed=2)
    link = show(model, data, url=live_url)
    assert repr(link) == str(link) and link.startswith(f"{live_url}/sessions/{link.id}#owner=")
    with torch.no_grad():
        torch.testing.assert_close(pull(link)(x), model(x), rtol=0, atol=0)
    # snap in the browser (the same REST call the page makes), continue in the notebook
    req = urllib.request.Request(
        f"{live_url}/api/sessions/{link.id}/edges/0/1/2/symbolic",
        data=b'{"name": "x"}',
        method="POST",
        headers={"Authorization": f"Bearer {link.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
    assert pull(link).layers[0].sym_funs == {(1, 2): "x"}
    assert link.viewer_link == f"{live_url}/sessions/{link.id}?view={link.viewer_token}"
    assert pull(link.viewer_link).layers[0].sym_funs == {(1, 2): "x"}  # a viewer link reads too
    with pytest.raises(ClientError, match="403"):
        pull(f"{live_url}/sessions/{link.id}#owner=wrong")
    with pytest.raises(ClientError, match="not a workbench session link"):
        pull("ftp://example/sessions/x#owner=y")


def test_client_datasets_and_links_without_a_server(tmp_path):
    import numpy as np

    from server.client import _parse_link, dataset_csv

    x, y = np.array([[0.5, -1.0], [2.0, 3.25]]), np.array([[1.0], [0.1]])
    assert dataset_csv((x, y)).decode() == "x_1,x_2,y\n0.5,-1.0,1.0\n2.0,3.25,0.1\n"
    pykan_dict = {"train_input": torch.tensor(x[:1]), "train_label": torch.tensor(y[:1])}
    assert dataset_csv(pykan_dict).decode() == "x_1,x_2,y\n0.5,-1.0,1.0\n"
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    assert dataset_csv(tmp_path / "d.csv") == b"a,b\n1,2\n"
    # several outputs: one target column each, named y_1 … y_n
    assert dataset_csv((x, np.array([[1.0, 2.0], [3.0, 4.0]]))).decode().splitlines() == [
        "x_1,x_2,y_1,y_2",
        "0.5,-1.0,1.0,2.0",
        "2.0,3.25,3.0,4.0",
    ]
    assert _parse_link("http://h:1/p/sessions/abc#owner=T&viewer=V") == ("http://h:1/p", "abc", "T")
    assert _parse_link("https://h/sessions/abc/?view=V") == ("https://h", "abc", "V")
    for bad in ("http://h/sessions/abc", "http://h/other/abc#owner=T", "/sessions/abc#owner=T"):
        with pytest.raises(ClientError):
            _parse_link(bad)
