"""Symbolic fitting on awkward inputs: dtypes, the linear family, degenerate data, bad fits and
bad arguments. Whatever is refused is refused before the model changes."""

import math

import pytest
import torch

from kan_core import KAN, SYMBOLIC_LIB, SymbolicFit, create_dataset
from kan_core import symbolic as sym
from kan_core.fitting import MIN_SAMPLES, fit_functions
from kan_core.spline import curve_to_coef


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _two_input_model():
    ds = create_dataset(
        lambda x: torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2, n_var=2, train_num=200
    )
    m = KAN([2, 3, 1], seed=0)
    m.set_reference_input(ds["train_input"])
    return m, ds["train_input"]


def _one_edge_model(curve, x):
    """A 1→1 model whose only edge is the spline of ``curve`` on ``x`` (no base branch)."""
    m = KAN([1, 1], base_fun="zero", seed=0)
    layer = m.layers[0]
    with torch.no_grad():
        layer.coef.copy_(curve_to_coef(x, curve(x).unsqueeze(-1), layer.grid, layer.k))
        layer.scale_sp.fill_(1.0)
    m.set_reference_input(x)
    return m


def _state(m):
    """Everything a symbolic edit can touch: parameters, buffers and the symbolic tables."""
    tensors = {k: v.clone() for k, v in m.state_dict().items()}
    tables = [(dict(layer.sym_funs), dict(layer.sym_r2)) for layer in m.layers]
    return tensors, tables


def _same(v, w):
    """Equal, with NaN where the other has NaN (``torch.equal`` says NaN ≠ NaN)."""
    if not v.is_floating_point():
        return torch.equal(v, w)
    return torch.equal(v.isnan(), w.isnan()) and torch.equal(v.nan_to_num(), w.nan_to_num())


def _assert_same_state(m, before):
    tensors, tables = _state(m)
    assert tensors.keys() == before[0].keys()
    for k, v in tensors.items():
        assert _same(v, before[0][k]), k
    assert tables == before[1]


