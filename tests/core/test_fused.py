"""Hand-written backward passes (kan_core.fused) against plain autograd, and our L-BFGS against
torch's on the same problems."""

import math

import pytest
import torch
import torch.nn.functional as F

from kan_core import KAN
from kan_core.fused import numeric_edges, pack, regularization, unpack
from kan_core.lbfgs import LBFGS
from kan_core.spline import basis_inverses, uniform_grid
from kan_core.train import loss_and_grads


def reference_bases(xt, grid, k):
    """Plain differentiable Cox–de Boor, knot-major: ``(in, batch)`` → ``(K, in, batch)``."""
    t = grid.T.unsqueeze(-1)  # (knots, in, 1)
    x = xt.unsqueeze(0)
    b = ((x >= t[:-1]) & (x < t[1:])).to(xt.dtype)
    for p in range(1, k + 1):
        left = (x - t[: -p - 1]) / (t[p:-1] - t[: -p - 1]) * b[:-1]
        right = (t[p + 1 :] - x) / (t[p + 1 :] - t[1:-p]) * b[1:]
        b = left + right
    return b


def reference_numeric(xt, grid, k, coef, ssp, sb, live):
    """A layer's numeric edges and their regularisation scales from per-edge activations."""
    feats = torch.cat([reference_bases(xt, grid, k), F.silu(xt).unsqueeze(0)])  # (K+1, in, b)
    w = torch.cat([coef * (ssp * live).unsqueeze(-1), (sb * live).unsqueeze(-1)], -1)
    acts = torch.einsum("iok,kib->iob", w, feats)
    s = (acts.var(-1) + 1e-10).sqrt() / (xt.std(1) + 0.1).unsqueeze(1)
    return acts.sum(0), s


def reference_regularization(scales, l1, ent):
    total = 0.0
    for s in scales:
        p_row, p_col = s / (s.sum(1, keepdim=True) + 1), s / (s.sum(0, keepdim=True) + 1)
        e = (p_row * torch.log2(p_row + 1e-4)).sum(1).mean() + (
            p_col * torch.log2(p_col + 1e-4)
        ).sum(0).mean()
        total = total + l1 * s.sum() - ent * e
    return total


