"""B-spline basis against an independent scalar Cox–de Boor oracle, and its derivative."""

import torch

from kan_core.spline import b_spline_basis, curve_to_coef, extend_grid_ends, uniform_grid


def cox_de_boor(x: float, t: list[float], i: int, p: int) -> float:
    """Textbook recursion, one basis function at one point (0/0 := 0)."""
    if p == 0:
        return 1.0 if t[i] <= x < t[i + 1] else 0.0
    left = right = 0.0
    if t[i + p] != t[i]:
        left = (x - t[i]) / (t[i + p] - t[i]) * cox_de_boor(x, t, i, p - 1)
    if t[i + p + 1] != t[i + 1]:
        right = (t[i + p + 1] - x) / (t[i + p + 1] - t[i + 1]) * cox_de_boor(x, t, i + 1, p - 1)
    return left + right


def random_grid(n_in, num, k, gen):
    """Non-uniform increasing interior knots, extended by k on each side."""
    steps = torch.rand(n_in, num, generator=gen) + 0.2
    interior = torch.cat([torch.zeros(n_in, 1), steps.cumsum(1)], 1) - 1.0
    return extend_grid_ends(interior, k)


def test_basis_matches_scalar_oracle_on_nonuniform_grid():
    gen = torch.Generator().manual_seed(0)
    for k in (1, 2, 3):
        grid = random_grid(3, 6, k, gen).double()
        x = (torch.rand(40, 3, generator=gen, dtype=torch.float64) * 5) - 2.5
        got = b_spline_basis(x, grid, k)
        for b in range(x.shape[0]):
            for i in range(3):
                t = grid[i].tolist()
                want = [cox_de_boor(float(x[b, i]), t, m, k) for m in range(len(t) - 1 - k)]
                assert torch.allclose(got[b, i], torch.tensor(want, dtype=got.dtype), atol=1e-12)


def test_basis_matches_oracle_at_the_knots_and_on_repeated_knots():
    """Exactly at knots (half-open intervals), and on a grid with a repeated knot (which takes
    the general recursion rather than the order-1 shortcut)."""
    gen = torch.Generator().manual_seed(5)
    strict = random_grid(1, 5, 3, gen).double()
    repeated = strict.clone()
    repeated[0, 5] = repeated[0, 4]
    for grid in (strict, repeated):
        for k in (1, 2, 3):
            g = grid[:, 3 - k : grid.shape[1] - (3 - k)] if k < 3 else grid
            t = g[0].tolist()
            x = torch.tensor(
                t + [(a + b) / 2 for a, b in zip(t[:-1], t[1:], strict=True)], dtype=torch.float64
            )
            got = b_spline_basis(x.unsqueeze(1), g, k)[:, 0]
            for b, xv in enumerate(x.tolist()):
                want = [cox_de_boor(xv, t, m, k) for m in range(len(t) - 1 - k)]
                assert torch.allclose(got[b], torch.tensor(want, dtype=got.dtype), atol=1e-12)


def test_partition_of_unity_inside_the_grid():
    gen = torch.Generator().manual_seed(1)
    grid = random_grid(4, 7, 3, gen)
    k = 3
    lo, hi = grid[:, k], grid[:, -k - 1]
    x = lo + (hi - lo) * torch.rand(500, 4, generator=gen) * 0.999
    sums = b_spline_basis(x, grid, k).sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def test_basis_is_zero_outside_the_extended_grid():
    grid = uniform_grid(1, 5, -1, 1, 3)
    x = torch.tensor([[-5.0], [5.0], [float(grid[0, -1])]])
    assert b_spline_basis(x, grid, 3).abs().max() == 0


def test_derivative_in_x_matches_finite_differences():
    gen = torch.Generator().manual_seed(2)
    grid = random_grid(2, 5, 3, gen).double()
    x = (torch.rand(30, 2, generator=gen, dtype=torch.float64) * 3 - 1.5).requires_grad_()
    weights = torch.randn(30, 2, 8, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: (b_spline_basis(v, grid, 3) * weights).sum(), (x,))


