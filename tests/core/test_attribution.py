"""KAN 2.0 attribution (kan_core.attribution) against pykan 0.2.8's numbers on the same weights
(bench/make_pykan_attribution_fixtures.py saved them), plus a plain per-edge reference."""

from pathlib import Path

import pytest
import torch

from kan_core import KAN
from kan_core.attribution import attribute, attribute_all, feature_interaction, prune_input

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_attribution.pt"
CASES = torch.load(FIXTURE, weights_only=True)
CLOSE = {"rtol": 1e-4, "atol": 1e-6}


def _from_pykan(case: dict) -> KAN:
    m = KAN(width=case["width"], mult_arity=case["mult_arity"], grid=5, k=3, seed=0)
    with torch.no_grad():
        for layer, t in zip(m.layers, case["layers"], strict=True):
            for name in ("grid", "mask", "coef", "scale_base", "scale_sp"):
                getattr(layer, name).copy_(t[name])
            layer.invalidate()
    m.set_reference_input(case["x"])
    return m


@pytest.mark.parametrize("k", range(len(CASES)))
def test_attribute_matches_pykan(k):
    case = CASES[k]
    m = _from_pykan(case)
    nodes, edges = attribute(m)
    assert [e.shape for e in edges] == [e.shape for e in case["edge_scores"]]  # (out, in)
    for got, want in zip(nodes, case["node_scores"], strict=True):
        torch.testing.assert_close(got, want, **CLOSE)
    for got, want in zip(edges, case["edge_scores"], strict=True):
        torch.testing.assert_close(got, want, **CLOSE)
    # the method keeps pykan's per-output scores on the model
    assert m.attribute(x=case["x"])[0][0].shape == (m.width_in[0],)
    torch.testing.assert_close(m.node_scores_all[0], case["per_output_inputs"], **CLOSE)
    if case["layers"][0]["mask"].min() == 0:  # a masked edge scores exactly 0
        assert (edges[0].T[case["layers"][0]["mask"] == 0] == 0).all()


@pytest.mark.parametrize("k", [k for k, c in enumerate(CASES) if "neuron" in c])
def test_neuron_attribution_and_feature_interaction_match_pykan(k):
    case = CASES[k]
    m = _from_pykan(case)
    for l, want in enumerate(case["neuron"], start=1):
        got = m.attribute(l)
        assert got.shape == (m.width_in[l], m.width_in[0])
        torch.testing.assert_close(got, want, **CLOSE)
    torch.testing.assert_close(m.attribute(1, 0), case["neuron_row"], **CLOSE)
    got = m.feature_interaction(1, neuron_th=1e-2, feature_th=5e-2)
    assert sorted((list(key), v) for key, v in got.items()) == case["interaction"]
    assert [s.shape for s in m.node_attribute()] == [w.shape for w in case["neuron"]]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_prune_input_keeps_pykans_inputs_and_function(k):
    case = CASES[k]
    m = _from_pykan(case)
    small = m.prune_input(threshold=case["prune_threshold"])
    assert small.input_id.tolist() == case["kept"]
    assert small.width_in[0] == len(case["kept"]) < m.width_in[0]
    x = case["x"]
    with torch.no_grad():  # pykan's pruned model reads the original inputs; ours the kept ones too
        torch.testing.assert_close(small(x), case["pruned_y"], **CLOSE)
        torch.testing.assert_close(small(x[:, case["kept"]]), case["pruned_y"], **CLOSE)
    assert m.width_in[0] == x.shape[1]  # the original is untouched


def test_prune_input_by_hand_and_bad_requests():
    m = _from_pykan(CASES[0])
    small = m.prune_input(active_inputs=[2, 0])
    assert small.input_id.tolist() == [2, 0] and small.width == [2, 5, 1]
    again = small.prune_input(active_inputs=[1])  # ids stay columns of the original input
    assert again.input_id.tolist() == [0] and again.input_width == 3
    x = CASES[0]["x"]
    with torch.no_grad():
        torch.testing.assert_close(again(x), again(x[:, :1]))
        assert small(x).shape == (x.shape[0], 1)
    with pytest.raises(ValueError, match="input must be"):
        small(x[:, :1])
    with pytest.raises(IndexError, match="out of range"):
        m.prune_input(active_inputs=[0, 3])
    with pytest.raises(ValueError, match="no input"):
        prune_input(m, threshold=1e9)
    with pytest.raises(IndexError, match="out of range"):
        m.attribute(5)
    with pytest.raises(ValueError, match="out_score"):
        attribute_all(m, out_score=[1.0, 2.0])


def test_attribution_by_a_plain_loop_with_a_symbolic_edge():
    """Edge by edge from the activations, with no vectorised propagation."""
    gen = torch.Generator().manual_seed(4)
    m = KAN(width=[2, 3, 2], grid=5, k=3, seed=1)
    x = torch.rand(300, 2, generator=gen) * 2 - 1
    m.set_reference_input(x)
    m.fix_symbolic(0, 1, 2, "sin")
    m.prune_edge(1, 0, 1)
    acts = m.activations(x)  # (batch, in, out) per layer
    hs = m.layer_inputs(x)
    score = [1.0 / 2, 1.0 / 2]  # mean over the two outputs
    want_edges = []
    for l in (1, 0):
        n_in, n_out = m.width_in[l], m.width_in[l + 1]
        e = torch.zeros(n_out, n_in)
        for i in range(n_in):
            for j in range(n_out):
                e[j, i] = acts[l][:, i, j].std() * score[j] / (hs[l + 1][:, j].std() + 1e-4)
        want_edges.insert(0, e)
        score = [float(e[:, i].sum()) for i in range(n_in)]
    nodes, edges = attribute(m)
    for got, want in zip(edges, want_edges, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(nodes[0], torch.tensor(score), rtol=1e-5, atol=1e-7)
    assert edges[1][1, 0] == 0 and edges[0][2, 1] > 0  # pruned: 0; symbolic: scored
    # kan_core's prune scores start from 1 per output: the same propagation, twice as large here
    torch.testing.assert_close(m.node_scores()[0] / 2, nodes[0], rtol=1e-5, atol=1e-7)


def test_feature_interaction_thresholds():
    m = _from_pykan(CASES[0])
    assert feature_interaction(m, 1, neuron_th=1e9) == {}
    every = feature_interaction(m, 1, neuron_th=0.0, feature_th=0.0)
    assert every == {(0, 1, 2): 4, (0, 1): 1}  # node 1 lost input 2: edge (0, 2, 1) is masked


def test_a_model_after_prune_input_trains_on_the_original_dataset():
    m = _from_pykan(CASES[0])
    small = m.prune_input(active_inputs=[0, 2])
    x = CASES[0]["x"]
    y = (x[:, :1] ** 2 + 0.5 * x[:, 2:]).clone()
    full = {"train_input": x, "train_label": y, "test_input": x[:50], "test_label": y[:50]}
    kept = {**full, "train_input": x[:, [0, 2]], "test_input": x[:50, [0, 2]]}
    a, b = small.copy(), small.copy()
    ha, hb = a.fit(full, steps=2), b.fit(kept, steps=2)
    assert ha["diverged"] == [] and len(ha["train_loss"]) == 2
    assert [float(v) for v in ha["train_loss"]] == [float(v) for v in hb["train_loss"]]
