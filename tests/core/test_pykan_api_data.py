"""pykan's datasets (``create_dataset`` modes and normalisation, ``create_dataset_from_data``),
pruning by threshold (``prune_node(threshold=…)``, ``prune_edge(threshold=…)``, manual node
lists) and the names ``from kan_core import *`` gives, as pykan's star import does."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from kan_core import KAN, create_dataset, create_dataset_from_data


def test_row_mode_passes_variables_first():
    col = create_dataset(lambda x: x[:, [0]] * x[:, [1]], n_var=2, seed=3)
    row = create_dataset(lambda x: x[0] * x[1], n_var=2, f_mode="row", seed=3)
    positional = create_dataset(lambda x: x[0] * x[1], 2, "row", seed=3)  # pykan's order
    for ds in (row, positional):
        assert ds["train_label"].shape == (1000, 1)
        torch.testing.assert_close(ds["train_label"], col["train_label"])
    with pytest.raises(ValueError, match="f_mode must be"):
        create_dataset(lambda x: x, n_var=1, f_mode="diag")


def test_normalize_input_and_label_use_the_training_split():
    raw = create_dataset(lambda x: 3 * x[:, :1] + 5, n_var=2, ranges=[0, 4], seed=1)
    ds = create_dataset(
        lambda x: 3 * x[:, :1] + 5,
        n_var=2,
        ranges=[0, 4],
        seed=1,
        normalize_input=True,
        normalize_label=True,
    )
    for part in ("input", "label"):
        tr = ds[f"train_{part}"]
        torch.testing.assert_close(tr.mean(0), torch.zeros(tr.shape[1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(tr.std(0), torch.ones(tr.shape[1]), atol=1e-5, rtol=0)
        mean, std = raw[f"train_{part}"].mean(0), raw[f"train_{part}"].std(0)
        torch.testing.assert_close(ds[f"test_{part}"], (raw[f"test_{part}"] - mean) / std)


def test_create_dataset_from_data_splits_every_row_once():
    x = torch.arange(200.0).reshape(100, 2)
    y = x[:, :1] * 10
    ds = create_dataset_from_data(x, y, train_ratio=0.7, device="cpu", seed=0)
    assert ds["train_input"].shape == (70, 2) and ds["test_input"].shape == (30, 2)
    rows = torch.cat([ds["train_input"][:, 0], ds["test_input"][:, 0]]).sort().values
    assert torch.equal(rows, x[:, 0])
    torch.testing.assert_close(ds["train_label"], ds["train_input"][:, :1] * 10)
    again = create_dataset_from_data(x, y, train_ratio=0.7, seed=0)
    assert torch.equal(again["test_input"], ds["test_input"])
    np.random.seed(5)  # pykan's default: NumPy's global state
    assert create_dataset_from_data(x, y)["train_input"].shape == (80, 2)
    with pytest.raises(ValueError, match="same n"):
        create_dataset_from_data(x, y[:50])
    with pytest.raises(ValueError, match="train_ratio"):
        create_dataset_from_data(x, y, train_ratio=1.5)


def _trained():
    ds = create_dataset(
        lambda x: torch.sin(torch.pi * x[:, :1]), n_var=2, train_num=200, test_num=50, seed=0
    )
    m = KAN([2, 5, 1], seed=0, auto_save=False)
    m.fit(ds, steps=10, lamb=0.01)
    return m, ds


def test_prune_node_and_prune_edge_by_threshold():
    m, ds = _trained()
    scores = m.node_scores()[1]
    th = float(scores.sort().values[2]) + 1e-9  # three hidden nodes below it
    pruned = m.prune_node(threshold=th)
    assert pruned.width == [2, 2, 1] and m.width == [2, 5, 1]  # a copy, as pykan's
    assert m.prune_node(th).width == [2, 2, 1]  # positional, as pykan's first argument
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        m.prune_node(threshold=float("nan"))
    with pytest.raises(IndexError, match="layer 1 has 5 nodes"):
        m.prune_node(active_neurons_id=[[7]])
    kept = m.prune_node(active_neurons_id=[[0, 3]])
    assert kept.width == [2, 2, 1]
    torch.testing.assert_close(kept.layers[0].coef, m.layers[0].coef[:, [0, 3]])

    edge = m.edge_scores()
    th_e = float(torch.cat([e.flatten() for e in edge]).median())
    assert m.prune_edge(threshold=th_e) is None  # in place, as pykan's
    for layer, e in zip(m.layers, edge, strict=True):
        assert torch.equal(layer.mask > 0, e >= th_e)
    i = int(m.layers[1].mask[:, 0].nonzero()[0])  # a live edge of the last layer
    assert isinstance(m.prune_edge(1, i, 0), list)  # kan_core's one-edge form still works
    assert m.layers[1].mask[i, 0] == 0


def test_star_import_gives_pykans_tutorial_names():
    """(One subprocess: a fresh interpreter, where ``import kan_core`` must not have imported
    matplotlib before the star import asks for plt.)"""
    code = (
        "import sys\n"
        "import kan_core\n"
        "print('matplotlib' in sys.modules)\n"
        "from kan_core import *\n"
        "x = torch.linspace(0, 1, 5); a = np.arange(3); layer = nn.Linear(2, 2)\n"
        "s = symbols('x_1'); e = nsimplify(sympy.Float(0.5) * exp(s) + sin(pi * s))\n"
        "assert str(e) == 'exp(x_1)/2 + sin(pi*x_1)'\n"
        "assert KAN is MultKAN and callable(create_dataset_from_data) and callable(ex_round)\n"
        "from importlib.util import find_spec\n"
        "assert find_spec('matplotlib') is None or plt.__name__ == 'matplotlib.pyplot'\n"
        "assert find_spec('tqdm') is None or list(tqdm(range(2), disable=True)) == [0, 1]\n"
        "assert callable(batch_jacobian) and callable(batch_hessian) and callable(model2param)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "ok"]
