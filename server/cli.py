"""``kan-workbench serve [--host] [--port] [--data-dir]``: run the server with uvicorn.
``kan-workbench open PATH [--data CSV] [--url URL]``: open a model (a kan_core file, or a pykan
checkpoint prefix) in a new session on a running server; prints one line, the owner link."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kan-workbench", description="KAN Workbench: train, prune and snap KANs live."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and the web page")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the SQLite file lives (default ./data)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    opener = sub.add_parser("open", help="open a model in a new session; print its owner link")
    opener.add_argument(
        "path",
        help="a kan_core model file, or a pykan checkpoint prefix (PATH of saveckpt(PATH): "
        "PATH_config.yml, PATH_state, PATH_cache_data)",
    )
    opener.add_argument("--data", default=None, help="a CSV: the model's inputs, then its output")
    opener.add_argument(
        "--url", default=None, help="the server (default $KAN_WB_URL or http://127.0.0.1:8000)"
    )
    return parser


def open_model(args) -> int:
    from .client import ClientError, open_path

    try:
        link = open_path(args.path, args.data, args.url)
    except (ClientError, OSError) as exc:
        print(f"kan-workbench open: {exc}", file=sys.stderr)
        return 1
    print(link)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "open":
        return open_model(args)
    overrides = {
        k: v
        for k, v in {"host": args.host, "port": args.port, "data_dir": args.data_dir}.items()
        if v is not None
    }
    settings = Settings(**overrides)  # flags win over KAN_WB_* environment variables
    import uvicorn

    from .main import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # Each viewer gets the same frames; per-connection compression would redo the work
        # once per viewer (it was the largest CPU cost with 50 viewers).
        ws_per_message_deflate=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
