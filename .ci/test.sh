#!/usr/bin/env bash
# The README's test command: set up, lint, then the test suites (browser tests last, on their own:
# the sync Playwright fixture breaks pytest-asyncio tests that follow it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh test
.venv/bin/ruff check kan_core server tests bench
.venv/bin/python -m pytest -q -p no:cacheprovider tests/core tests/server
if [ -d tests/browser ] && ls tests/browser/test_*.py >/dev/null 2>&1; then
    .venv/bin/python -m pytest -q -p no:cacheprovider tests/browser
fi