def test_curve_to_coef_recovers_a_spline_exactly():
    gen = torch.Generator().manual_seed(3)
    grid = random_grid(2, 6, 3, gen)
    coef = torch.randn(2, 3, 9, generator=gen)
    lo, hi = grid[:, 3], grid[:, -4]
    x = lo + (hi - lo) * torch.rand(400, 2, generator=gen)
    y = torch.einsum("bik,iok->bio", b_spline_basis(x, grid, 3), coef)
    back = curve_to_coef(x, y, grid, 3)
    y2 = torch.einsum("bik,iok->bio", b_spline_basis(x, grid, 3), back)
    assert torch.allclose(y, y2, atol=1e-4)


def test_large_inputs_take_the_compiled_path_with_the_same_values_and_gradient(monkeypatch):
    import kan_core.spline as spline

    gen = torch.Generator().manual_seed(4)
    grid = random_grid(256, 5, 3, gen)
    x = (torch.rand(300, 256, generator=gen) * 2.4 - 1.2).requires_grad_()
    assert x.numel() >= spline.COMPILE_MIN_VALUES
    weights = torch.randn(300, 256, 8, generator=gen)
    fast = b_spline_basis(x, grid, 3)
    (gx_fast,) = torch.autograd.grad((fast * weights).sum(), x)
    assert spline._compiled.get("bases") is not None, "torch.compile failed: fell back to eager"
    assert spline._compiled.get("grad") is not None
    monkeypatch.setenv("KAN_CORE_COMPILE", "0")
    eager = b_spline_basis(x, grid, 3)
    (gx_eager,) = torch.autograd.grad((eager * weights).sum(), x)
    assert torch.allclose(fast, eager, atol=1e-6)
    assert torch.allclose(gx_fast, gx_eager, atol=1e-4, rtol=1e-5)


def torch_adaptive_grid(grid, k, x, num, grid_eps):
    """The adaptive grid written plainly in torch (what the NumPy version must reproduce)."""
    xs = torch.sort(x, dim=0).values
    n = xs.shape[0]
    adaptive = xs[[int(n / num * i) for i in range(num)] + [n - 1]].T
    lo, hi = adaptive[:, :1], adaptive[:, -1:]
    frac = torch.linspace(0, 1, num + 1, dtype=grid.dtype)
    interior = grid_eps * (lo + (hi - lo) * frac) + (1 - grid_eps) * adaptive
    old = grid[:, k : k + 1] + (grid[:, -k - 1 : -k] - grid[:, k : k + 1]) * frac
    interior = torch.where(((hi - lo) < 1e-4), old, interior)
    interior = torch.maximum(interior, torch.cummax(interior, dim=1).values)
    gaps = torch.diff(interior, dim=1).clamp_min(1e-6 * (interior[:, -1:] - interior[:, :1]))
    return extend_grid_ends(torch.cat([interior[:, :1], interior[:, :1] + gaps.cumsum(1)], 1), k)


def test_adaptive_grid_and_basis_constants_are_torchs_bits():
    """Grid updates run in NumPy for speed, in the grid's dtype: bit for bit what torch computes
    (training trajectories must not depend on it)."""
    from kan_core.spline import adaptive_grid, basis_inverses

    gen = torch.Generator().manual_seed(4)
    for trial in range(30):
        n_in = 1 + trial % 4
        grid = random_grid(n_in, 5, 3, gen)
        x = torch.rand(500, n_in, generator=gen) * 3 - 1.5
        if trial % 3 == 0:
            x[:, 0] = 0.25  # a flat input keeps its range
        if trial % 4 == 0:
            x[:300] = x[:300].round(decimals=1)  # duplicate samples
        for dtype in (torch.float32, torch.float64):
            g, xx = grid.to(dtype), x.to(dtype)
            assert torch.equal(
                adaptive_grid(g, 3, xx, 5, 0.02), torch_adaptive_grid(g, 3, xx, 5, 0.02)
            )
            consts = basis_inverses(g, 3)
            for p, (inv, neg_t_inv) in enumerate(consts["levels"], start=1):
                span = g[:, p:] - g[:, :-p]
                ref = torch.where(span > 0, 1.0 / span, torch.zeros_like(span))
                assert inv.dtype == dtype and torch.equal(inv[..., 0], ref.T)
                assert torch.equal(neg_t_inv[..., 0], (-(g[:, :-p] * ref)).T)