def _layer_inputs(n_in=3, n_out=4, grid=5, k=3, batch=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    knots = uniform_grid(n_in, grid, -1.0, 1.0, k).double()
    knots = knots + 0.02 * torch.rand(knots.shape, generator=g, dtype=torch.float64)  # uneven
    xt = torch.rand(n_in, batch, generator=g, dtype=torch.float64) * 1.8 - 0.9
    live = (torch.rand(n_in, n_out, generator=g) > 0.3).double()
    params = r(n_in, n_out, grid + k), r(n_in, n_out), r(n_in, n_out)  # coef, scale_sp, scale_base
    return xt, knots, params, live


def _packed(coef, ssp, sb):
    return pack(coef, sb, ssp, torch.randn(*sb.shape, 4, dtype=sb.dtype))


def _matches_reference(ours, leaves, xt, knots, params, live):
    """``numeric_edges``' outputs ``ours`` (``(y,)`` or ``(y, s)``) and their gradients in its
    leaves ``(xt, packed)`` equal the per-edge reference's; returns ours ``(g_coef, g_affine)``."""
    ref_leaves = [t.clone().requires_grad_() for t in (xt, *params)]
    ref = reference_numeric(ref_leaves[0], knots, 3, *ref_leaves[1:], live)[: len(ours)]
    for o, r in zip(ours, ref, strict=True):
        assert torch.allclose(o, r, atol=1e-10), (o - r).abs().max()
    g = torch.Generator().manual_seed(9)
    weights = [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in ref]
    sum((o * w).sum() for o, w in zip(ours, weights, strict=True)).backward()
    sum((r * w).sum() for r, w in zip(ref, weights, strict=True)).backward()
    g_coef, g_sb, g_ssp, g_affine = unpack(leaves[1].grad)
    ours_grads = [leaves[0].grad, g_coef, g_ssp, g_sb]  # (xt's is None without x_grad)
    for a, b in zip(ours_grads, [t.grad for t in ref_leaves], strict=True):
        if a is not None:
            assert torch.allclose(a, b, atol=1e-9), (a.shape, (a - b).abs().max())
    return g_coef, g_affine


@pytest.mark.parametrize("all_live", [False, True])
@pytest.mark.parametrize("with_reg", [False, True])
@pytest.mark.parametrize("x_grad", [False, True])
def test_numeric_edges_value_and_gradients_match_plain_autograd(with_reg, x_grad, all_live):
    xt, knots, params, live = _layer_inputs()
    if all_live:  # the layer then passes live=None (no multiplications by ones)
        live = torch.ones_like(live)
    spec = (3, basis_inverses(knots, 3), "silu")
    leaves = [t.clone().requires_grad_() for t in (xt, _packed(*params))]
    leaves[0].requires_grad_(x_grad)
    feats = None if x_grad else {"f": torch.cat([reference_bases(xt, knots, 3), F.silu(xt)[None]])}
    ours = numeric_edges(*leaves, None if all_live else live.T.contiguous(), spec, feats, with_reg)
    ours = ours if with_reg else (ours,)
    g_coef, g_affine = _matches_reference(ours, leaves, xt, knots, params, live)
    # masked edges get no gradient at all, and the symbolic branch's slots none here
    assert bool((g_coef[live == 0] == 0).all())
    assert bool((g_affine == 0).all())


@pytest.mark.parametrize("x_grad", [False, True])
@pytest.mark.parametrize("in_span", [True, False])
def test_large_layers_drop_the_last_basis_inside_the_span_with_the_same_values(
    in_span, x_grad, monkeypatch
):
    """Inside the grid's span the bases sum to 1, so large layers weigh K features instead of
    K + 1 (fused.features); values and every gradient (regulariser included) stay those of the
    per-edge reference. An input outside the span keeps all K + 1."""
    from kan_core.fused import features
    from kan_core.spline import COMPILE_MIN_VALUES

    monkeypatch.setenv("KAN_CORE_COMPILE", "0")  # (eager float64; the compiled kernel: above)
    xt, knots, params, live = _layer_inputs(n_in=64, n_out=5, batch=800, seed=5)
    assert xt.numel() >= COMPILE_MIN_VALUES
    if not in_span:
        xt[7, 3] = 1.2  # beyond t_G+k ≈ 1.0 for input 7
    spec = (3, basis_inverses(knots, 3), "silu")
    n_b = knots.shape[1] - 1 - 3
    f, _ = features(xt, spec)
    assert f.shape[0] == (n_b if in_span else n_b + 1)
    leaves = [t.clone().requires_grad_() for t in (xt, _packed(*params))]
    leaves[0].requires_grad_(x_grad)
    feats = None if x_grad else {"f": f}
    ours = numeric_edges(*leaves, live.T.contiguous(), spec, feats, True)
    _matches_reference(ours, leaves, xt, knots, params, live)


def test_numeric_edges_pass_gradcheck():
    xt, knots, params, live = _layer_inputs(2, 3, 4, 2, 12, seed=1)
    spec = (2, basis_inverses(knots, 2), "silu")
    leaves = [t.requires_grad_() for t in (xt, _packed(*params))]

    def fn(x, w):
        return numeric_edges(x, w, live.T.contiguous(), spec, None, True)

    assert torch.autograd.gradcheck(fn, leaves)


def test_large_layer_features_take_the_compiled_path_with_the_same_values(monkeypatch):
    import kan_core.spline as spline
    from kan_core.fused import features

    xt, knots, _, _ = _layer_inputs(n_in=64, batch=1024, seed=2)
    xt, knots = xt.float(), knots.float()
    assert xt.numel() >= spline.COMPILE_MIN_VALUES
    spec = (3, basis_inverses(knots, 3), "silu")
    fast, prev_fast = features(xt, spec)
    assert spline._compiled.get("features") is not None, "torch.compile failed: fell back to eager"
    monkeypatch.setenv("KAN_CORE_COMPILE", "0")
    eager, prev_eager = features(xt, spec)
    bases = reference_bases(xt.double(), knots.double(), 3)  # (x inside the grid's span:
    ref = torch.cat([bases[:-1], F.silu(xt.double())[None]])  # the last basis is left out)
    assert fast.shape == eager.shape == ref.shape
    for a, b in ((fast, eager), (prev_fast, prev_eager)):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(eager.double(), ref, atol=1e-5)


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


@pytest.mark.parametrize("x_grad", [False, True])
def test_model_forward_is_one_node_with_the_gradients_of_plain_autograd(x_grad):
    """``model(x)`` of a model without symbolic edges (one hand-written node for the network)
    against the same network written from per-edge activations with plain autograd."""
    m, x, _ = _model(symbolic=False)
    x = x.clone().requires_grad_(x_grad)
    out = m(x)
    assert type(out.grad_fn).__name__ == "_NumericNetworkBackward"
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype)
    leaves = [x, *m.parameters()] if x_grad else list(m.parameters())
    ours = torch.autograd.grad((out * g).sum(), leaves)
    h = x
    for layer in m.layers:
        h = layer.edge_activations(h).sum(1)  # (batch, in, out) summed into the outputs
    ref = torch.autograd.grad((h * g).sum(), leaves)
    assert torch.allclose(out, h, atol=1e-12)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), (a - b).abs().max()


