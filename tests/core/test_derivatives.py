"""pykan's batch_jacobian / batch_hessian / augment_input / model2param (its physics and
auxiliary-variable tutorials), against closed forms and torch.autograd.functional."""

import math

import pytest
import sympy
import torch

from kan_core import KAN, augment_input, batch_hessian, batch_jacobian, get_derivative, model2param


def f(x):  # (batch, 2) -> (batch, 2): x₀²x₁ + sin x₁, and x₀x₁
    return torch.stack([x[:, 0] ** 2 * x[:, 1] + torch.sin(x[:, 1]), x[:, 0] * x[:, 1]], 1)


def _x(n=7):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g, dtype=torch.float64)


def test_jacobian_scalar_and_vector_against_closed_forms():
    x = _x()
    a, b = x[:, 0], x[:, 1]
    want0 = torch.stack([2 * a * b, a**2 + torch.cos(b)], 1)
    want1 = torch.stack([b, a], 1)
    assert torch.allclose(batch_jacobian(f, x), want0)
    got = batch_jacobian(f, x, mode="vector")
    assert got.shape == (7, 2, 2)
    assert torch.allclose(got[:, 0], want0) and torch.allclose(got[:, 1], want1)
    assert not got.requires_grad
    with pytest.raises(ValueError, match="mode"):
        batch_jacobian(f, x, mode="matrix")


def test_hessian_against_closed_form_and_torch_functional():
    x = _x()
    a, b = x[:, 0], x[:, 1]
    want = torch.stack([torch.stack([2 * b, 2 * a], 1), torch.stack([2 * a, -torch.sin(b)], 1)], 1)
    got = batch_hessian(f, x)
    assert got.shape == (7, 2, 2) and torch.allclose(got, want)
    for r in range(3):  # row by row, torch's own Hessian of the first output
        h = torch.autograd.functional.hessian(lambda v: f(v.unsqueeze(0))[0, 0], x[r])
        assert torch.allclose(got[r], h)


def test_create_graph_lets_a_loss_on_derivatives_train_a_kan():
    m = KAN(width=[2, 3, 1], seed=0)
    x = _x(16).float()
    loss = batch_jacobian(m, x, create_graph=True).square().mean()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


def test_augment_input_puts_aux_columns_first():
    a, b = sympy.symbols("a b")
    x = _x(5).float()
    out = augment_input([a, b], [a + b, a * b, sympy.Integer(2)], x)
    assert out.shape == (5, 5) and out.dtype == x.dtype
    assert torch.allclose(out[:, 0], x[:, 0] + x[:, 1]) and torch.allclose(out[:, 1], x.prod(1))
    assert torch.equal(out[:, 2], torch.full((5,), 2.0)) and torch.equal(out[:, 3:], x)
    ds = {"train_input": x, "test_input": x[:2], "train_label": x, "test_label": x}
    assert augment_input([a, b], [sympy.sin(a)], ds) is ds
    assert ds["train_input"].shape == (5, 3) and ds["test_input"].shape == (2, 3)
    assert math.isclose(float(ds["test_input"][1, 0]), math.sin(float(x[1, 0])), rel_tol=1e-6)
    with pytest.raises(TypeError, match="sympy"):
        augment_input([a, b], ["__import__('os')"], x)
    with pytest.raises(ValueError, match="column"):
        augment_input([a], [a], x)


def test_model2param_is_every_parameter_flat():
    m = KAN(width=[2, 3, 1], seed=0)
    p = model2param(m)
    assert p.dim() == 1 and p.numel() == sum(q.numel() for q in m.parameters())


def test_get_derivative_hessian_matches_finite_differences():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        g = torch.Generator().manual_seed(1)
        x = torch.rand(200, 1, generator=g) * 2 - 1
        y = x**2
        m = KAN(width=[1, 2, 1], seed=0)
        m.fit({"train_input": x, "train_label": y, "test_input": x, "test_label": y}, steps=5)
        hess = get_derivative(m, x, y)
        n = sum(q.numel() for q in m.parameters())
        assert hess.shape == (1, n, n) and torch.allclose(hess[0], hess[0].T, atol=1e-9)
        assert get_derivative(m, x, y, derivative="jacobian").shape == (1, n)
        p0 = model2param(m).detach().clone()

        def loss(p):
            with torch.no_grad():
                torch.nn.utils.vector_to_parameters(p, m.parameters())
                for layer in m.layers:
                    layer.invalidate()
                return float((m(x) - y).square().mean())

        h = 1e-4
        top = hess[0].abs().flatten().topk(6).indices
        for a, b in zip((top // n).tolist(), (top % n).tolist(), strict=True):
            ea, eb = torch.zeros(n), torch.zeros(n)
            ea[a], eb[b] = h, h
            fd = loss(p0 + ea + eb) - loss(p0 + ea - eb) - loss(p0 - ea + eb) + loss(p0 - ea - eb)
            assert float(hess[0, a, b]) == pytest.approx(fd / (4 * h * h), rel=1e-4, abs=1e-7)
        with pytest.raises(ValueError, match="loss_mode"):
            get_derivative(m, x, y, loss_mode="reg")
    finally:
        torch.set_default_dtype(old)
