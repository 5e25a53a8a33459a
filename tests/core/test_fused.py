"""Hand-written backward passes (kan_core.fused) against plain autograd, and our L-BFGS against
torch's on the same problems."""

import math

import pytest
import torch

from kan_core import KAN
from kan_core.fused import edge_sum, regularization
from kan_core.lbfgs import LBFGS


def reference_edge_sum(bases, base, coef, ssp, sb, live, cov=None, x_std=None):
    """The layer's numeric edges written with ordinary differentiable ops."""
    feats = torch.cat([bases, base.unsqueeze(0)])
    w = torch.cat([coef * (ssp * live).unsqueeze(-1), (sb * live).unsqueeze(-1)], -1)
    y = torch.einsum("iok,kib->ob", w, feats)
    if cov is None:
        return y
    var = torch.einsum("iok,ikl,iol->io", w, cov, w)
    return y, (var.clamp_min(0) + 1e-10).sqrt() / (x_std + 0.1).unsqueeze(1)


def reference_regularization(scales, l1, ent):
    total = 0.0
    for s in scales:
        p_row, p_col = s / (s.sum(1, keepdim=True) + 1), s / (s.sum(0, keepdim=True) + 1)
        e = (p_row * torch.log2(p_row + 1e-4)).sum(1).mean() + (
            p_col * torch.log2(p_col + 1e-4)
        ).sum(0).mean()
        total = total + l1 * s.sum() - ent * e
    return total


