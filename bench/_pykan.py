"""Running pykan 0.2.8 without letting it touch the repo: a temp cwd and ckpt_path, its prints,
progress bars and warnings captured, and a summary of what it wrote."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from pathlib import Path


class PykanSandbox:
    """Runs pykan calls in a temp cwd (it writes ./model/, history.txt, checkpoints even with
    auto_save=False: prune/refine build their new model with auto_save=True) and captures its
    prints and progress bars. `.log` holds everything it printed; `.files()` what it wrote."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bench_pykan_")
        self.dir = Path(self._tmp.name)
        # pykan 0.2.8 bug: with auto_save=False it never creates ckpt_path, but prune()/refine()
        # return models with auto_save=True that append to ckpt_path/history.txt -> crash.
        self.ckpt_path = str(self.dir / "model")
        os.makedirs(self.ckpt_path, exist_ok=True)
        self.log = io.StringIO()
        self.warnings: list[str] = []

    @contextlib.contextmanager
    def run(self):
        old = os.getcwd()
        os.chdir(self.dir)
        try:
            with (
                warnings.catch_warnings(record=True) as w,
                contextlib.redirect_stdout(self.log),
                contextlib.redirect_stderr(self.log),
            ):
                warnings.simplefilter("always")
                yield
            self.warnings += [f"{x.category.__name__}: {x.message}" for x in w]
        finally:
            os.chdir(old)

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*") if p.is_file())

    def close(self):
        self._tmp.cleanup()


def report_pykan(sb: PykanSandbox, verbose: bool = False) -> None:
    files = sb.files()
    lines = [ln for ln in sb.log.getvalue().replace("\r", "\n").splitlines() if ln.strip()]
    bars = [ln for ln in lines if "it/s" in ln or "s/it" in ln or "%|" in ln]
    lines = [ln for ln in lines if ln not in set(bars)]
    uniq_w = sorted({w.splitlines()[0] for w in sb.warnings})
    print(
        f"\npykan side effects: {len(files)} files written into its cwd/ckpt_path, "
        f"{len(lines)} lines printed (+{len(bars)} progress-bar lines), "
        f"{len(uniq_w)} distinct warnings"
    )
    for w in uniq_w:
        print(f"  warning: {w[:200]}")
    if verbose:
        print("  files:", ", ".join(files[:20]) + (" ..." if len(files) > 20 else ""))
        for ln in lines:
            print("  |", ln[:160])
