"""Write tests/core/fixtures/pykan_attribution.pt: pykan 0.2.8 models with perturbed weights (and
a masked edge), an input, and what pykan's attribution gives on it — ``attribute()``'s
``node_scores`` / ``edge_scores``, ``attribute(l)`` per layer, ``feature_interaction``,
``prune_input``'s kept inputs — for kan_core's attribution test (which then needs no pykan).
Also tests/core/fixtures/pykan_mlp_extras.pt: pykan's ``MLP`` (attribution, regularisers,
connection cost) and which edges ``perturb`` switches on in a compiled model. Run once after
``bash bench/setup.sh``:

    .venv/bin/python bench/make_pykan_attribution_fixtures.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from _common import setup_torch
from _pykan import PykanSandbox

OUT = Path(__file__).resolve().parents[1] / "tests" / "core" / "fixtures" / "pykan_attribution.pt"
CASES = [  # width, mult_arity, seed, masked edge (l, i, j) or None
    ([3, 5, 1], 2, 2, (0, 2, 1)),
    ([4, 3, 2], 2, 1, None),
    ([2, [3, 2], 2], 2, 3, (1, 4, 0)),
    ([3, [1, 2], [2, 1], 1], [[], [2, 3], [2], []], 5, None),
]
TENSORS = ("grid", "coef", "scale_base", "scale_sp", "mask")


def _perturb(m, gen, masked) -> list[dict]:
    layers = []
    with torch.no_grad():
        for act in m.act_fun:  # non-trivial weights: the initial splines are near zero
            act.coef.add_(torch.randn(act.coef.shape, generator=gen) * 0.5)
            act.scale_base.mul_(1 + torch.rand(act.scale_base.shape, generator=gen))
        if masked is not None:
            l, i, j = masked
            m.act_fun[l].mask[i, j] = 0.0
        for act in m.act_fun:
            layers.append({n: getattr(act, n).detach().clone() for n in TENSORS})
    return layers


def case(width, arity, seed, masked, sb) -> dict:
    from kan import KAN as PyKAN

    gen = torch.Generator().manual_seed(seed)
    with sb.run():
        m = PyKAN(
            width=copy.deepcopy(width),
            mult_arity=arity,
            grid=5,
            k=3,
            seed=seed,
            auto_save=False,
            ckpt_path=sb.ckpt_path,
        )
        layers = _perturb(m, gen, masked)
        x = torch.rand(200, m.width_in[0], generator=gen) * 2 - 1
        m(x)
        m.attribute()
        out = {
            "node_scores": [s.detach().clone() for s in m.node_scores],
            "edge_scores": [s.detach().clone() for s in m.edge_scores],
            "per_output_inputs": m.node_scores_all[0].detach().clone(),
        }
        if isinstance(arity, int):  # pykan 0.2.8's attribute(l) fails on per-node arities
            out["neuron"] = [m.attribute(l).detach().clone() for l in range(1, m.depth + 1)]
            out["neuron_row"] = m.attribute(1, 0, plot=False).detach().clone()
            inter = m.feature_interaction(1, neuron_th=1e-2, feature_th=5e-2)
            out["interaction"] = [(list(map(int, k)), v) for k, v in sorted(inter.items())]
        threshold = float(out["node_scores"][0].min()) * 1.01  # drops the weakest input
        m.attribute()
        m2 = m.prune_input(threshold=threshold)
        out["prune_threshold"] = threshold
        out["kept"] = [int(i) for i in m2.input_id]
        out["pruned_y"] = m2(x).detach().clone()
    return {"width": width, "mult_arity": arity, "layers": layers, "x": x, **out}


MLP_OUT = OUT.parent / "pykan_mlp_extras.pt"


def mlp_case(sb) -> dict:
    """pykan's MLP on given weights: attribution, regularisers, connection cost; and which edges
    pykan's perturb switches on in a compiled model."""
    from kan import KAN as PyKAN
    from kan.compiler import kanpiler
    from kan.MLP import MLP as PyMLP
    from sympy import exp, pi, sin, symbols

    gen = torch.Generator().manual_seed(7)
    out: dict = {}
    with sb.run():
        m = PyMLP(width=[3, 4, 2], seed=0)
        x = torch.rand(100, 3, generator=gen) * 2 - 1
        m(x)
        m.attribute()
        out["mlp"] = {
            "weights": [
                (lin.weight.detach().clone(), lin.bias.detach().clone()) for lin in m.linears
            ],
            "x": x,
            "y": m(x).detach().clone(),
            "node_scores": [s.detach().clone() for s in m.node_scores],
            "edge_scores": [s.detach().clone() for s in m.edge_scores],
            "reg": {k: float(m.reg(k, 1.0, 2.0)) for k in ("w", "act", "fa", "a")},
            "cost": float(m.connection_cost),
        }
        a, b = symbols("a b")
        perturbed = {}
        for mode in ("all", "non-intrusive", "minimal"):
            k = kanpiler([a, b], exp(sin(pi * a) + b**2))
            k.expand_width(1, 1)
            k.get_act(torch.rand(50, 2, generator=gen) * 2 - 1)
            k.perturb(mag=0.1, mode=mode)
            perturbed[mode] = [f.mask.detach().clone() for f in k.act_fun]
        out["perturb"] = perturbed
        out["perturb_width"] = k.width
        del PyKAN
    return out


def main() -> None:
    setup_torch()
    torch.set_default_dtype(torch.float32)
    sb = PykanSandbox()
    torch.save([case(*c, sb) for c in CASES], OUT)
    torch.save(mlp_case(sb), MLP_OUT)
    print(f"wrote {OUT} and {MLP_OUT}")


if __name__ == "__main__":
    main()