def _inputs(n_in=3, n_out=4, k1=6, batch=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    feats = r(k1, n_in, batch)
    bases, base = feats[:-1].clone(), feats[-1].clone()
    live = (torch.rand(n_in, n_out, generator=g) > 0.3).double()
    f = feats.permute(1, 0, 2) - feats.permute(1, 0, 2).mean(-1, keepdim=True)
    cov = f @ f.transpose(1, 2) / (batch - 1)
    params = r(n_in, n_out, k1 - 1), r(n_in, n_out), r(n_in, n_out)
    return bases, base, *params, live, cov, r(n_in).abs()


@pytest.mark.parametrize("with_scales", [False, True])
def test_edge_sum_value_and_gradients_match_autograd(with_scales):
    bases, base, coef, ssp, sb, live, cov, x_std = _inputs()
    args = [bases, base, coef, ssp, sb]
    extra = [cov, x_std] if with_scales else []
    leaves = [t.clone().requires_grad_() for t in args + extra]
    ours = edge_sum(*leaves[:5], live, *leaves[5:])
    ref_leaves = [t.clone().requires_grad_() for t in args + extra]
    ref = reference_edge_sum(*ref_leaves[:5], live, *ref_leaves[5:])
    outs, refs = (ours, ref) if with_scales else ((ours,), (ref,))
    g = torch.Generator().manual_seed(9)
    weights = [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in refs]
    for o, r in zip(outs, refs, strict=True):
        assert torch.allclose(o, r, atol=1e-10)
    sum((o * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    sum((r * w).sum() for r, w in zip(refs, weights, strict=True)).backward()
    for a, b in zip(leaves, ref_leaves, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-9), (a.shape, (a.grad - b.grad).abs().max())
    # masked edges get no gradient at all
    assert bool((leaves[2].grad[live == 0] == 0).all())


def test_edge_sum_passes_gradcheck():
    bases, base, coef, ssp, sb, live, cov, x_std = _inputs(2, 3, 4, 12, seed=1)
    leaves = [t.requires_grad_() for t in (bases, base, coef, ssp, sb, cov, x_std)]

    def fn(b, b0, c, s1, s2, cv, sd):
        return edge_sum(b, b0, c, s1, s2, live, cv, sd)

    assert torch.autograd.gradcheck(fn, leaves)


def test_regularization_matches_autograd_including_zero_and_dead_edges():
    g = torch.Generator().manual_seed(3)
    scales = [
        torch.rand(3, 4, generator=g, dtype=torch.float64),
        torch.rand(4, 1, generator=g, dtype=torch.float64),
    ]
    scales[0][1, 2] = 0.0  # a pruned edge
    ours_in = [s.clone().requires_grad_() for s in scales]
    ref_in = [s.clone().requires_grad_() for s in scales]
    ours = regularization(ours_in, 0.7, 2.0)
    ref = reference_regularization(ref_in, 0.7, 2.0)
    assert math.isclose(ours.item(), ref.item(), rel_tol=1e-12)
    (3 * ours).backward()
    (3 * ref).backward()
    for a, b in zip(ours_in, ref_in, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-10)


def test_model_gradients_with_regulariser_match_a_plain_autograd_model():
    """Whole model: our fused path vs the same loss written from per-edge activations."""
    torch.manual_seed(0)
    m = KAN([3, 4, 2], seed=0)
    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(4)) * 2 - 1
    pred, scales = m.forward_with_reg(x)
    loss = pred.square().mean() + 0.01 * regularization(scales, 1.0, 2.0)
    ours = torch.autograd.grad(loss, list(m.parameters()), allow_unused=True)
    h, ref_scales = x, []
    for layer in m.layers:
        acts = layer.edge_activations(h)  # (batch, in, out), plain autograd
        ref_scales.append(acts.std(0) / (h.std(0) + 0.1).unsqueeze(1))
        h = acts.sum(1)
    ref_loss = h.square().mean() + 0.01 * reference_regularization(ref_scales, 1.0, 2.0)
    ref = torch.autograd.grad(ref_loss, list(m.parameters()), allow_unused=True)
    assert torch.allclose(loss, ref_loss, rtol=1e-4)
    for (name, _), a, b in zip(m.named_parameters(), ours, ref, strict=True):
        if b is None or not bool(b.any()):
            assert a is None or not bool(a.any()), name
            continue
        assert torch.allclose(a, b, rtol=2e-3, atol=2e-6), (name, (a - b).abs().max())


def rosenbrock_closure(p, opt):
    def closure():
        opt.zero_grad()
        x, y = p[0], p[1]
        loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        loss.backward()
        return loss

    return closure


def test_lbfgs_minimises_rosenbrock_like_torch():
    finals = {}
    for kind in ("ours", "torch"):
        p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
        if kind == "ours":
            opt = LBFGS([p], max_iter=20, history_size=10)
        else:
            opt = torch.optim.LBFGS(
                [p], max_iter=20, history_size=10, line_search_fn="strong_wolfe"
            )
        for _ in range(5):
            opt.step(rosenbrock_closure(p, opt))
        finals[kind] = p.detach().clone()
    assert torch.allclose(finals["ours"], torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-4)
    assert torch.allclose(finals["torch"], finals["ours"], atol=1e-9)  # same algorithm, same path


def test_lbfgs_follows_torch_step_by_step_on_a_kan():
    """Same model, data and settings: our optimiser's loss curve tracks torch's."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(3 * x[:, :1]) * x[:, 1:]
    curves = {}
    for kind in ("ours", "torch"):
        m = KAN([2, 3, 1], seed=0).double()
        params = list(m.parameters())
        if kind == "ours":
            opt = LBFGS(params, max_iter=20, history_size=10, tolerance_change=1e-12)
        else:
            opt = torch.optim.LBFGS(
                params,
                max_iter=20,
                history_size=10,
                line_search_fn="strong_wolfe",
                tolerance_change=1e-12,
            )

        def closure(m=m, opt=opt):
            opt.zero_grad()
            loss = torch.mean((m(x) - y) ** 2)
            loss.backward()
            return loss

        curve = []
        for _ in range(3):
            opt.step(closure)
            with torch.no_grad():
                curve.append(float(torch.mean((m(x) - y) ** 2)))
        curves[kind] = curve
    for a, b in zip(curves["ours"], curves["torch"], strict=True):
        assert math.isclose(a, b, rel_tol=1e-4), curves
    assert curves["ours"][-1] < 0.1 * curves["ours"][0]


def test_lbfgs_stops_at_a_minimum_without_moving():
    p = torch.zeros(3, requires_grad=True)
    opt = LBFGS([p])

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.n_evals == 1 and bool((p == 0).all())