def _model(symbolic: bool):
    """Hidden layers, a pruned edge, (symbolic edges of two functions), float64."""
    m = KAN([3, 4, 2], seed=0).double()
    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    y = torch.sin(x[:, :2] * 2)
    m.set_reference_input(x)
    m.prune_edge(0, 1, 2)
    if not symbolic:
        return m, x, y
    m.fix_symbolic(0, 2, 1, "sin")
    m.fix_symbolic(1, 3, 0, "x^2")
    with torch.no_grad():
        m.layers[1].affine[3, 0] += torch.tensor([0.3, 0.1, -0.2, 0.05], dtype=torch.float64)
    return m, x, y


@pytest.mark.parametrize("lamb", [0.0, 0.01])
@pytest.mark.parametrize("symbolic", [False, True])
def test_trainer_loss_gradient_matches_autograd(lamb, symbolic):
    """The trainer's gradient (graph-free without symbolic edges) equals autograd on the same
    loss, parameter by parameter."""
    m, x, y = _model(symbolic)
    loss, mse, reg = loss_and_grads(m, x, y, lamb, 1.0, 2.0)
    ours = [None if p.grad is None else p.grad.clone() for p in m.parameters()]
    m.zero_grad(set_to_none=True)
    pred, scales = m.forward_with_reg(x)
    ref_reg = regularization(scales, 1.0, 2.0)
    ref_loss = torch.mean((pred - y) ** 2) + lamb * ref_reg
    ref_loss.backward()
    assert math.isclose(loss, ref_loss.item(), rel_tol=1e-12)
    assert math.isclose(mse + lamb * reg, loss, rel_tol=1e-15)
    for (name, p), a in zip(m.named_parameters(), ours, strict=True):
        b = p.grad
        if b is None or a is None:
            assert (a is None or not bool(a.any())) and (b is None or not bool(b.any())), name
            continue
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), (name, (a - b).abs().max())
    affine = unpack(ours[[n for n, _ in m.named_parameters()].index("layers.1.packed")])[3]
    assert bool(affine.abs().sum() > 0) if symbolic else bool((affine == 0).all())


def test_trainer_gradient_with_every_edge_symbolic():
    m, x, y = _model(symbolic=True)
    for layer_i, layer in enumerate(m.layers):
        for i in range(layer.in_dim):
            for j in range(layer.out_dim):
                if (i, j) not in layer.sym_funs and layer.mask[i, j] > 0:
                    m.fix_symbolic(layer_i, i, j, "x")
    loss, _, _ = loss_and_grads(m, x, y)
    ours = {n: p.grad for n, p in m.named_parameters()}
    m.zero_grad(set_to_none=True)
    torch.mean((m(x) - y) ** 2).backward()
    assert math.isclose(loss, torch.mean((m(x) - y) ** 2).item(), rel_tol=1e-12)
    for n, p in m.named_parameters():
        if p.grad is None:
            assert ours[n] is None, n
        else:
            assert torch.allclose(ours[n], p.grad, rtol=1e-9, atol=1e-12), n


def rosenbrock_closure(p, opt):
    def closure():
        opt.zero_grad()
        x, y = p[0], p[1]
        loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        loss.backward()
        return loss

    return closure


WOLFE = {"line_search_fn": "strong_wolfe", "tolerance_ys": 1e-10}  # torch's line search and ys


def test_lbfgs_minimises_rosenbrock_like_torch():
    finals = {}
    for kind in ("ours", "torch"):
        p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
        if kind == "ours":
            opt = LBFGS([p], max_iter=20, history_size=10, **WOLFE)
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
            opt = LBFGS(params, max_iter=20, history_size=10, tolerance_change=1e-12, **WOLFE)
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
    opt = LBFGS([p], **WOLFE)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.n_evals == 1 and bool((p == 0).all())


def test_lbfgs_restarts_after_a_failed_line_search_instead_of_freezing():
    """At a kink (the regulariser's L1 part has them) no step along the quasi-Newton direction
    decreases the loss. Keeping the curvature memory retries that direction at every later step
    and training freezes; restarting from steepest descent reaches the minimum."""
    p = torch.tensor([1.3, -0.7, 2.1, 0.4], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([1.0, 3.0, 0.5, 2.0], dtype=torch.float64)
    opt = LBFGS([p], max_iter=20, history_size=10, **WOLFE)

    def closure():
        opt.zero_grad()
        loss = (w * (p - 0.25).abs()).sum() + 0.1 * (p**2).sum()
        loss.backward()
        return loss

    losses = []
    for _ in range(8):
        opt.step(closure)
        losses.append(float(closure().detach()))
    assert losses[-1] < 0.3 * losses[1]  # (frozen at losses[1] without the restart)
    assert losses[-1] == pytest.approx(0.025, abs=1e-4)  # min at p = 0.25: 0.1 · 4 · 0.25²
    assert torch.allclose(p.detach(), torch.full((4,), 0.25, dtype=torch.float64), atol=1e-3)
