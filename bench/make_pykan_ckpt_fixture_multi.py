"""Write tests/server/fixtures/pykan_ckpt_multi/: real pykan 0.2.8 checkpoints of models with two
outputs (``saveckpt``'s ``NAME_config.yml``, ``NAME_state``, ``NAME_cache_data``) and
``expected.pt`` (per checkpoint: an input ``x``, pykan's own ``KAN.loadckpt(NAME)(x)``, and the
data it was trained on), for tests/server/test_bridge_multi.py, which then needs no pykan:

* ``regress``: ``[2, 3, 2]`` fitted (MSE) to two targets, ``sin(πx₁) + x₂²`` and ``x₁·x₂``;
* ``classifier``: ``[2, 3, 2]`` fitted with ``CrossEntropyLoss`` to two classes (inside or
  outside a circle), labels as class indices — pykan's classification tutorial's setup.

Run once after ``bash bench/setup.sh``:

    .venv/bin/python bench/make_pykan_ckpt_fixture_multi.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from _common import setup_torch
from _pykan import PykanSandbox

OUT = Path(__file__).resolve().parents[1] / "tests" / "server" / "fixtures" / "pykan_ckpt_multi"


def two_targets(x: torch.Tensor) -> torch.Tensor:
    """``(n, 2)``: ``sin(πx₁) + x₂²`` and ``x₁·x₂``."""
    return torch.stack([torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2, x[:, 0] * x[:, 1]], 1)


def circle(x: torch.Tensor) -> torch.Tensor:
    """Class 1 inside the circle of radius 0.6, class 0 outside: ``(n,)`` int64."""
    return (x.pow(2).sum(1) < 0.36).long()


def dataset(label, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    tr = torch.rand(300, 2, generator=gen) * 2 - 1
    te = torch.rand(100, 2, generator=gen) * 2 - 1
    return {"train_input": tr, "train_label": label(tr), "test_input": te, "test_label": label(te)}


def build(name: str, sb: PykanSandbox):
    """The pykan model of one case and its data (trained briefly)."""
    from kan import KAN as PyKAN

    kw = {"grid": 5, "k": 3, "seed": 1, "auto_save": False, "ckpt_path": sb.ckpt_path}
    if name == "regress":
        data = dataset(two_targets, 1)
        m = PyKAN(width=[2, 3, 2], **kw)
        m.fit(data, steps=20, lamb=0.001)
    elif name == "classifier":
        data = dataset(circle, 2)
        m = PyKAN(width=[2, 3, 2], **kw)
        m.fit(data, steps=3, loss_fn=torch.nn.CrossEntropyLoss())  # not yet converged
    else:
        raise ValueError(name)
    m(data["train_input"])  # the cache: the training inputs
    return m, data


CASES = ("regress", "classifier")


def main() -> None:
    setup_torch()
    torch.set_default_dtype(torch.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    sb = PykanSandbox()
    expected = {}
    from kan import KAN as PyKAN

    for name in CASES:
        with sb.run():
            m, data = build(name, sb)
            m.saveckpt(str(sb.dir / name))
            loaded = PyKAN.loadckpt(str(sb.dir / name))
            gen = torch.Generator().manual_seed(7)
            x = torch.rand(128, 2, generator=gen) * 2.4 - 1.2  # inside and beyond the grid
            with torch.no_grad():
                y = loaded(x).detach().clone()
                assert torch.allclose(y, m(x)), name  # loadckpt keeps the function
                pred = loaded(data["test_input"]).argmax(1)
        if name == "classifier":
            acc = float((pred == data["test_label"]).float().mean())
        for part in ("_config.yml", "_state", "_cache_data"):
            shutil.copyfile(sb.dir / f"{name}{part}", OUT / f"{name}{part}")
        expected[name] = {"x": x, "y": y, "width": loaded.width, "data": data}
        extra = f", test accuracy {acc:.2f}" if name == "classifier" else ""
        print(name, loaded.width, f"y std {y.std(0).tolist()}{extra}")
    torch.save(expected, OUT / "expected.pt")
    print(f"wrote {OUT}")
    sb.close()


if __name__ == "__main__":
    main()
