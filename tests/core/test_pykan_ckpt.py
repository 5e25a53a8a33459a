"""kan_core.pykan_ckpt: real pykan 0.2.8 checkpoints (bench/make_pykan_ckpt_fixture.py wrote
them with pykan's saveckpt, and pykan's own loadckpt(...)(x) as the reference) become kan_core
models with the same outputs; anything malformed or hostile is refused by name."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from kan_core import KAN
from kan_core.pykan_ckpt import from_pykan_checkpoint

FIX = Path(__file__).resolve().parents[1] / "server" / "fixtures" / "pykan_ckpt"
CASES = ("fresh", "mult", "deep", "symbolic")


def parts(name: str) -> tuple[str, bytes, bytes]:
    return (
        (FIX / f"{name}_config.yml").read_text(),
        (FIX / f"{name}_state").read_bytes(),
        (FIX / f"{name}_cache_data").read_bytes(),
    )


@pytest.fixture(scope="module")
def expected() -> dict:
    return torch.load(FIX / "expected.pt", weights_only=True)


@pytest.mark.parametrize("name", CASES)
def test_outputs_equal_pykans_loadckpt(name, expected):
    model, ref = from_pykan_checkpoint(*parts(name))
    e = expected[name]
    assert model.width == e["width"]
    assert e["y"].std() > 0.05  # not a near-constant reference
    with torch.no_grad():
        torch.testing.assert_close(model(e["x"]), e["y"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model(e["x"]), e["y"], rtol=1e-5, atol=1e-5)  # fused path
    # the cached input is the reference input (the fresh model never ran forward: None)
    if name == "fresh":
        assert ref is None and model.reference_input is None
    else:
        cache = torch.load(io.BytesIO(parts(name)[2]), weights_only=True)
        torch.testing.assert_close(ref, cache)
        torch.testing.assert_close(model.reference_input, cache)


def test_symbolic_edges_keep_pykans_functions_and_parameters():
    config, state, cache = parts("symbolic")
    model, _ = from_pykan_checkpoint(config, state, cache)
    sd = torch.load(io.BytesIO(state), weights_only=True)
    assert model.layers[0].sym_funs == {(0, 0): "sin", (1, 0): "x^2"}
    assert model.layers[1].sym_funs == {(0, 0): "exp"}
    # pykan's affine is (out, in, 4); ours (in, out, 4): the same a, b, c, d
    torch.testing.assert_close(model.layers[0].affine[1, 0], sd["symbolic_fun.0.affine"][0, 1])
    assert model.layers[0].sym_mask.sum() == 2 and model.layers[0].mask.sum() == 2
    # every edge is symbolic: the network is c·f(a·x+b)+d composed by hand from pykan's numbers
    a = sd["symbolic_fun.0.affine"][0]  # (in, 4) into the hidden node
    o = sd["symbolic_fun.1.affine"][0, 0]
    x = model.reference_input
    h = a[0, 2] * torch.sin(a[0, 0] * x[:, 0] + a[0, 1]) + a[0, 3]
    h = h + a[1, 2] * (a[1, 0] * x[:, 1] + a[1, 1]) ** 2 + a[1, 3]
    y = o[2] * torch.exp(o[0] * h + o[1]) + o[3]
    with torch.no_grad():
        torch.testing.assert_close(model(x)[:, 0], y, rtol=1e-5, atol=1e-5)


def test_loaded_objects_work_as_well_as_bytes(expected):
    config, state, cache = parts("mult")
    model, ref = from_pykan_checkpoint(
        yaml.safe_load(config),
        torch.load(io.BytesIO(state), weights_only=True),
        torch.load(io.BytesIO(cache), weights_only=True),
    )
    with torch.no_grad():
        torch.testing.assert_close(model(expected["mult"]["x"]), expected["mult"]["y"])
    assert ref.shape[1] == 2


def test_without_cache_data_there_is_no_reference_input(expected):
    config, state, _ = parts("deep")
    model, ref = from_pykan_checkpoint(config, state)
    assert ref is None and model.reference_input is None
    with torch.no_grad():
        torch.testing.assert_close(model(expected["deep"]["x"]), expected["deep"]["y"])


def _state(name: str) -> dict:
    return torch.load(io.BytesIO(parts(name)[1]), weights_only=True)


def _save(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_node_scales_fold_into_the_edges(expected):
    """pykan scales a node after summing (and after multiplying): an output scale of 2
    doubles the output; a mult node's scale equals scaling either of its factors."""
    config, _, _ = parts("mult")
    x, y = expected["mult"]["x"], expected["mult"]["y"]

    def run(edit) -> torch.Tensor:
        sd = _state("mult")
        edit(sd)
        with torch.no_grad():
            return from_pykan_checkpoint(config, _save(sd))[0](x)

    torch.testing.assert_close(run(lambda sd: sd["node_scale_1"].fill_(2.0)), 2 * y)
    # node 3 of layer 1 is the first mult node; its subnodes are 3 and 4
    by_node = run(lambda sd: sd["node_scale_0"].__setitem__(3, 1.7))
    by_first = run(lambda sd: sd["subnode_scale_0"].__setitem__(3, 1.7))
    by_second = run(lambda sd: sd["subnode_scale_0"].__setitem__(4, 1.7))
    torch.testing.assert_close(by_node, by_first)
    torch.testing.assert_close(by_node, by_second, rtol=1e-5, atol=1e-5)
    assert (by_node - y).abs().max() > 1e-2


