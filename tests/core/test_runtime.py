"""kan_core.runtime: the allocator tuning applied on import."""

import os
import subprocess
import sys

import kan_core
from kan_core.runtime import tune_allocator


def test_allocator_is_tuned_on_import_here():
    # this suite runs on Linux with glibc (CI and the dev box): the settings must take
    assert sys.platform.startswith("linux")
    assert kan_core.ALLOCATOR_TUNED is True
    assert tune_allocator() is True  # idempotent


def test_opting_out_leaves_the_allocator_alone():
    env = dict(os.environ, KAN_CORE_TUNE_MALLOC="0")
    code = "import kan_core; print(kan_core.ALLOCATOR_TUNED)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
