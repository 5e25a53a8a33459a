"""pykan's spline functions by their names and shapes (``B_batch``, ``extend_grid``,
``coef2curve``, ``curve2coef``), and grids placed as pykan places them."""

import pytest
import torch

from kan_core import KAN, B_batch, coef2curve, curve2coef, extend_grid


def scalar_basis(x: float, t: list[float], i: int, k: int) -> float:
    """Cox–de Boor for one basis at one point (half-open intervals; 0/0 := 0)."""
    if k == 0:
        return 1.0 if t[i] <= x < t[i + 1] else 0.0
    left = right = 0.0
    if t[i + k] > t[i]:
        left = (x - t[i]) / (t[i + k] - t[i]) * scalar_basis(x, t, i, k - 1)
    if t[i + k + 1] > t[i + 1]:
        right = (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1]) * scalar_basis(x, t, i + 1, k - 1)
    return left + right


def test_extend_grid_by_the_mean_spacing():
    interior = torch.tensor([[-1.0, -0.8, 0.1, 1.0], [0.0, 1.0, 2.0, 3.0]])
    out = extend_grid(interior, k_extend=2)
    assert out.shape == (2, 8)
    h = (interior[:, -1] - interior[:, 0]) / 3  # (t_G − t_0) / G, not the end intervals
    expected_0 = [-1 - 2 * h[0], -1 - h[0], -1.0, -0.8, 0.1, 1.0, 1 + h[0], 1 + 2 * h[0]]
    assert torch.allclose(out[0], torch.tensor(expected_0))
    assert torch.allclose(out[1], torch.arange(-2.0, 6.0))  # uniform: the spacing itself
    assert torch.equal(extend_grid(interior), interior)  # pykan's default k_extend=0


@pytest.mark.parametrize("k", [0, 1, 3])
def test_b_batch_values_and_shape_as_in_the_grid_tutorial(k):
    G = 5
    grid = extend_grid(torch.linspace(-1, 1, steps=G + 1)[None, :], k_extend=k)
    x = torch.linspace(-1, 0.999, steps=101)[None, :]  # (1, 101): one grid row for 101 "inputs"
    basis = B_batch(x, grid, k=k)
    assert basis.shape == (1, 101, G + k)
    t = grid[0].tolist()
    for n in (0, 37, 100):
        ref = [scalar_basis(float(x[0, n]), t, i, k) for i in range(G + k)]
        assert torch.allclose(basis[0, n], torch.tensor(ref), atol=1e-6)
    assert torch.allclose(basis.sum(-1), torch.ones(1, 101), atol=1e-6)  # partition of unity


def test_b_batch_per_input_grids_and_bad_shapes():
    grid = torch.stack([torch.linspace(-2, 2, 12), torch.linspace(0, 1, 12)])
    x = torch.tensor([[0.3, 0.5], [-1.0, 0.9]])
    out = B_batch(x, grid, k=2)
    assert out.shape == (2, 2, 9)
    assert out[1, 0].sum() == pytest.approx(1.0, abs=1e-6)
    ref = [scalar_basis(0.5, grid[1].tolist(), i, 2) for i in range(9)]
    assert torch.allclose(out[0, 1], torch.tensor(ref), atol=1e-6)
    with pytest.raises(ValueError, match="B_batch"):
        B_batch(torch.zeros(3), grid, k=2)


def test_coef2curve_and_curve2coef_round_trip():
    g = torch.Generator().manual_seed(0)
    grid = extend_grid(torch.linspace(-1, 1, 8)[None].expand(2, -1), k_extend=3)
    coef = torch.randn(2, 3, 10, generator=g, dtype=torch.float64)
    x = torch.rand(400, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = coef2curve(x, grid.double(), coef, k=3)
    assert y.shape == (400, 2, 3)
    manual = torch.einsum("bik,iok->bio", B_batch(x, grid.double(), k=3), coef)
    assert torch.allclose(y, manual)
    back = curve2coef(x, y, grid.double(), k=3)
    assert back.shape == (2, 3, 10)
    assert torch.allclose(back, coef, atol=1e-5)


def test_grid_update_places_interior_knots_as_pykan():
    """update_grid_from_samples: interior knots from the samples (grid_eps mixes quantiles and
    uniform), as pykan's; the outer knots continue the end intervals (pykan: the mean spacing,
    ``extend_grid``; see docs/porting_pykan.md)."""
    model = KAN(width=[1, 1], grid=5, k=3, grid_eps=0.0)
    x = torch.normal(0, 1, size=(1000, 1), generator=torch.Generator().manual_seed(0))
    model.update_grid_from_samples(x)
    grid = model.layers[0].grid[0]
    xs = x[:, 0].sort().values
    ids = [int(1000 / 5 * i) for i in range(5)] + [-1]
    assert torch.allclose(grid[3:-3], xs[ids])  # quantiles (grid_eps = 0)
    h_lo, h_hi = xs[ids[1]] - xs[0], xs[-1] - xs[ids[-2]]
    assert torch.allclose(grid[:3], xs[0] - h_lo * torch.tensor([3.0, 2.0, 1.0]), atol=1e-6)
    assert torch.allclose(grid[-3:], xs[-1] + h_hi * torch.tensor([1.0, 2.0, 3.0]), atol=1e-6)
    wide = KAN(width=[1, 1], grid=5, k=3)
    wide.update_grid_from_samples(torch.linspace(-10, 10, 1001)[:, None])
    assert torch.allclose(wide.layers[0].grid[0], torch.linspace(-22, 22, 12), atol=1e-4)
