"""Write tests/core/fixtures/pykan_api.pt: what pykan 0.2.8 returns for the API calls its
tutorials make — the activation cache after a forward pass (``acts``, ``spline_preacts``, …,
``get_range``, ``get_fun``), ``symbolic_formula`` on given symbolic edges, ``sparse_mask``, and
the version numbers of an auto-saving session — so kan_core's tests compare against pykan's own
numbers without needing pykan. Run once after ``bash bench/setup.sh``:

    .venv/bin/python bench/make_pykan_api_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from _common import setup_torch
from _pykan import PykanSandbox

OUT = Path(__file__).resolve().parents[1] / "tests" / "core" / "fixtures" / "pykan_api.pt"
TENSORS = ("grid", "coef", "scale_base", "scale_sp", "mask")
CACHE = (
    "acts",
    "acts_premult",
    "spline_preacts",
    "spline_postacts",
    "spline_postsplines",
    "acts_scale",
    "acts_scale_spline",
    "edge_actscale",
    "subnode_actscale",
)


def activation_case(width, seed, sb) -> dict:
    """Perturbed weights, one symbolic edge (0, 1, 0): sin with given a, b, c, d."""
    from kan import KAN as PyKAN

    gen = torch.Generator().manual_seed(seed)
    with sb.run():
        m = PyKAN(width=width, grid=5, k=3, seed=seed, auto_save=False, ckpt_path=sb.ckpt_path)
        layers = []
        with torch.no_grad():
            for act in m.act_fun:
                act.coef.add_(torch.randn(act.coef.shape, generator=gen) * 0.5)
                act.scale_base.mul_(1 + torch.rand(act.scale_base.shape, generator=gen))
        m.fix_symbolic(0, 1, 0, "sin", fit_params_bool=False, log_history=False)
        with torch.no_grad():
            m.symbolic_fun[0].affine[0, 1] = torch.tensor([1.5, 0.2, 0.7, -0.1])
            for act in m.act_fun:
                layers.append({n: getattr(act, n).detach().clone() for n in TENSORS})
        x = torch.rand(64, m.width_in[0], generator=gen) * 2 - 1
        m(x)
        cache = {n: [t.detach().clone() for t in getattr(m, n)] for n in CACHE}
        rng = [float(v) for v in m.get_range(0, 0, 1, verbose=False)]
        fun_x, fun_y = m.get_fun(0, 1, 1)
    return {
        "width": width,
        "layers": layers,
        "sym": [0, 1, 0, "sin", [1.5, 0.2, 0.7, -0.1]],
        "x": x,
        "cache": cache,
        "range_0_0_1": rng,
        "fun_0_1_1": [torch.as_tensor(fun_x), torch.as_tensor(fun_y)],
    }


def formula_case(sb) -> dict:
    """A [2, 1] model with both edges symbolic (pykan's own a, b, c, d), its formula's value at
    points by ``subs('x_1', …)``, as the classification tutorial evaluates it."""
    from kan import KAN as PyKAN

    affine = {(0, 0): [2.0, 0.5, 1.5, 0.25], (1, 0): [1.0, -0.3, -0.8, 0.1]}
    funs = {(0, 0): "x^2", (1, 0): "sin"}
    with sb.run():
        m = PyKAN(width=[2, 1], grid=5, k=3, seed=0, auto_save=False, ckpt_path=sb.ckpt_path)
        for (i, j), name in funs.items():
            m.fix_symbolic(0, i, j, name, fit_params_bool=False, log_history=False)
            with torch.no_grad():
                m.symbolic_fun[0].affine[j, i] = torch.tensor(affine[(i, j)])
        exprs, variables = m.symbolic_formula()
        points = [(0.3, -0.7), (-0.9, 0.45)]
        values = [float(exprs[0].subs("x_1", a).subs("x_2", b)) for a, b in points]
    return {
        "funs": [[i, j, n] for (i, j), n in funs.items()],
        "affine": [[i, j, v] for (i, j), v in affine.items()],
        "variables": [str(v) for v in variables],
        "points": points,
        "values": values,
    }


def history_case(sb) -> dict:
    """The version numbers (round, state_id) of API_12's session: init, fit, prune, rewind."""
    from kan import KAN as PyKAN
    from kan import create_dataset

    def f(x):
        return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)

    out = []
    with sb.run():
        ds = create_dataset(f, n_var=2, train_num=100, test_num=100)
        m = PyKAN(width=[2, 3, 1], grid=3, k=3, seed=1, auto_save=True, ckpt_path=sb.ckpt_path)
        out.append(("init", m.round, m.state_id))
        m.fit(ds, steps=2)
        out.append(("fit", m.round, m.state_id))
        m = m.prune()
        out.append(("prune", m.round, m.state_id))
        m = m.refine(5)
        out.append(("refine", m.round, m.state_id))
        m.get_act(ds)
        m.fix_symbolic(0, 0, 0, "x")
        out.append(("fix_symbolic", m.round, m.state_id))
        m = m.rewind("0.1")
        out.append(("rewind", m.round, int(m.state_id)))
        m.fit(ds, steps=1)
        out.append(("fit", m.round, int(m.state_id)))
    return {"steps": out}


def sparse_case() -> dict:
    from kan.utils import sparse_mask

    sizes = [(5, 5), (2, 5), (5, 2), (3, 7), (4, 1)]
    return {"sizes": sizes, "masks": [sparse_mask(a, b) for a, b in sizes]}


def main() -> None:
    setup_torch()
    torch.set_default_dtype(torch.float32)
    sb = PykanSandbox()
    fixture = {
        "activations": [activation_case([2, 3, 1], 3, sb), activation_case([3, 2, 2], 5, sb)],
        "formula": formula_case(sb),
        "history": history_case(sb),
        "sparse": sparse_case(),
    }
    torch.save(fixture, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
