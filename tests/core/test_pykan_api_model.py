"""``KAN(...)`` with every pykan 0.2.8 constructor keyword, the initialisation ones implemented
(``scale_base_mu/sigma``, ``sparse_init``, ``sp_trainable``/``sb_trainable``), and the version
history (``auto_save``, ``rewind``) numbered as pykan numbers it (pykan's numbers from
bench/make_pykan_api_fixtures.py), kept in memory."""

import inspect
import os
from pathlib import Path

import pytest
import torch

from kan_core import KAN, create_dataset
from kan_core.pykan_state import sparse_mask

FIXTURE = Path(__file__).parent / "fixtures" / "pykan_api.pt"

# pykan 0.2.8's MultKAN.__init__ keywords and defaults (its signature, written out)
PYKAN_DEFAULTS = dict(
    width=[2, 5, 1],
    grid=3,
    k=3,
    mult_arity=2,
    noise_scale=0.3,
    scale_base_mu=0.0,
    scale_base_sigma=1.0,
    base_fun="silu",
    symbolic_enabled=True,
    affine_trainable=False,
    grid_eps=0.02,
    grid_range=[-1, 1],
    sp_trainable=True,
    sb_trainable=True,
    seed=1,
    save_act=True,
    sparse_init=False,
    auto_save=True,
    first_init=True,
    ckpt_path="./model",
    state_id=0,
    round=0,
    device="cpu",
)


def _ds(n=60):
    return create_dataset(
        lambda x: torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2, 2, train_num=n, test_num=20
    )


