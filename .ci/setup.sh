#!/usr/bin/env bash
# Set up everything KAN Workbench needs on a fresh machine (idempotent).
#   bash .ci/setup.sh        → .venv with the app
#   bash .ci/setup.sh test   → also the test tools and Debian's Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first, pinned: the CPU wheel on this machine. A bare "torch" would pull a CUDA build.
.venv/bin/pip install -q torch==2.13.0
if [ "${1:-}" = "test" ]; then
    .venv/bin/pip install -q -e ".[test]"
    if [ ! -x /usr/bin/chromium ]; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
    fi
else
    .venv/bin/pip install -q -e .
fi