# --- 1. dtypes --------------------------------------------------------------------------------
@pytest.mark.parametrize("default", [torch.float32, torch.float64])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_library_function_keeps_its_input_dtype(default, dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        z = torch.linspace(-2, 2, 41, dtype=dtype)  # includes 0: the guarded singularities
        for name, fn in SYMBOLIC_LIB.items():
            assert fn.torch_fn(z).dtype == dtype, name
    finally:
        torch.set_default_dtype(old)


def test_full_library_under_float64_default(float64_default):
    m, _ = _two_input_model()
    assert m.layers[0].affine.dtype == torch.float64
    best = m.suggest_symbolic(0, 0, 0)  # lib=None: the whole library, 1/x … 1/x^5 included
    assert best and all(math.isfinite(f.r2) for f in best)
    fits = m.auto_symbolic()
    # every edge snapped, but for those of hidden nodes the rest took over (redundant.py)
    assert set(fits) == {e for e in m.edges() if m.edge_state(*e) != "pruned"}
    assert fits and torch.isfinite(m(m.reference_input)).all()


# --- 2. the linear candidate ------------------------------------------------------------------
def test_line_with_large_offset_is_fitted_by_x():
    """A nearly constant but exactly linear edge: x fits it (before, the (a, b) search ended at
    the nearly-constant cutoff and x was refused as degenerate)."""
    xs = torch.linspace(-1, 1, 200).unsqueeze(1)
    m = _one_edge_model(lambda x: 10 + 1e-3 * x, xs)
    best = m.suggest_symbolic(0, 0, 0)
    assert best[0].name == "x" and best[0].r2 > 0.999
    fit = m.fix_symbolic(0, 0, 0, "x")
    assert (fit.a, fit.b) == (1.0, 0.0)
    assert fit.c == pytest.approx(1e-3, rel=1e-2) and fit.d == pytest.approx(10, rel=1e-4)


def test_x_is_least_squares():
    """x's c·(a·x + b) + d and R² equal an independent least-squares line, whatever the slope and
    offset (150 samples: fit_functions uses them all)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 150, generator=gen, dtype=torch.float64) * 3 + 1
    slope = torch.tensor([1.0, -2.0, 1e-3, 1e-4, 0.5, 1e-2], dtype=torch.float64).unsqueeze(1)
    offset = torch.tensor([0.0, 5.0, 10.0, -1e3, 40.0, 1.0], dtype=torch.float64).unsqueeze(1)
    noise = 0.3 * slope.abs() * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    y = offset + slope * x + noise
    a, b, c, d, r2 = fit_functions(x, y, [SYMBOLIC_LIB["x"]])["x"]
    for e in range(x.shape[0]):
        design = torch.stack([x[e], torch.ones_like(x[e])], 1)
        k, q = torch.linalg.lstsq(design, y[e].unsqueeze(1)).solution.flatten()
        resid = y[e] - (k * x[e] + q)
        want_r2 = 1 - resid.square().sum() / (y[e] - y[e].mean()).square().sum()
        assert float(c[e] * a[e]) == pytest.approx(float(k), rel=1e-8)
        assert float(c[e] * b[e] + d[e]) == pytest.approx(float(q), rel=1e-8, abs=1e-8)
        assert float(r2[e]) == pytest.approx(float(want_r2), rel=1e-8)


@pytest.mark.parametrize("dist", ["normal", "exponential"])
def test_every_function_fits_a_nearly_straight_edge(dist):
    """Every library function can imitate a gentle curve (in its most linear regime), so none is
    refused (R² = −inf). Before, the search's best point sat at the nearly-constant cutoff on its
    subsample and the re-check on all points threw it away, for most of the library."""
    gen = torch.Generator().manual_seed(0)
    u = torch.rand(4, 1000, generator=gen, dtype=torch.float64)
    x = torch.erfinv(2 * u - 1) * math.sqrt(2) if dist == "normal" else -torch.log(u)
    y = x + 0.05 * x**2
    fns = [fn for fn in SYMBOLIC_LIB.values() if fn.name != "0"]
    fits = fit_functions(x, y, fns)
    refused = {n: int((~torch.isfinite(f[4])).sum()) for n, f in fits.items()}
    assert not any(refused.values()), {n: k for n, k in refused.items() if k}


# --- 3. degenerate data -----------------------------------------------------------------------
def _bad_samples(x):
    nan = torch.full_like(x, float("nan"))
    one_inf = x.clone()
    one_inf[3, 1] = math.inf
    return {
        "none": x[:0],
        "one": x[:1],
        "two": x[:2],
        "too few": x[: MIN_SAMPLES - 1],
        "few repeated": x[:3].repeat(50, 1),
        "nan": nan,
        "one inf": one_inf,
    }


@pytest.mark.parametrize("case", list(_bad_samples(torch.zeros(20, 2))))
def test_degenerate_data_refused_before_any_change(case):
    m, x = _two_input_model()
    m.fix_symbolic(0, 1, 2, "x^2")  # a symbolic edge that must stay as it is
    bad = _bad_samples(x)[case]
    before = _state(m)
    calls = [
        lambda: m.suggest_symbolic(0, 0, 0, x=bad),
        lambda: m.fix_symbolic(0, 0, 0, "sin", x=bad),
        lambda: m.auto_symbolic(x=bad),
        # the module functions check too (the model's own input checks are not relied on)
        lambda: sym.suggest_symbolic(m, 0, 0, 0, x=bad),
        lambda: sym.fix_symbolic(m, 0, 0, 0, "sin", x=bad),
        lambda: sym.auto_symbolic(m, x=bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="samples|NaN"):
            call()
        _assert_same_state(m, before)


def test_fewest_distinct_samples_accepted():
    m, x = _two_input_model()
    assert len(m.suggest_symbolic(0, 0, 0, x=x[:MIN_SAMPLES])) > 0
    assert len(sym.auto_symbolic(m, x=x[:MIN_SAMPLES])) == len(list(m.edges()))


def test_non_finite_activation_refused_naming_the_edge():
    m, _ = _two_input_model()
    with torch.no_grad():
        m.layers[1].coef[2, 0, 0] = math.nan
    before = _state(m)
    with pytest.raises(ValueError, match=r"\(1, 2, 0\)"):
        m.auto_symbolic()
    _assert_same_state(m, before)


# --- 4. user-supplied fits --------------------------------------------------------------------
BAD_FITS = {
    "r2 None": (SymbolicFit("x", 1.0, 0.0, 1.0, 0.0, None, 1), TypeError),
    "a NaN": (SymbolicFit("x", math.nan, 0.0, 1.0, 0.0, 1.0, 1), ValueError),
    "a beyond float32": (SymbolicFit("x^5", 1e70, 0.0, 1.0, 0.0, 1.0, 3), ValueError),
    "d inf": (SymbolicFit("x", 1.0, 0.0, 1.0, math.inf, 1.0, 1), ValueError),
    "c text": (SymbolicFit("x", 1.0, 0.0, "1", 0.0, 1.0, 1), TypeError),
    "b bool": (SymbolicFit("x", 1.0, True, 1.0, 0.0, 1.0, 1), TypeError),
    "other name": (SymbolicFit("sin", 1.0, 0.0, 1.0, 0.0, 1.0, 2), ValueError),
    "a dict": ({"name": "x", "a": 1.0}, TypeError),
}


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_bad_fit_refused_before_any_change(case):
    fit, error = BAD_FITS[case]
    m, _ = _two_input_model()
    name = "x^5" if case == "a beyond float32" else "x"
    before = _state(m)
    with pytest.raises(error, match="fit"):
        m.fix_symbolic(0, 0, 0, name, fit=fit)
    _assert_same_state(m, before)
    assert m.edge_state(0, 0, 0) == "active"


def test_good_fit_used_as_given():
    m, x = _two_input_model()
    fit = SymbolicFit("sin", 2.0, 0.5, -1.5, 0.25, math.nan, 2)  # r2 NaN: "not known"
    m.fix_symbolic(0, 0, 0, "sin", fit=fit)
    got = m.symbolic_fit(0, 0, 0)
    assert (got.name, got.a, got.b, got.c, got.d) == ("sin", 2.0, 0.5, -1.5, 0.25)
    assert torch.isfinite(m(x)).all()


# --- 5. arguments -----------------------------------------------------------------------------
def test_empty_library_refused():
    m, _ = _two_input_model()
    before = _state(m)
    with pytest.raises(ValueError, match="empty"):
        m.suggest_symbolic(0, 0, 0, lib=[])
    with pytest.raises(ValueError, match="empty"):
        m.auto_symbolic(lib=[])
    _assert_same_state(m, before)


def test_one_name_is_one_name_not_its_letters():
    m, _ = _two_input_model()
    assert [f.name for f in m.suggest_symbolic(0, 0, 0, lib="sin")] == ["sin"]
    names = [f.name for f in m.suggest_symbolic(0, 0, 0, topk=50, exclude="x^2")]
    assert "x^2" not in names and "x" in names  # not {"x", "^", "2"}
    fits = m.auto_symbolic(lib=["x", "x^2"], exclude={(0, 0, 0): "x^2"})
    assert fits[(0, 0, 0)].name == "x"


def test_auto_symbolic_exclude_edges():
    m, _ = _two_input_model()
    fits = m.auto_symbolic(exclude=[(0, 0, 0), (1, 2, 0)])
    live = {e for e in m.edges() if m.edge_state(*e) != "pruned"}
    assert set(fits) == live - {(0, 0, 0), (1, 2, 0)}  # (others may be merged away)
    assert m.edge_state(0, 0, 0) == "active" and m.edge_state(1, 2, 0) == "active"


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"exclude": 3}, TypeError),
        ({"exclude": "sin"}, TypeError),
        ({"exclude": [(0, 0)]}, TypeError),
        ({"exclude": {(0, 0, 0): ["sine"]}}, ValueError),
        ({"exclude": {(0, 0, 0): None}}, TypeError),
        ({"r2_threshold": math.nan}, ValueError),
        ({"r2_threshold": "0.9"}, TypeError),
        ({"lib": ["sin", "sine"]}, ValueError),
    ],
)
def test_auto_symbolic_bad_arguments_refused(kwargs, error):
    m, _ = _two_input_model()
    before = _state(m)
    with pytest.raises(error):
        m.auto_symbolic(**kwargs)
    _assert_same_state(m, before)


@pytest.mark.parametrize(
    "kwargs,error",
    [({"topk": 0}, ValueError), ({"topk": 2.5}, TypeError), ({"exclude": ["sine"]}, ValueError)],
)
def test_suggest_symbolic_bad_arguments_refused(kwargs, error):
    m, _ = _two_input_model()
    with pytest.raises(error):
        m.suggest_symbolic(0, 0, 0, **kwargs)
