"""``from kan_core import LBFGS``: pykan's optimiser (torch's L-BFGS with ``tolerance_ys``), its
signature and semantics, and the PDE tutorials' recipe with it."""

import inspect

import pytest
import torch
from torch.autograd.functional import jacobian

from kan_core import KAN, LBFGS

# pykan 0.2.8's kan/LBFGS.py signature, written out
PYKAN_SIGNATURE = {
    "lr": 1,
    "max_iter": 20,
    "max_eval": None,
    "tolerance_grad": 1e-7,
    "tolerance_change": 1e-9,
    "tolerance_ys": 1e-32,
    "history_size": 100,
    "line_search_fn": None,
}


def test_signature_and_type_are_pykans():
    params = inspect.signature(LBFGS).parameters
    assert list(params) == ["params", *PYKAN_SIGNATURE]
    assert {k: params[k].default for k in PYKAN_SIGNATURE} == PYKAN_SIGNATURE
    p = torch.zeros(2, requires_grad=True)
    opt = LBFGS([p], lr=1, history_size=10, line_search_fn="strong_wolfe", tolerance_ys=1e-32)
    assert isinstance(opt, torch.optim.Optimizer)
    assert opt.param_groups[0]["tolerance_ys"] == 1e-32
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [p]}, {"params": [torch.zeros(1, requires_grad=True)]}])


def rosenbrock(p, opt):
    def closure():
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        return loss

    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_same_path_as_torch_with_torchs_ys_threshold(line_search_fn):
    """torch's L-BFGS keeps a curvature pair when yᵀs > 1e-10; with that tolerance_ys (and
    either line search) the two take the same steps."""
    ends = []
    for kind in ("ours", "torch"):
        p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        kw = {"lr": 0.5 if line_search_fn is None else 1, "history_size": 10}
        if kind == "ours":
            opt = LBFGS([p], line_search_fn=line_search_fn, tolerance_ys=1e-10, **kw)
        else:
            opt = torch.optim.LBFGS([p], line_search_fn=line_search_fn, **kw)
        path = []
        for _ in range(4):
            opt.step(rosenbrock(p, opt))
            path.append(p.detach().clone())
        ends.append(torch.stack(path))
    assert torch.allclose(ends[0], ends[1], atol=1e-9), ends
    assert not torch.equal(ends[0][0], ends[0][-1])  # it moved


def test_step_returns_the_closures_first_loss_and_reaches_the_minimum():
    p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS(
        [p],
        lr=1,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-32,
        tolerance_change=1e-32,
        tolerance_ys=1e-32,
    )
    first = []

    def closure():
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        first.append(loss)
        return loss

    out = opt.step(closure)
    assert out is first[0] and isinstance(out, torch.Tensor)
    for _ in range(5):
        opt.step(closure)
    assert torch.allclose(p.detach(), torch.ones(2, dtype=torch.float64), atol=1e-10)


def test_tolerance_ys_decides_which_curvature_pairs_are_kept():
    kept = {}
    for ys in (1e-32, 1e30):
        p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        opt = LBFGS([p], history_size=10, line_search_fn="strong_wolfe", tolerance_ys=ys)
        opt.step(rosenbrock(p, opt))
        kept[ys] = len(opt._s)
    assert kept[1e-32] > 0 and kept[1e30] == 0


def test_zero_grad_keeps_or_drops_the_tensors():
    p = torch.ones(3, requires_grad=True)
    opt = LBFGS([p])
    (p**2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and bool((p.grad == 0).all())
    opt.zero_grad()
    assert p.grad is None


def batch_jacobian(func, x, create_graph=False):
    return jacobian(lambda z: func(z).sum(0), x, create_graph=create_graph).permute(1, 0, 2)


def test_the_pde_tutorials_recipe_trains():
    """Poisson's equation on [-1, 1]² as the PDE tutorials set it up (a smaller mesh): LBFGS with
    pykan's 1e-32 tolerances on α·|Δu − f|² + |u − g|²_boundary, grid updates between steps."""
    torch.manual_seed(0)
    model = KAN(width=[2, 2, 1], grid=5, k=3, seed=1)
    sol = lambda x: torch.sin(torch.pi * x[:, [0]]) * torch.sin(torch.pi * x[:, [1]])  # noqa: E731
    source = lambda x: -2 * torch.pi**2 * sol(x)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    x_i = torch.rand(100, 2, generator=g) * 2 - 1
    edge = torch.linspace(-1, 1, 11)
    x_b = torch.cat(
        [torch.stack([edge, torch.full_like(edge, s)], 1) for s in (-1.0, 1.0)]
        + [torch.stack([torch.full_like(edge, s), edge], 1) for s in (-1.0, 1.0)]
    )
    opt = LBFGS(
        model.parameters(),
        lr=1,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-32,
        tolerance_change=1e-32,
        tolerance_ys=1e-32,
    )

    def pde_loss():
        d1 = lambda x: batch_jacobian(model, x, create_graph=True)[:, 0, :]  # noqa: E731
        d2 = batch_jacobian(d1, x_i, create_graph=True)
        lap = torch.diagonal(d2, dim1=1, dim2=2).sum(1, keepdim=True)
        return 0.01 * torch.mean((lap - source(x_i)) ** 2) + torch.mean(
            (model(x_b) - sol(x_b)) ** 2
        )

    def closure():
        opt.zero_grad()
        loss = pde_loss()
        loss.backward()
        return loss

    start = pde_loss().item()
    for step in range(6):
        if step % 3 == 0:  # (the tutorials: every 5 steps)
            model.update_grid_from_samples(x_i)
        opt.step(closure)
    assert pde_loss().item() < 0.5 * start


def test_a_scheduler_changes_the_learning_rate_it_uses():
    p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt = LBFGS([p], lr=0.5, history_size=10, tolerance_ys=1e-10)
    torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5).step()  # lr 0.25
    ref = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    opt_ref = torch.optim.LBFGS([ref], lr=0.25, history_size=10)
    opt.step(rosenbrock(p, opt))
    opt_ref.step(rosenbrock(ref, opt_ref))
    assert opt.param_groups[0]["lr"] == 0.25
    assert torch.allclose(p.detach(), ref.detach(), atol=1e-9)