def test_every_pykan_keyword_at_its_default_is_accepted(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        m = KAN(**PYKAN_DEFAULTS)
    finally:
        os.chdir(cwd)
    assert list(tmp_path.iterdir()) == []  # no ./model folder, no history.txt
    assert m.auto_save and m.save_act and m.ckpt_path == "./model"
    assert (m.round, m.state_id, m.version) == (0, 0, "0.0")
    assert m.width == [2, 5, 1] and m.grid == 3
    with pytest.raises(ValueError, match="affine_trainable"):
        KAN([2, 1], affine_trainable=True)
    with pytest.raises(ValueError, match="symbolic_enabled"):
        KAN([2, 1], symbolic_enabled=False)
    with pytest.raises(TypeError, match="not_a_pykan_keyword"):
        KAN([2, 1], not_a_pykan_keyword=1)
    with pytest.raises(ValueError, match="sparse_init must be True or False"):
        KAN([2, 1], sparse_init="yes")


def test_scale_base_mu_and_sigma():
    """pykan: scale_base = mu/sqrt(in) + sigma·U(-1, 1)/sqrt(in)."""
    fixed = KAN([4, 3, 1], seed=0, scale_base_mu=5.0, scale_base_sigma=0.0, auto_save=False)
    torch.testing.assert_close(fixed.layers[0].scale_base, torch.full((4, 3), 5.0 / 2.0))
    torch.testing.assert_close(fixed.layers[1].scale_base, torch.full((3, 1), 5.0 / 3**0.5))
    plain = KAN([4, 3, 1], seed=0, auto_save=False)
    scaled = KAN([4, 3, 1], seed=0, scale_base_mu=1.0, scale_base_sigma=0.5, auto_save=False)
    want = 1.0 / 2.0 + 0.5 * plain.layers[0].scale_base  # the same uniform draws
    torch.testing.assert_close(scaled.layers[0].scale_base, want)
    assert scaled.config.scale_base_mu == 1.0  # kept: refine and copies start from it too


def test_sparse_init_is_pykans_sparse_mask():
    case = torch.load(FIXTURE, weights_only=True)["sparse"]
    for (a, b), want in zip(case["sizes"], case["masks"], strict=True):
        assert torch.equal(sparse_mask(a, b), want), (a, b)
    m = KAN([5, 5, 5, 1], sparse_init=True, seed=0, auto_save=False)
    assert torch.equal(m.layers[0].mask, torch.eye(5))
    assert torch.equal(m.layers[0].scale_sp == 0, torch.eye(5) == 0)  # pykan: scale_sp·mask
    assert m.n_edge == 5 + 5 + 5
    x = torch.rand(30, 5)
    m(x)
    assert bool((m.spline_postacts[0][:, ~torch.eye(5, dtype=torch.bool)] == 0).all())


@pytest.mark.parametrize("frozen", ["sp", "sb", "both"])
def test_frozen_scales_do_not_train(frozen):
    kw = {"sp_trainable": frozen == "sb", "sb_trainable": frozen == "sp"}
    m = KAN([2, 3, 1], seed=0, auto_save=False, **kw)
    before = [(layer.scale_sp.clone(), layer.scale_base.clone()) for layer in m.layers]
    coef0 = m.layers[0].coef.clone()
    for opt in ("LBFGS", "Adam"):
        m.fit(_ds(), opt=opt, steps=2, lamb=0.01)
    for layer, (sp, sb) in zip(m.layers, before, strict=True):
        assert torch.equal(layer.scale_sp, sp) == (not kw["sp_trainable"])
        assert torch.equal(layer.scale_base, sb) == (not kw["sb_trainable"])
    assert not torch.equal(m.layers[0].coef, coef0)  # the splines still train


def test_version_numbers_follow_pykans():
    """API_12's session: the (round, state_id) after each step as pykan 0.2.8 reports them."""
    want = torch.load(FIXTURE, weights_only=True)["history"]["steps"]
    ds = _ds(100)
    got = []
    m = KAN(width=[2, 3, 1], grid=3, k=3, seed=1, auto_save=True)
    got.append(("init", m.round, m.state_id))
    m.fit(ds, steps=2)
    got.append(("fit", m.round, m.state_id))
    m = m.prune()
    got.append(("prune", m.round, m.state_id))
    m = m.refine(5)
    got.append(("refine", m.round, m.state_id))
    m.fix_symbolic(0, 0, 0, "x")
    got.append(("fix_symbolic", m.round, m.state_id))
    m = m.rewind("0.1")
    got.append(("rewind", m.round, m.state_id))
    m.fit(ds, steps=1)
    got.append(("fit", m.round, m.state_id))
    assert got == [tuple(s) for s in want]


def test_rewind_restores_the_model_of_that_version():
    ds = _ds()
    m = KAN([2, 4, 1], seed=0)
    m.fit(ds, steps=3, lamb=0.01)  # 0.1
    after_fit = m(ds["test_input"]).detach()
    pruned = m.prune(node_th=0.5)  # 0.2: fewer nodes
    assert pruned.width != [2, 4, 1]
    back = pruned.rewind("0.1")
    assert back.width == [2, 4, 1]
    torch.testing.assert_close(back(ds["test_input"]), after_fit, rtol=0, atol=0)
    assert back is not m and back.checkout("0.0").width == [2, 4, 1]
    assert pruned.version == "1.1"  # pykan: the rewound model's number in the new round
    assert pruned.history()[-1] == "### Round 1 ###"
    assert "0.1 => prune => 0.2" in pruned.history()
    with pytest.raises(KeyError, match="no version '7.3'"):
        back.rewind("7.3")


def test_speed_stops_auto_saving_as_pykans():
    m = KAN([2, 2, 1], seed=0)
    assert m.speed() is m and not m.auto_save and not m.save_act
    m.fit(_ds(), steps=1)
    assert m.version == "0.0" and list(m.history_store.versions) == ["0.0"]


def test_without_auto_save_nothing_is_kept():
    m = KAN([2, 2, 1], seed=0, auto_save=False)
    m.fit(_ds(), steps=1)
    assert m.version == "0.0" and m.history_store.versions == {}
    with pytest.raises(KeyError):
        m.rewind("0.0")


def test_copies_share_the_history_and_the_last_input():
    m = KAN([2, 2, 1], seed=0)
    x = torch.rand(10, 2)
    m(x)
    c = m.copy()
    assert c.history_store is m.history_store
    assert c.cache_data is m.cache_data  # (not duplicated)
    m.set_reference_input(x * 0.5)
    assert m.copy().reference_input is m.reference_input
    assert c.layers[0].coef.data_ptr() != m.layers[0].coef.data_ptr()
    assert m.checkout("0.0").history_store is m.history_store


def test_a_dropped_model_is_freed_without_the_cycle_collector():
    import gc
    import weakref

    gc.disable()
    try:
        m = KAN([2, 2, 1], seed=0)
        m.fix_symbolic(0, 0, 0, "x", fit_params_bool=False)
        ref = weakref.ref(m.history_store)
        del m
        assert ref() is None  # no model ↔ history cycle: freed by reference counting
    finally:
        gc.enable()


def test_constructor_signature_keeps_kan_core_positional_order():
    params = list(inspect.signature(KAN).parameters)
    assert params[:4] == ["width", "grid", "k", "seed"]


def test_history_forgets_the_oldest_versions_beyond_its_bound(monkeypatch):
    import kan_core.pykan_state as ps

    m = KAN([2, 2, 1], seed=0)
    per_version = sum(t.numel() for t in m.state_dict().values())
    monkeypatch.setattr(ps, "MAX_HISTORY_NUMBERS", 3 * per_version)
    x = torch.rand(20, 2) * 2 - 1
    for _ in range(4):
        m.fix_symbolic(0, 0, 0, "x", x=x)  # versions 0.1 … 0.4
    assert list(m.history_store.versions) == ["0.2", "0.3", "0.4"]
    with pytest.raises(KeyError, match=r"kept: 0\.2, 0\.3, 0\.4"):
        m.checkout("0.0")
    assert m.checkout("0.2").edge_state(0, 0, 0) == "symbolic"


def test_saveckpt_loadckpt_and_pykans_own_checkpoint(tmp_path):
    m = KAN([2, 3, 1], seed=4)
    x = torch.rand(16, 2) * 2 - 1
    m.saveckpt(str(tmp_path / "mark"))
    back = KAN.loadckpt(str(tmp_path / "mark"))
    torch.testing.assert_close(back(x), m(x), rtol=0, atol=0)
    # pykan's three files (written by pykan 0.2.8's saveckpt: bench/make_pykan_ckpt_fixture.py)
    fix = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "pykan_ckpt"
    expected = torch.load(fix / "expected.pt", weights_only=True)["symbolic"]
    pk = KAN.loadckpt(str(fix / "symbolic"))
    cache = torch.load(fix / "symbolic_cache_data", weights_only=True)
    assert torch.equal(pk.cache_data, cache)  # pykan's cache_data comes back too
    torch.testing.assert_close(pk(expected["x"]), expected["y"], rtol=1e-5, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no pykan checkpoint"):
        KAN.loadckpt(str(tmp_path / "nothing"))