def _refused(match: str, config=None, state=None, cache=None):
    c, s, k = parts("mult")
    with pytest.raises(ValueError, match=match):
        from_pykan_checkpoint(c if config is None else config, s if state is None else state, cache)


def test_hostile_or_malformed_configs_are_refused():
    _refused("pykan_config: not valid YAML", config="width: [1, 2\n")
    _refused("pykan_config: expected a YAML mapping", config="- 1\n- 2\n")
    _refused("pykan_config: no 'width'", config="grid: 5\nk: 3\n")
    # a Python tag is never constructed (yaml.safe_load)
    _refused("pykan_config: not valid YAML", config="!!python/object/apply:os.system ['true']")
    _refused("pykan_config: not UTF-8", config=b"\xff\xfe\x00")
    _refused("pykan_config: .*base_fun_name", config=parts("mult")[0] + "base_fun_name: evil\n")
    # the width disagrees with the state's tensors
    bad = parts("mult")[0].replace("- - 3\n  - 2", "- - 4\n  - 2")
    _refused("pykan_state: act_fun.0.coef has shape", config=bad)


def test_hostile_or_malformed_states_are_refused():
    good = parts("mult")[1]
    _refused("pykan_state: not a torch.save file", state=b"garbage")
    _refused("pykan_state: not a torch.save file", state=good[: len(good) // 2])  # truncated

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    _refused("pykan_state: cannot read it safely", state=_save({"x": Evil()}))
    raw = pickle.dumps({"x": 1})
    _refused("pykan_state: not a torch.save file", state=raw)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", raw)
    _refused("pykan_state: compressed archive entry", state=zipped.getvalue())

    sd = _state("mult")
    sd["act_fun.0.coef"][0, 0, 0] = float("nan")
    _refused("act_fun.0.coef holds NaN", state=_save(sd))
    sd = _state("mult")
    sd["extra"] = torch.zeros(1)
    _refused("unexpected tensor 'extra'", state=_save(sd))
    sd = _state("mult")
    del sd["symbolic_fun.1.affine"]
    _refused("missing tensor 'symbolic_fun.1.affine'", state=_save(sd))
    sd = _state("mult")
    sd["act_fun.0.mask"][0, 0] = 0.5
    _refused("act_fun.0.mask holds values other than 0 and 1", state=_save(sd))
    sd = _state("mult")
    sd["node_bias_0"][1] = 0.3
    _refused("node_bias_0 is not zero", state=_save(sd))
    sd = _state("mult")
    sd["act_fun.0.grid"] = sd["act_fun.0.grid"].flip(1).contiguous()
    _refused("grid is not increasing", state=_save(sd))
    _refused("expected a state_dict", state=_save([1, 2]))


def test_an_edge_both_numeric_and_symbolic_is_refused_unless_its_symbol_adds_nothing(expected):
    config = parts("mult")[0]
    sd = _state("mult")
    sd["symbolic_fun.0.mask"][0, 1] = 1.0  # edge (0, 1, 0): the function is '0', d = 0
    model, _ = from_pykan_checkpoint(config, _save(sd))
    with torch.no_grad():
        torch.testing.assert_close(model(expected["mult"]["x"]), expected["mult"]["y"])
    sd["symbolic_fun.0.affine"][0, 1, 3] = 0.5  # now it adds a constant: not representable
    _refused(r"edge \(0,1,0\) is both numeric and symbolic", state=_save(sd))
    names = yaml.safe_load(config)
    names["symbolic.funs_name.0"][0][1] = "evil"
    _refused("unknown symbolic function 'evil'", config=yaml.safe_dump(names), state=_save(sd))


def test_cache_data_must_fit_the_model():
    _refused("pykan_cache_data: shape", cache=_save(torch.zeros(10, 3)))
    _refused("pykan_cache_data holds NaN", cache=_save(torch.full((10, 2), float("nan"))))
    _refused("pykan_cache_data has dtype", cache=_save(torch.zeros(10, 2, dtype=torch.int64)))


def test_the_result_is_an_ordinary_kan_core_model(expected):
    model, _ = from_pykan_checkpoint(*parts("symbolic"))
    again = KAN.from_bytes(model.to_bytes())
    x = expected["symbolic"]["x"]
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
