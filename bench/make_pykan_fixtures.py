"""Write tests/core/fixtures/pykan_multkan.pt: pykan 0.2.8 MultKAN models (mult nodes) with
perturbed weights, an input and pykan's output, for kan_core's faithfulness test (which then
needs no pykan). Run once after ``bash bench/setup.sh``:

    .venv/bin/python bench/make_pykan_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from _common import setup_torch
from _pykan import PykanSandbox

OUT = Path(__file__).resolve().parents[1] / "tests" / "core" / "fixtures" / "pykan_multkan.pt"
CASES = [  # width, mult_arity, seed
    ([2, [3, 2], 1], 2, 3),
    ([2, [0, 1], 1], 2, 0),
    ([3, [1, 2], [2, 1], 1], [[], [2, 3], [2], []], 5),
]
TENSORS = ("grid", "coef", "scale_base", "scale_sp", "mask")


def case(width, arity, seed, sb) -> dict:
    from kan import KAN as PyKAN

    gen = torch.Generator().manual_seed(seed)
    with sb.run():
        m = PyKAN(
            width=width,
            mult_arity=arity,
            grid=5,
            k=3,
            seed=seed,
            auto_save=False,
            ckpt_path=sb.ckpt_path,
        )
        layers = []
        with torch.no_grad():
            for act in m.act_fun:  # non-trivial weights: the initial splines are near zero
                act.coef.add_(torch.randn(act.coef.shape, generator=gen) * 0.5)
                act.scale_base.mul_(1 + torch.rand(act.scale_base.shape, generator=gen))
                layers.append({n: getattr(act, n).detach().clone() for n in TENSORS})
            x = torch.rand(64, m.width_in[0], generator=gen) * 2 - 1
            y = m(x).detach().clone()
    return {"width": width, "mult_arity": arity, "layers": layers, "x": x, "y": y}


def main() -> None:
    setup_torch()
    torch.set_default_dtype(torch.float32)
    sb = PykanSandbox()
    torch.save([case(*c, sb) for c in CASES], OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
