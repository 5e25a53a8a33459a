"""Model behaviour: forward vs per-edge sum, regulariser vs a direct computation, refine, prune,
save/load, curves."""

import pytest
import torch

from kan_core import KAN, create_dataset
from kan_core.train import regularization


def toy(seed=0, n=300):
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2)  # noqa: E731
    return create_dataset(f, 2, (-1, 1), n, n, seed)


def test_forward_equals_sum_of_edge_activations():
    m = KAN([3, 4, 2], seed=0)
    x = torch.rand(50, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    h = x
    for layer in m.layers:
        h = layer.edge_activations(h).sum(1)
    assert torch.allclose(m(x), h, atol=1e-5)


def test_fast_regulariser_matches_direct_std_of_edge_activations():
    m = KAN([3, 4, 2], seed=0)
    x = torch.rand(200, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1
    _, scales = m.forward_with_reg(x)
    h = x
    for layer, s in zip(m.layers, scales, strict=True):
        direct = layer.edge_activations(h).std(0) / (h.std(0) + 0.1).unsqueeze(1)
        assert torch.allclose(s, direct, atol=1e-4, rtol=1e-3)
        h = layer(h)
    # pykan's formula: L1 + entropy over rows and columns
    s = scales[0]
    p_row, p_col = s / (s.sum(1, keepdim=True) + 1), s / (s.sum(0, keepdim=True) + 1)
    ent = (
        -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
        - (p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
    )
    assert torch.allclose(regularization([s], 1.0, 2.0), s.sum() + 2 * ent)


def test_width_argument_is_not_mutated_and_seed_is_reproducible():
    w = [2, 3, 1]
    a, b = KAN(w, seed=5), KAN(w, seed=5)
    assert w == [2, 3, 1]
    x = torch.rand(10, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), KAN(w, seed=6)(x))


def smooth_layer(generator_seed=0):
    """A 2→3 layer whose splines are smooth functions (sin, x², tanh)."""
    from kan_core.spline import curve_to_coef

    m = KAN([2, 3, 1], seed=generator_seed)
    layer = m.layers[0]
    xs = torch.linspace(-1, 1, 200).unsqueeze(1).repeat(1, 2)
    ys = torch.stack([torch.sin(2 * xs), xs**2, torch.tanh(3 * xs)], dim=-1)
    with torch.no_grad():
        layer.coef.copy_(curve_to_coef(xs, ys, layer.grid, layer.k))
    return m, layer


def test_update_grid_adapts_to_data_and_keeps_the_function():
    m, layer = smooth_layer()
    x = torch.rand(400, 2, generator=torch.Generator().manual_seed(0)) * 1.3 - 0.5  # [-0.5, 0.8]
    before = layer.spline_values(x)
    layer.update_grid(x)
    k = layer.k
    assert torch.allclose(layer.grid[:, k], x.min(0).values, atol=1e-3)
    assert torch.allclose(layer.grid[:, -k - 1], x.max(0).values, atol=1e-3)
    assert (layer.spline_values(x) - before).abs().max() < 1e-2


def test_refine_preserves_the_function():
    ds = toy()
    m = KAN([2, 3, 1], seed=0)
    m.fit(ds, steps=20)
    x = ds["train_input"]
    m.update_grid(x)  # data inside every grid: the nested refinements are exact
    for new_grid, tol in ((10, 1e-4), (20, 1e-4), (7, 5e-2)):  # nested grids are exact
        fine = m.refine(new_grid)
        assert fine.grid == new_grid and fine.layers[0].coef.shape[-1] == new_grid + 3
        err = (fine(x) - m(x)).abs().max() / m(x).std()
        assert err < tol, (new_grid, err)


def test_save_load_round_trip_is_bit_exact(tmp_path):
    ds = toy()
    m = KAN([2, 3, 1], seed=0)
    m.fit(ds, steps=3)
    m = m.refine(7)
    m.prune_edge(0, 1, 2)
    m.fix_symbolic(0, 0, 0, "sin")
    path = tmp_path / "m.kan"
    m.save(path)
    back = KAN.load(path)
    x = ds["test_input"]
    assert torch.equal(back(x), m(x))
    assert back.width == m.width and back.grid == 7
    assert back.edge_state(0, 1, 2) == "pruned" and back.edge_state(0, 0, 0) == "symbolic"
    assert KAN.from_bytes(m.to_bytes()).layers[0].sym_funs == {(0, 0): "sin"}


def test_state_dict_names_each_parameter_although_a_layer_packs_them_in_one_tensor():
    """The file format (and stored sessions) name coef / scale_base / scale_sp / affine; the
    layer keeps them in one trainable tensor, and loading writes through to it."""
    import pytest

    m, other = KAN([2, 3, 1], seed=0), KAN([2, 3, 1], seed=5)
    sd = m.state_dict()
    layer_keys = {k.split(".", 2)[2] for k in sd if k.startswith("layers.0.")}
    assert layer_keys == {"grid", "mask", "sym_mask", "coef", "scale_base", "scale_sp", "affine"}
    assert [n for n, _ in m.named_parameters()] == ["layers.0.packed", "layers.1.packed"]
    assert sd["layers.0.coef"].shape == (2, 3, 8) and sd["layers.0.affine"].shape == (2, 3, 4)
    packed_before = other.layers[0].packed
    other.load_state_dict(sd)
    assert other.layers[0].packed is packed_before  # loaded in place: optimisers keep it
    for name in ("coef", "scale_base", "scale_sp", "affine"):
        assert torch.equal(getattr(other.layers[0], name), getattr(m.layers[0], name)), name
    bad = dict(sd, **{"layers.0.scale_sp": torch.zeros(5, 5)})
    with pytest.raises(RuntimeError, match="layers.0.*do not fit"):
        other.load_state_dict(bad)
    assert torch.equal(other.layers[0].coef, m.layers[0].coef)  # left as it was


def test_files_written_before_parameters_were_packed_still_load():
    """``fixtures/format1_model.kan`` was saved by session 3's code (four parameters per layer):
    stored sessions must keep loading, with the same function, grid, pruned and symbolic edges."""
    from pathlib import Path

    data = Path(__file__).parent / "fixtures"
    m = KAN.load(data / "format1_model.kan")
    ref = torch.load(data / "format1_outputs.torch", weights_only=True)
    assert m.width == [2, 3, 1] and m.grid == 7
    assert m.edge_state(0, 1, 2) == "pruned" and m.edge_state(0, 0, 0) == "symbolic"
    assert torch.allclose(m(ref["x"]), ref["y"], atol=1e-5)


def test_load_refuses_garbage(tmp_path):
    import pytest

    p = tmp_path / "bad.kan"
    p.write_bytes(b"not a model")
    with pytest.raises(ValueError):
        KAN.load(p)


def test_edge_curves_shapes_and_values():
    m = KAN([2, 3, 1], seed=0)
    curves = m.edge_curves(n=16)
    assert [c[1].shape for c in curves] == [(16, 2, 3), (16, 3, 1)]
    xs, ys = curves[0]
    col = torch.zeros(16, 2)
    col[:, 1] = xs[:, 1]
    assert torch.allclose(ys[:, 1, 2], m.layers[0].edge_activations(col)[:, 1, 2])
    detail = m.edge_curve(0, 1, 2, n=32, x=torch.rand(100, 2))
    assert len(detail["x"]) == 32 and len(detail["knots"]) == 6 and detail["state"] == "active"
    assert 0 <= detail["data_range"][0] <= detail["data_range"][1] <= 1


def test_node_state_and_symbolic_fit_accessor():
    m = KAN([2, 2, 1], seed=0)
    m.set_reference_input(torch.rand(100, 2) * 2 - 1)
    assert m.node_state(1, 0) == "active"
    m.prune_node(1, 0)
    assert m.node_state(1, 0) == "pruned" and m.node_state(1, 1) == "active"
    assert m.symbolic_fit(0, 0, 1) is None
    fit = m.fix_symbolic(0, 0, 1, "x^2")
    got = m.symbolic_fit(0, 0, 1)
    assert got.name == "x^2" and got.r2 == fit.r2 and got.a == fit.a
    back = KAN.from_bytes(m.to_bytes())
    assert back.symbolic_fit(0, 0, 1).r2 == fit.r2


def test_bad_widths_are_refused_with_a_clear_error():
    import numpy as np
    import pytest

    bad_widths = ([2], [2, 0], [2, 1.5], [2, True], [2, [1, -1], 1], [2, [0, 0], 1], [2, [1], 1])
    for bad in bad_widths:
        with pytest.raises(ValueError, match="width"):
            KAN(bad)
    with pytest.raises(ValueError, match="mult nodes are hidden"):
        KAN([[2, 1], 3, 1])
    with pytest.raises(ValueError, match="mult_arity"):
        KAN([2, [1, 2], 1], mult_arity=1)
    assert KAN([np.int64(2), np.int64(1)]).width == [2, 1]
    assert KAN([[2, 0], [1, 0]]).width == [[2, 0], [1, 0]]  # pykan's nested form is kept


def test_an_input_of_the_wrong_shape_is_refused_by_name():
    m = KAN(width=[2, 3, 1], seed=0)
    for bad in (torch.rand(10, 3), torch.rand(10), torch.rand(4, 2, 1)):
        for grad in (False, True):
            with torch.set_grad_enabled(grad), pytest.raises(ValueError, match=r"\(batch, 2\)"):
                m(bad)
    assert m(torch.rand(0, 2)).shape == (0, 1)


def test_data_and_grid_arguments_of_the_wrong_kind_are_refused_by_name():
    m = KAN(width=[2, 3, 1], seed=0)
    x = torch.rand(50, 2)
    for call in (
        lambda: m.update_grid(torch.rand(10, 3)),
        lambda: m.update_grid(torch.rand(10)),
        lambda: m.prune(x=torch.rand(10, 3)),
        lambda: m.set_reference_input(torch.rand(10, 3)),
    ):
        with pytest.raises(ValueError, match=r"\(batch, 2\)"):
            call()
    for grid in (2.5, "10", 0, 1001):
        with pytest.raises(ValueError, match="grid must be"):
            m.refine(grid, x=x)
    assert m.refine(10, x=x).grid == 10
