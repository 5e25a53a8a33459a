"""model.tree() (kan_core.hypothesis): modules found from gradients on functions whose
structure is known, and the same through a KAN that computes one (kanpiler)."""

import pytest
import sympy
import torch

from kan_core import kanpiler
from kan_core.hypothesis import tree

GEN = torch.Generator().manual_seed(0)


def test_nested_pairs_group_level_by_level():
    def f(x):
        pairs = (x[:, [0]] ** 2 + x[:, [1]] ** 2) ** 2 + (x[:, [2]] ** 2 + x[:, [3]] ** 2) ** 2
        return pairs**2

    t = tree(f, torch.randn(100, 4, generator=GEN), skip_sep_test=True)
    assert t.levels == [[[0], [1], [2], [3]], [[0, 1], [2, 3]], [[0, 1, 2, 3]]]
    assert t.arities == [[2, 2], [2]]


@pytest.mark.parametrize(
    ("f", "prop"),
    [
        (lambda x: x[:, [0]] ** 2 * (x[:, [1]] + x[:, [2]]), "Mul"),
        (lambda x: torch.sin(x[:, [0]]) + torch.exp(x[:, [1]] * x[:, [2]]), "Add"),
    ],
)
def test_top_split_is_labelled(f, prop):
    t = tree(f, torch.randn(100, 3, generator=GEN))
    assert t.levels[1] == [[0], [1, 2]] and t.properties == [["Id", ""], [prop]]


def test_tree_of_a_kan_computing_a_known_structure():
    a, b, c = sympy.symbols("a b c")
    model = kanpiler([a, b, c], sympy.sin(a) + sympy.exp(b * c))
    x = torch.rand(100, 3, generator=GEN) * 2 - 1
    model(x)  # pykan's tree reads the last forward's data
    t = model.tree(in_var=[a, b, c])
    assert t.levels[1] == [[0], [1, 2]] and t.properties[-1] == ["Add"]
    pytest.importorskip("matplotlib")
    texts = [tx.get_text() for tx in t.figure.axes[0].texts]
    assert {"$a$", "$b$", "$c$", "Add"} <= set(texts)
    with pytest.raises(ValueError, match="style"):
        model.tree(style="forest")


def test_tree_of_an_mlp():
    from kan_core import MLP

    m = MLP([3, 4, 1], seed=0)
    x = torch.rand(60, 3, generator=GEN)
    with pytest.raises(ValueError, match="missing input"):
        m.tree()
    m(x)
    t = m.tree(skip_sep_test=True)
    assert t.levels[0] == [[0], [1], [2]] and t.levels[-1] == [[0, 1, 2]]
