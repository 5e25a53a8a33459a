#!/usr/bin/env bash
# Install the benchmark-only dependencies (pykan reference + peer KAN libraries) into the active
# virtualenv, or into .venv at the repo root. Idempotent: re-running only re-checks imports.
# torch is never installed or upgraded here: every KAN package goes in with --no-deps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    PY="$VIRTUAL_ENV/bin/python"
else
    PY="$ROOT/.venv/bin/python"
fi
if [[ ! -x "$PY" ]]; then
    echo "no virtualenv found (activate one or create $ROOT/.venv)" >&2
    exit 1
fi

TORCH_BEFORE="$("$PY" -c 'import torch; print(torch.__version__)')"

# pykan's import-time dependencies (kan/__init__ imports all of these); none of them needs torch.
# Pinned loosely; pip skips whatever is already satisfied.
"$PY" -m pip install -q --disable-pip-version-check \
    "matplotlib>=3.5" "pandas>=2.2.3" "scikit-learn>=1.6.1" "pyyaml>=6" "tqdm>=4.60" "setuptools"

# The KAN packages themselves: --no-deps so nothing can drag in another torch.
"$PY" -m pip install -q --disable-pip-version-check --no-deps \
    "pykan==0.2.8" "flashkan==0.2.0" "inkan==0.5.2"

# pyoperon (symbolic regression, for bench_feynman.py): a C++ extension with no torch; its
# declared deps: pandas and scikit-learn pinned above to its minimums, numpy>=2.0.2 (torch's).
"$PY" -m pip install -q --disable-pip-version-check --no-deps "pyoperon==0.6.2"

TORCH_AFTER="$("$PY" -c 'import torch; print(torch.__version__)')"
if [[ "$TORCH_BEFORE" != "$TORCH_AFTER" ]]; then
    echo "ERROR: torch changed from $TORCH_BEFORE to $TORCH_AFTER" >&2
    exit 1
fi

# Import checks (run from a temp dir: pykan writes files into the cwd when it runs).
cd "$(mktemp -d)"
MPLBACKEND=Agg "$PY" - <<'EOF'
import importlib
import torch
torch.set_num_threads(2)
for name in ("kan", "flashkan", "inkan", "pyoperon.sklearn"):
    try:
        m = importlib.import_module(name)
        print(f"ok   {name:16s} {getattr(m, '__version__', '')}")
    except Exception as e:  # report, don't fail: the bench scripts skip what is missing
        print(f"FAIL {name:16s} {type(e).__name__}: {e}")
print(f"torch {torch.__version__}")
EOF
