"""Write tests/server/fixtures/pykan_ckpt/: real pykan 0.2.8 checkpoints (``saveckpt``'s
``NAME_config.yml``, ``NAME_state``, ``NAME_cache_data``) and ``expected.pt`` (per checkpoint: an
input ``x`` and the output of pykan's own ``KAN.loadckpt(NAME)(x)``), for the upload tests
(tests/server/test_bridge.py, tests/core/test_pykan_ckpt.py), which then need no pykan. Run once
after ``bash bench/setup.sh``:

    .venv/bin/python bench/make_pykan_ckpt_fixture.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from _common import setup_torch
from _pykan import PykanSandbox

OUT = Path(__file__).resolve().parents[1] / "tests" / "server" / "fixtures" / "pykan_ckpt"


def target(x: torch.Tensor) -> torch.Tensor:
    """A smooth target of every input (pykan's toy generalised): exp(sin(πx₁) + x₂²) + …"""
    y = torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)
    return y + (0.5 * x[:, [2]] if x.shape[1] > 2 else 0)


def dataset(n_var: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    tr = torch.rand(200, n_var, generator=gen) * 2 - 1
    te = torch.rand(100, n_var, generator=gen) * 2 - 1
    return {
        "train_input": tr,
        "train_label": target(tr),
        "test_input": te,
        "test_label": target(te),
    }


def build(name: str, sb: PykanSandbox):
    """The pykan model of one case (trained briefly; see CASES)."""
    from kan import KAN as PyKAN

    kw = {"grid": 5, "k": 3, "seed": 1, "auto_save": False, "ckpt_path": sb.ckpt_path}
    if name == "fresh":  # never run forward: its cache_data file holds None
        return PyKAN(width=[2, 3, 1], **kw)
    if name == "mult":
        m = PyKAN(width=[2, [3, 2], 1], **kw)
        m.fit(dataset(2, 1), steps=5, update_grid=True)
        return m
    if name == "deep":
        m = PyKAN(width=[3, 4, 2, 1], **kw)
        m.fit(dataset(3, 2), steps=5)
        return m
    if name == "symbolic":  # pykan's own fix_symbolic (it fits a, b, c, d on the cached data)
        m = PyKAN(width=[2, 5, 1], **kw)
        data = dataset(2, 3)
        m.fit(data, steps=10, lamb=0.01)
        m = m.prune()
        m(data["train_input"])
        m.fix_symbolic(0, 0, 0, "sin")
        m.fix_symbolic(0, 1, 0, "x^2")
        m.fix_symbolic(1, 0, 0, "exp")
        m(data["train_input"])
        return m
    raise ValueError(name)


CASES = ("fresh", "mult", "deep", "symbolic")


def main() -> None:
    setup_torch()
    torch.set_default_dtype(torch.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    sb = PykanSandbox()
    expected = {}
    from kan import KAN as PyKAN

    for name in CASES:
        with sb.run():
            m = build(name, sb)
            m.saveckpt(str(sb.dir / name))
            loaded = PyKAN.loadckpt(str(sb.dir / name))
            n_in = loaded.width_in[0]
            gen = torch.Generator().manual_seed(7)
            x = torch.rand(128, n_in, generator=gen) * 2.4 - 1.2  # inside and beyond the grid
            with torch.no_grad():
                y = loaded(x).detach().clone()
                assert torch.allclose(y, m(x)), name  # loadckpt keeps the function
        for part in ("_config.yml", "_state", "_cache_data"):
            shutil.copyfile(sb.dir / f"{name}{part}", OUT / f"{name}{part}")
        expected[name] = {"x": x, "y": y, "width": loaded.width}
        print(name, loaded.width, f"y std {float(y.std()):.3f}")
    torch.save(expected, OUT / "expected.pt")
    print(f"wrote {OUT}")
    sb.close()


if __name__ == "__main__":
    main()
