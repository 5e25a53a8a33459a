"""Bad input to the library: a clear ValueError/TypeError naming the problem, raised before
anything changes — or the input just works (other dtypes, NumPy indices)."""

import math

import numpy as np
import pytest
import torch

from kan_core import KAN, create_dataset, dataset_from_formula, symbolic_formula
from kan_core.formula import to_python


def _data(n=64, seed=0):
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_inputs_of_another_dtype_are_converted():
    m, x = KAN([2, 3, 1], seed=0), _data()
    ref = m(x)
    assert torch.allclose(m(x.double()), ref)
    assert m((x * 3).round().long()).dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(m(x.double()), ref)
    m.update_grid(x.double())  # converted, not a dtype error half-way through the layers
    assert m.refine(10, x=(x * 3).round().long()).grid == 10


@pytest.mark.parametrize("bad", ["nan", "inf", "one sample", "empty"])
def test_unusable_samples_are_refused_before_anything_changes(bad):
    m, x = KAN([2, 3, 1], seed=0), _data()
    m.set_reference_input(x)
    xb = {
        "nan": torch.cat([x, torch.tensor([[math.nan, 0.0]])]),
        "inf": torch.cat([x, torch.tensor([[0.0, math.inf]])]),
        "one sample": x[:1],
        "empty": x[:0],
    }[bad]
    before = _state(m)
    for call in (
        lambda: m.update_grid(xb),
        lambda: m.refine(10, x=xb),
        lambda: m.prune(x=xb),
        lambda: m.set_reference_input(xb),
        lambda: m.edge_curve(0, 0, 0, x=xb),
    ):
        with pytest.raises(ValueError, match="NaN/inf|at least 2 samples"):
            call()
    assert _same(before, _state(m))
    assert torch.equal(m.reference_input, x)


def test_numpy_and_tensor_indices_act_as_ints():
    m = KAN([2, 3, 1], seed=0)
    m.set_reference_input(_data())
    m.fix_symbolic(np.int64(0), np.int64(1), np.int64(2), "sin")
    m.fix_symbolic(0, torch.tensor(1), 2, "x")  # the same edge, not a second key
    assert m.layers[0].sym_funs == {(1, 2): "x"}
    assert all(type(v) is int for v in next(iter(m.layers[0].sym_funs)))
    m.prune_node(np.int64(1), np.int64(0))
    assert KAN.from_bytes(m.to_bytes()).layers[0].sym_funs == {(1, 2): "x"}
    assert KAN([np.int64(2), np.int64(1)], grid=np.int64(4)).to_bytes()
    for bad in (1.0, "1", True, None):
        with pytest.raises(TypeError, match="integer index"):
            m.edge_state(0, bad, 0)


@pytest.mark.parametrize(
    "kw",
    [
        {"grid": 2.5},
        {"grid": True},
        {"k": 2.5},
        {"seed": 1.5},
        {"grid_range": (0, math.inf)},
        {"grid_range": (-1e39, 1e39)},
        {"grid_range": (0, 1, 2)},
        {"grid_range": (1, 1)},
        {"noise_scale": math.nan},
        {"grid_eps": 2.0},
        {"width": [2, 10**9, 1]},
        {"width": [3000, 3000]},
    ],
)
def test_bad_configurations_are_refused_by_name(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        KAN(**kw)


def test_refine_refuses_a_bool_grid():
    m = KAN([2, 1], seed=0)
    with pytest.raises(ValueError, match="grid must be"):
        m.refine(True, x=_data())


def test_labels_must_fit_the_model_outputs():
    ds = create_dataset(lambda x: x[:, :1] * x[:, 1:], n_var=2, train_num=50, test_num=50)
    with pytest.raises(ValueError, match="1 column.*2 output"):
        KAN([2, 3, 2], seed=0).fit(ds, steps=1)
    wide = {**ds, "train_label": ds["train_label"].repeat(1, 3)}
    with pytest.raises(ValueError, match="3 column.*1 output"):
        KAN([2, 3, 1], seed=0).fit(wide, steps=1)
    classes = {**ds, "train_label": torch.arange(50) % 3, "test_label": torch.arange(50) % 3}
    with pytest.raises(ValueError, match=r"indices must be in \[0, 1\]"):
        KAN([2, 3, 2], seed=0).fit(classes, steps=1, loss_fn=torch.nn.CrossEntropyLoss())
    h = KAN([2, 3, 3], seed=0).fit(classes, steps=2, loss_fn=torch.nn.CrossEntropyLoss())
    assert h["diverged"] == [] and len(h["train_loss"]) == 2


def test_fit_takes_integer_inputs_and_ignores_extra_dataset_entries():
    ds = create_dataset(lambda x: x[:, :1] + x[:, 1:], n_var=2, train_num=50, test_num=50)
    ints = {k: (v * 4).round().long() if "input" in k else v for k, v in ds.items()}
    h = KAN([2, 1], seed=0).fit({**ints, "name": "toy"}, steps=2)
    assert len(h["train_loss"]) == 2 and h["diverged"] == []


@pytest.mark.parametrize(
    "kw",
    [
        {"steps": math.inf},
        {"steps": -1},
        {"steps": 2.5},
        {"batch": 2.5},
        {"lbfgs_iters": 0},
        {"metrics": [3]},
        {"update_grid": "yes"},
    ],
)
def test_bad_fit_arguments_are_refused_by_name(kw):
    ds = create_dataset(lambda x: x[:, :1], n_var=2, train_num=20, test_num=20)
    m = KAN([2, 1], seed=0)
    before = _state(m)
    with pytest.raises(ValueError, match=next(iter(kw))):
        m.fit(ds, **kw)
    assert _same(before, _state(m))


def test_datasets_refuse_bad_sizes_and_take_numpy_functions():
    for kw in ({"train_num": -1}, {"test_num": 0}, {"n_var": 0}, {"seed": 0.5}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            create_dataset(lambda x: x[:, :1], **kw)
    ds = create_dataset(lambda x: np.sin(x.numpy()[:, 0]), n_var=2, train_num=10, test_num=10)
    assert ds["train_label"].shape == (10, 1) and ds["train_label"].dtype == torch.float32
    with pytest.raises(ValueError, match="mix two styles"):
        dataset_from_formula("x1 + x_2")


def test_formula_variable_names():
    m = KAN([2, 1], seed=0)
    m.set_reference_input(_data())
    m.auto_symbolic(lib=["x", "x^2"])
    with pytest.raises(ValueError, match="must differ"):
        symbolic_formula(m, ["a", "a"])
    with pytest.raises(ValueError, match="2 inputs"):
        symbolic_formula(m, ["a"])
    names = ["temp (C)", "lambda"]  # e.g. CSV columns
    exprs = symbolic_formula(m, names)
    ns: dict = {}
    exec(to_python(exprs, names), ns)  # noqa: S102 — our own generated source
    x = _data(5)
    assert torch.allclose(
        torch.tensor([ns["f"](*map(float, r))[0] for r in x]), m(x)[:, 0], atol=1e-4
    )


def test_curve_sample_counts_are_checked():
    m = KAN([2, 1], seed=0)
    for n in (-1, 1, 2.5, 10**7):
        with pytest.raises(ValueError, match="n must be"):
            m.edge_curve(0, 0, 0, n=n)
        with pytest.raises(ValueError, match="n must be"):
            m.edge_curves(n=n)
