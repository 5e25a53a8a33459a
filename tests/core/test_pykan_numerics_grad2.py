"""Second derivatives through the model (pykan's PDE tutorials: ``jacobian(model, x,
create_graph=True)`` twice, then ``loss.backward()``), against an independent plain-autograd
reference of the same network and against finite differences."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.functional import hessian, jacobian

from kan_core import KAN, SYMBOLIC_LIB, b_spline_basis
from kan_core.fused import regularization
from kan_core.symbolic import SymbolicFit

torch_fns = {name: fn.torch_fn for name, fn in SYMBOLIC_LIB.items()}


def ref_bases(x, grid, k):
    """Plain Cox–de Boor: ``(batch, in)``, ``(in, knots)`` → ``(batch, in, knots − 1 − k)``."""
    x, t = x.unsqueeze(-1), grid.unsqueeze(0)
    b = ((x >= t[..., :-1]) & (x < t[..., 1:])).to(x.dtype)
    for p in range(1, k + 1):
        left = (x - t[..., : -p - 1]) / (t[..., p:-1] - t[..., : -p - 1]) * b[..., :-1]
        right = (t[..., p + 1 :] - x) / (t[..., p + 1 :] - t[..., 1:-p]) * b[..., 1:]
        b = left + right
    return b


def ref_forward(model, x, layers=None):
    """The network (or the given ``(l, layer)`` pairs of it) from its layers' public tensors, per
    edge, with plain autograd operations (the parameters are views of each layer's ``packed``:
    gradients land there)."""
    h = x
    for l, layer in layers or enumerate(model.layers):
        spline = torch.einsum("bik,iok->bio", ref_bases(h, layer.grid, layer.k), layer.coef)
        num = layer.scale_base * F.silu(h).unsqueeze(-1) + layer.scale_sp * spline
        sym = torch.zeros_like(num)
        for (i, j), name in layer.sym_funs.items():
            a, b, c, d = layer.affine[i, j]
            sym[:, i, j] = c * torch_fns[name](a * h[:, i] + b) + d
        acts = layer.mask * ((1 - layer.sym_mask) * num + layer.sym_mask * sym)
        sub = acts.sum(1)  # (batch, subnodes)
        layout = model.layouts[l + 1]
        nodes, start = [sub[:, : layout.n_sum]], layout.n_sum
        for a in layout.arity:  # a mult node: the product of its subnodes
            nodes.append(sub[:, start : start + a].prod(1, keepdim=True))
            start += a
        h = torch.cat(nodes, 1)
    return h


def _model(kind: str) -> KAN:
    torch.manual_seed(0)
    if kind == "mult":
        m = KAN(width=[2, [1, 2], 1], grid=5, k=3, seed=3, noise_scale=1.0).double()
    else:
        m = KAN(width=[2, 3, 2], grid=5, k=3, seed=3, noise_scale=1.0).double()
    with torch.no_grad():  # lively, uneven parameters (not the near-zero initial splines)
        g = torch.Generator().manual_seed(1)
        for layer in m.layers:
            layer.packed.add_(
                0.5 * torch.randn(layer.packed.shape, generator=g, dtype=torch.float64)
            )
    if kind == "symbolic":
        m.fix_symbolic(0, 0, 1, "sin", fit=SymbolicFit("sin", 1.3, 0.2, 0.7, 0.1, 1.0, 2))
        m.fix_symbolic(1, 2, 0, "x^2", fit=SymbolicFit("x^2", 0.9, -0.1, 1.1, 0.0, 1.0, 2))
        m.layers[0].mask[1, 2] = 0.0  # and a pruned edge
    return m


def _inputs(n=9, seed=4):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g, dtype=torch.float64) * 1.8 - 0.9


KINDS = ["sum", "mult", "symbolic"]


@pytest.mark.parametrize("kind", KINDS)
def test_hessian_in_x_matches_reference_and_finite_differences(kind):
    m, x = _model(kind), _inputs()
    assert torch.allclose(m(x), ref_forward(m, x), atol=1e-12)
    for out in range(m.width_in[-1]):
        h_ours = hessian(lambda z, o=out: m(z)[:, o].sum(), x)
        h_ref = hessian(lambda z, o=out: ref_forward(m, z)[:, o].sum(), x)
        assert h_ours.shape == (9, 2, 9, 2)
        assert h_ours.abs().max() > 1e-3  # not trivially zero
        assert torch.allclose(h_ours, h_ref, atol=1e-9), (h_ours - h_ref).abs().max()

    def grad_x(z):
        z = z.clone().requires_grad_()
        return torch.autograd.grad(m(z)[:, 0].sum(), z)[0]

    eps, fd = 1e-6, torch.zeros(9, 2, 9, 2, dtype=torch.float64)
    for a in range(9):
        for b in range(2):
            e = torch.zeros_like(x)
            e[a, b] = eps
            fd[:, :, a, b] = (grad_x(x + e) - grad_x(x - e)) / (2 * eps)
    h0 = hessian(lambda z: m(z)[:, 0].sum(), x)
    assert torch.allclose(h0, fd, atol=1e-6), (h0 - fd).abs().max()


def batch_jacobian(func, x, create_graph=False):
    """pykan's PDE tutorials' helper: ``(batch, out, in)``."""
    return jacobian(lambda z: func(z).sum(0), x, create_graph=create_graph).permute(1, 0, 2)


def _laplacian_loss(forward, x):
    d1 = lambda z: batch_jacobian(forward, z, create_graph=True)[:, 0, :]  # noqa: E731
    d2 = batch_jacobian(d1, x, create_graph=True)
    lap = torch.diagonal(d2, dim1=1, dim2=2).sum(1, keepdim=True)
    return torch.mean((lap - torch.sin(x[:, :1])) ** 2) + forward(x).square().mean()


@pytest.mark.parametrize("kind", KINDS)
def test_pde_loss_gradient_in_parameters_matches_reference(kind):
    """The tutorials' loss: a Laplacian by two create_graph jacobians, then backward into the
    parameters (third-order mixed derivatives of the network)."""
    m, x = _model(kind), _inputs(n=7)
    grads = []
    for forward in (m, lambda z: ref_forward(m, z)):
        m.zero_grad()
        loss = _laplacian_loss(forward, x)
        loss.backward()
        grads.append([layer.packed.grad.clone() for layer in m.layers])
    assert loss.item() > 0
    for ours, ref in zip(*grads, strict=True):
        assert ours.abs().max() > 1e-6
        assert torch.allclose(ours, ref, atol=1e-9), (ours - ref).abs().max()


def test_batch_jacobian_shapes_and_first_derivative_unchanged():
    m, x = _model("sum"), _inputs()
    d1 = batch_jacobian(m, x, create_graph=True)
    assert d1.shape == (9, 2, 2) and d1.requires_grad
    d2 = batch_jacobian(lambda z: batch_jacobian(m, z, create_graph=True)[:, 0, :], x, True)
    assert d2.shape == (9, 2, 2)
    assert torch.allclose(d2, d2.transpose(1, 2), atol=1e-10)  # a Hessian is symmetric
    # the first-order (fast, hand-written) backward gives the same first derivative
    plain = batch_jacobian(m, x)
    assert not plain.requires_grad
    assert torch.allclose(plain, d1.detach(), atol=1e-12)


def test_float32_model_second_derivative_close_to_float64():
    m64, x = _model("sum"), _inputs()
    m32 = m64.copy().float()
    h64 = hessian(lambda z: m64(z)[:, 0].sum(), x)
    h32 = hessian(lambda z: m32(z)[:, 0].sum(), x.float())
    assert torch.allclose(h32.double(), h64, atol=1e-4)


def test_basis_second_derivative_in_x():
    grid = KAN(width=[2, 1], grid=4, k=3).double().layers[0].grid
    x = _inputs(n=6)
    h_ours = hessian(lambda z: (b_spline_basis(z, grid, 3) ** 2).sum(), x)
    h_ref = hessian(lambda z: (ref_bases(z, grid, 3) ** 2).sum(), x)
    assert h_ours.abs().max() > 1e-3
    assert torch.allclose(h_ours, h_ref, atol=1e-10)


def test_hessian_in_parameters_with_regularisation_scales():
    """``forward_with_reg``'s edge scales are differentiable twice too (a Hessian-vector product
    through the regulariser's inputs)."""
    m, x = _model("symbolic"), _inputs(n=12)

    def scales_sum(z):
        _, scales = m.forward_with_reg(z)
        return sum(s.square().sum() for s in scales)

    def ref_scales_sum(z):
        total, h = 0.0, z
        for l, layer in enumerate(m.layers):
            spline = torch.einsum("bik,iok->bio", ref_bases(h, layer.grid, layer.k), layer.coef)
            num = layer.scale_base * F.silu(h).unsqueeze(-1) + layer.scale_sp * spline
            live = layer.mask * (1 - layer.sym_mask)
            s = ((num * live).var(0) + 1e-10).sqrt() / (h.std(0) + 0.1).unsqueeze(1)
            total = total + s.square().sum()
            h = ref_forward(m, h, [(l, layer)])
        return total

    h_ours = hessian(scales_sum, x)
    h_ref = hessian(ref_scales_sum, x)
    assert torch.allclose(h_ours, h_ref, atol=1e-8), (h_ours - h_ref).abs().max()


def test_regulariser_second_derivative():
    """L1 + entropy of edge scales (pykan's definition written out) twice differentiated."""

    def ref(s, l1=1.0, ent=2.0):
        p_row, p_col = s / (s.sum(1, keepdim=True) + 1), s / (s.sum(0, keepdim=True) + 1)
        e_row = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
        e_col = -(p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
        return l1 * s.sum() + ent * (e_row + e_col)

    g = torch.Generator().manual_seed(0)
    s = torch.rand(3, 4, generator=g, dtype=torch.float64) + 0.05
    h_ours = hessian(lambda t: regularization([t], 1.0, 2.0), s)
    h_ref = hessian(ref, s)
    assert h_ours.abs().max() > 1e-3
    assert torch.allclose(h_ours, h_ref, atol=1e-10)
