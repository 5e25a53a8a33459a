"""From a notebook to the workbench and back: ``show(model, dataset)`` opens a model in a new
session on a running server and returns its owner link; ``pull(link)`` returns the session's
model as a kan_core ``KAN`` (snap in the browser, continue in the notebook).

Standard library only (``urllib``), so a notebook needs nothing beyond kan_core. The owner link
is ``{url}/sessions/{id}#owner={token}&viewer={viewer token}``: the tokens ride in the fragment,
which browsers never send to a server (so they are in no access log), and the page can keep
both as for a session it created; ``pull`` also takes a viewer link (``?view=``).
In Jupyter, ``show`` displays the session in an IFrame; elsewhere it prints nothing and
returns the link (its ``repr`` is the link).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["ClientError", "SessionLink", "open_path", "pull", "show", "upload"]

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 120.0


class ClientError(RuntimeError):
    """The server refused (its message), or could not be reached."""


class SessionLink(str):
    """The owner link of a session; ``id``, ``token``, ``base`` (the server's URL) and
    ``viewer_link`` (read-only, to share) too."""

    id: str
    token: str
    base: str
    viewer_token: str

    def __new__(cls, base: str, session_id: str, token: str, viewer_token: str) -> SessionLink:
        link = super().__new__(
            cls, f"{base}/sessions/{session_id}#owner={token}&viewer={viewer_token}"
        )
        link.base, link.id, link.token, link.viewer_token = base, session_id, token, viewer_token
        return link

    @property
    def viewer_link(self) -> str:
        return f"{self.base}/sessions/{self.id}?view={self.viewer_token}"

    def __repr__(self) -> str:
        return str.__str__(self)


def _base(url: str | None) -> str:
    base = (url or os.environ.get("KAN_WB_URL") or DEFAULT_URL).rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise ClientError(f"url must start with http:// or https://, got {base!r}")
    return base


def _call(req: urllib.request.Request) -> bytes:
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
            return r.read()
    except urllib.error.HTTPError as exc:
        raise ClientError(f"the server answered {exc.code}: {_detail(exc.read())}") from None
    except urllib.error.URLError as exc:
        raise ClientError(f"cannot reach {req.full_url}: {exc.reason}") from None


def _detail(body: bytes) -> str:
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError):
        return body[:300].decode("utf-8", "replace")
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


def _multipart(parts: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "kanwb-" + secrets.token_hex(16)
    chunks = []
    for name, data in parts.items():
        chunks += [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            data,
            b"\r\n",
        ]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(parts: dict[str, bytes], url: str | None = None) -> SessionLink:
    """Create a session from upload parts (``model`` or ``pykan_config`` + ``pykan_state``
    [+ ``pykan_cache_data``], optional ``data``: CSV bytes); returns the owner link."""
    base = _base(url)
    body, ctype = _multipart(parts)
    req = urllib.request.Request(f"{base}/api/sessions", data=body, method="POST")
    req.add_header("Content-Type", ctype)
    created = json.loads(_call(req))
    return SessionLink(base, created["id"], created["owner_token"], created["viewer_token"])


def dataset_csv(dataset: Any) -> bytes:
    """CSV bytes (``x_1 … x_n, y``) from pykan's dataset dict (train and test rows) or an
    ``(x, y)`` pair of 2-D arrays/tensors; a ``str``/``Path`` is read as a CSV file."""
    if isinstance(dataset, str | Path):
        return Path(dataset).read_bytes()
    if isinstance(dataset, dict):
        xs = [dataset[k] for k in ("train_input", "test_input") if k in dataset]
        ys = [dataset[k] for k in ("train_label", "test_label") if k in dataset]
        rows = [r for x, y in zip(xs, ys, strict=True) for r in _rows(x, y)]
    else:
        x, y = dataset
        rows = list(_rows(x, y))
    if not rows:
        raise ClientError("dataset: no rows (expected train_input/train_label or (x, y))")
    n_in, n_out = rows[0][1]
    # one target column "y", or y_1 … y_n for a model with n outputs (the upload takes a CSV's
    # last n_out columns as its targets; a classifier's labels are one column of class indices)
    targets = ["y"] if n_out == 1 else [f"y_{j + 1}" for j in range(n_out)]
    header = ",".join([f"x_{i + 1}" for i in range(n_in)] + targets)
    return ("\n".join([header] + [r for r, _ in rows]) + "\n").encode()


def _rows(x, y):
    xl, yl = x.tolist(), y.tolist()
    for xr, yr in zip(xl, yl, strict=True):
        yr = yr if isinstance(yr, list) else [yr]
        yield ",".join(repr(float(v)) for v in (*xr, *yr)), (len(xr), len(yr))


def show(model, dataset: Any = None, url: str | None = None) -> SessionLink:
    """Open ``model`` (a kan_core ``KAN``) in a new session, with ``dataset`` (pykan's dict,
    ``(x, y)`` or a CSV path) if given; returns the owner link, shown in an IFrame in Jupyter."""
    parts = {"model": model.to_bytes()}
    if dataset is not None:
        parts["data"] = dataset_csv(dataset)
    link = upload(parts, url)
    _display(link)
    return link


def _display(link: SessionLink) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import IFrame, display
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        display(IFrame(str(link), width="100%", height=760))


def open_path(path: str | Path, data: str | Path | None = None, url: str | None = None):
    """The CLI's ``open``: a kan_core model file, or a pykan checkpoint prefix (``PATH`` of
    pykan's ``saveckpt(PATH)``: ``PATH_config.yml``, ``PATH_state`` [, ``PATH_cache_data``])."""
    p = Path(path)
    config, state = Path(f"{p}_config.yml"), Path(f"{p}_state")
    if config.is_file() and state.is_file():
        parts = {"pykan_config": config.read_bytes(), "pykan_state": state.read_bytes()}
        cache = Path(f"{p}_cache_data")
        if cache.is_file():
            parts["pykan_cache_data"] = cache.read_bytes()
    elif p.is_file():
        parts = {"model": p.read_bytes()}
    else:
        raise ClientError(
            f"{path}: no such model file, nor a pykan checkpoint ({config.name} and {state.name})"
        )
    if data is not None:
        parts["data"] = Path(data).read_bytes()
    return upload(parts, url)


def _parse_link(link: str) -> tuple[str, str, str]:
    """``(base, session id, token)`` of an owner (``#owner=``) or viewer (``?view=``) link."""
    u = urllib.parse.urlsplit(str(link))
    marker = "/sessions/"
    if u.scheme not in ("http", "https") or marker not in u.path:
        raise ClientError(f"not a workbench session link: {link!r}")
    prefix, _, rest = u.path.partition(marker)
    session_id = urllib.parse.unquote(rest.strip("/"))
    token = dict(urllib.parse.parse_qsl(u.fragment)).get("owner") or dict(
        urllib.parse.parse_qsl(u.query)
    ).get("view")
    if not session_id or "/" in session_id or not token:
        raise ClientError("the link carries no session id and token (#owner=… or ?view=…)")
    return f"{u.scheme}://{u.netloc}{prefix}", session_id, token


def pull(link: str):
    """The session's current model (its last committed state) as a kan_core ``KAN``."""
    from kan_core import KAN

    base, session_id, token = _parse_link(link)
    quoted = urllib.parse.quote(session_id, safe="")
    req = urllib.request.Request(f"{base}/api/sessions/{quoted}/model")
    req.add_header("Authorization", f"Bearer {token}")
    return KAN.from_bytes(_call(req))
