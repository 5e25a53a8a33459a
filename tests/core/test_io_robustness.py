"""Loading a tampered or damaged model file: a ``ValueError`` naming the problem, raised before
the model is built — never a KeyError/RuntimeError, a huge allocation, or a crash later in
``model(x)``. Files are crafted from a real model's ``to_bytes`` in the format ``io`` writes:
a ``torch.save`` zip of ``{"meta": json, "tensors": {name: tensor}}``."""

from __future__ import annotations

import functools
import io
import json
import time
import zipfile

import pytest
import torch

import kan_core.io as kio
from kan_core import KAN


def _model() -> KAN:
    m = KAN([2, 3, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "sin", x=torch.rand(50, 2, generator=torch.Generator().manual_seed(0)))
    m.prune_edge(0, 1, 2)
    return m


@functools.cache
def _model_bytes() -> bytes:
    return _model().to_bytes()


def _parts() -> tuple[dict, dict]:
    payload = torch.load(io.BytesIO(_model_bytes()), weights_only=True)
    return json.loads(payload["meta"]), payload["tensors"]


def _file(meta, tensors, raw_meta: str | None = None) -> bytes:
    buf = io.BytesIO()
    torch.save(
        {"meta": raw_meta if raw_meta is not None else json.dumps(meta), "tensors": tensors}, buf
    )
    return buf.getvalue()


def _refused(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match) as err:
        KAN.from_bytes(data)
    assert str(err.value).startswith("model file: "), err.value


def _edit(change) -> bytes:
    """A file whose meta and tensors went through ``change(meta, tensors)`` (in place)."""
    meta, tensors = _parts()
    change(meta, tensors)
    return _file(meta, tensors)


def _set(d: dict, key, value):
    d[key] = value


META_CASES = {
    "no symbolic": (lambda m, t: m.pop("symbolic"), "no 'symbolic'"),
    "no config": (lambda m, t: m.pop("config"), "no 'config'"),
    "no width": (lambda m, t: m.pop("width"), "no 'width'"),
    "other format": (lambda m, t: _set(m, "format", "x/9"), "unsupported format"),
    "wider": (lambda m, t: _set(m, "width", [2, 4, 1]), r"layers\.0\.mask has shape \(2, 3\)"),
    "deeper": (lambda m, t: _set(m, "width", [2, 3, 1, 1]), "missing tensor 'layers.2.grid'"),
    "shallower": (lambda m, t: _set(m, "width", [2, 3]), "unexpected tensor 'layers.1"),
    "width floats": (lambda m, t: _set(m, "width", [2, 3.0, 1]), "width"),
    "k": (lambda m, t: _set(m["config"], "k", 2), r"coef has shape \(2, 3, 8\).*k=2"),
    "k string": (lambda m, t: _set(m["config"], "k", "3"), "k must be a whole number"),
    "grid bool": (lambda m, t: _set(m["config"], "grid", True), "grid must be a whole number"),
    "seed 2**70": (lambda m, t: _set(m["config"], "seed", 2**70), "seed"),
    "grid_range NaN": (
        lambda m, t: _set(m["config"], "grid_range", [float("nan"), 1]),
        "grid_range",
    ),
    "base_fun": (lambda m, t: _set(m["config"], "base_fun", "os.system"), "unknown base_fun"),
    "base_fun list": (lambda m, t: _set(m["config"], "base_fun", []), "unknown base_fun"),
    "config field": (lambda m, t: _set(m["config"], "evil", 1), "unknown field"),
    "config list": (lambda m, t: _set(m, "config", [1, 2]), "config must be a JSON object"),
    "grids": (lambda m, t: _set(m, "grids", [5, 6]), "grids .* disagree"),
}


@pytest.mark.parametrize("case", META_CASES)
def test_a_bad_header_is_refused_by_name(case):
    change, match = META_CASES[case]
    _refused(_edit(change), match)


def _sym(entries0):
    return lambda m, t: _set(m["symbolic"], 0, entries0)


SYMBOLIC_CASES = {
    "unknown function": (_sym([[0, 0, "evil", 1.0]]), "unknown symbolic function 'evil'"),
    "negative index": (_sym([[-1, 0, "sin", 1.0]]), r"edge \(-1, 0\) is not in a 2×3 layer"),
    "index too big": (_sym([[0, 3, "sin", 1.0]]), r"edge \(0, 3\) is not in a 2×3 layer"),
    "float index": (_sym([[0.0, 0, "sin", 1.0]]), "is not in a"),
    "bool index": (_sym([[False, 0, "sin", 1.0]]), "is not in a"),
    "too short": (_sym([[0, 0]]), r"expected \[i, j, name\]"),
    "not a list": (_sym({"0": 1}), "entries of layer 0 must be a list"),
    "twice": (_sym([[0, 0, "sin", 1.0], [0, 0, "x", 1.0]]), "symbolic twice"),
    "r2 inf": (_sym([[0, 0, "sin", float("inf")]]), "r2 must be a finite number"),
    "r2 text": (_sym([[0, 0, "sin", "1"]]), "r2 must be a finite number"),
    "not in sym_mask": (
        _sym([[0, 0, "sin"], [1, 1, "x", 0.5]]),
        r"\(0,1,1\) is listed .* sym_mask",
    ),
    "only in sym_mask": (_sym([]), r"\(0,0,0\) is not listed as symbolic"),
    "one layer only": (lambda m, t: m["symbolic"].pop(), "list of 2 list"),
}


@pytest.mark.parametrize("case", SYMBOLIC_CASES)
def test_every_symbolic_entry_is_checked_at_load_time(case):
    change, match = SYMBOLIC_CASES[case]
    _refused(_edit(change), match)


def _nan_at(name: str, index):
    def change(m, t):
        t[name][index] = float("nan")

    return change


def _replace(name, value):
    return lambda m, t: _set(t, name, value)


TENSOR_CASES = {
    "truncated grid": (
        lambda m, t: _set(t, "layers.0.grid", t["layers.0.grid"][:, :6]),
        r"layers\.0\.grid has shape \(2, 6\)",
    ),
    "1-D grid": (
        lambda m, t: _set(t, "layers.0.grid", t["layers.0.grid"][0]),
        r"layers\.0\.grid has shape \(12,\)",
    ),
    "grid for another k": (
        lambda m, t: _set(t, "layers.1.grid", t["layers.1.grid"][:, :-1]),
        r"layers\.1\.coef has shape \(3, 1, 8\)",
    ),
    "grid not increasing": (
        lambda m, t: t["layers.0.grid"].__setitem__((1, 4), 5.0),
        "grid is not increasing",
    ),
    "grid inf": (lambda m, t: t["layers.1.grid"].__setitem__((0, 0), -float("inf")), "NaN or inf"),
    "coef NaN": (_nan_at("layers.0.coef", (1, 1, 1)), r"layers\.0\.coef holds NaN"),
    "affine NaN": (_nan_at("layers.1.affine", (0, 0, 0)), r"layers\.1\.affine holds NaN"),
    "mask 0.5": (
        lambda m, t: t["layers.0.mask"].__setitem__((0, 0), 0.5),
        r"layers\.0\.mask holds values other than 0 and 1",
    ),
    "missing tensor": (
        lambda m, t: t.pop("layers.1.scale_sp"),
        "missing tensor 'layers.1.scale_sp'",
    ),
    "extra tensor": (
        _replace("layers.0.evil", torch.zeros(1)),
        "unexpected tensor 'layers.0.evil'",
    ),
    "padded index": (
        _replace("layers.01.grid", torch.zeros(1)),
        "unexpected tensor 'layers.01.grid'",
    ),
    "integer tensor": (
        lambda m, t: _set(t, "layers.0.mask", t["layers.0.mask"].long()),
        "mask has dtype torch.int64",
    ),
    "mixed dtypes": (
        lambda m, t: _set(t, "layers.0.coef", t["layers.0.coef"].double()),
        "mix dtypes",
    ),
    "not a tensor": (_replace("layers.0.coef", [1.0]), "coef is not a dense tensor"),
    "sparse": (
        lambda m, t: _set(t, "layers.0.mask", t["layers.0.mask"].to_sparse()),
        "mask is not a dense tensor",
    ),
    "expanded": (
        _replace("layers.0.coef", torch.zeros(1).expand(2, 3, 8)),
        "claims more elements",
    ),
    "reference_input NaN": (
        _replace("reference_input", torch.full((4, 2), float("nan"))),
        "reference_input holds NaN",
    ),
    "reference_input shape": (
        _replace("reference_input", torch.zeros(4, 5)),
        r"reference_input: input must be \(batch, 2\)",
    ),
}


@pytest.mark.parametrize("case", TENSOR_CASES)
def test_bad_tensors_are_refused_by_name(case):
    change, match = TENSOR_CASES[case]
    _refused(_edit(change), match)


@pytest.mark.parametrize(
    "raw, match",
    [
        ("{not json", "meta is not valid JSON"),
        ("[1, 2]", "meta must be a JSON object, got list"),
        ("[" * 100_000, "meta is not valid JSON"),  # too deep to parse
    ],
)
def test_meta_that_is_not_a_json_object_is_refused(raw, match):
    _, tensors = _parts()
    _refused(_file(None, tensors, raw_meta=raw), match)


def test_containers_that_are_not_model_files_are_refused():
    meta, tensors = _parts()
    for payload, match in [
        ([1, 2], "no meta and tensors"),
        ({"meta": meta, "tensors": tensors}, "meta must be a JSON string"),
        ({"meta": json.dumps(meta), "tensors": [1]}, "tensors a dict"),
    ]:
        buf = io.BytesIO()
        torch.save(payload, buf)
        _refused(buf.getvalue(), match)
    _refused(b"not a model", "not a zip archive")
    _refused(b"", "not a zip archive")
    _refused(KAN([2, 1]).to_bytes()[:-100], "not a zip archive")
    with pytest.raises(ValueError, match="expected bytes, got str"):
        KAN.from_bytes("abc")


def test_a_compressed_archive_is_refused_before_it_is_inflated():
    """torch.load reads deflated entries: a small file could expand to any size."""
    src = zipfile.ZipFile(io.BytesIO(_model_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    _refused(out.getvalue(), "compressed archive entry")


def test_a_huge_stated_width_fails_fast_without_building_the_model(monkeypatch):
    """The width is checked against the tensors before anything is allocated."""

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(kio, "KAN", no_model)
    # over the config bounds; within them (the tensors refuse it); a million layers
    for width in ([2, 10**9, 1], [2, 90_000, 1], [2, 3, 1] + [1] * 1_000_000):
        data = _edit(lambda m, t, w=width: _set(m, "width", w))
        start = time.perf_counter()
        with pytest.raises(ValueError, match="model file: "):
            kio.from_bytes(data)
        assert time.perf_counter() - start < 1.0, width


def test_round_trip_is_bit_exact_and_keeps_the_file_dtype():
    m = _model()
    m.set_reference_input(torch.rand(20, 2, generator=torch.Generator().manual_seed(1)))
    x = torch.rand(30, 2, generator=torch.Generator().manual_seed(2))
    back = KAN.from_bytes(m.to_bytes())
    assert back.to_bytes() == m.to_bytes()
    assert torch.equal(back(x), m(x))

    m64 = _model().to(torch.float64)  # saved in float64, loaded where float32 is the default
    assert torch.get_default_dtype() == torch.float32
    back64 = KAN.from_bytes(m64.to_bytes())
    assert all(t.dtype == torch.float64 for t in back64.state_dict().values())
    assert back64(x).dtype == torch.float64
    assert torch.equal(back64(x), m64(x))
    assert back64.to_bytes() == m64.to_bytes()


def test_a_nan_r2_loads_as_unknown_and_layers_may_have_their_own_grids():
    def change(meta, tensors):
        meta["symbolic"][0][0][3] = float("nan")  # R² unknown, as for a missing one
        g = tensors["layers.1.grid"]  # layer 1 with 2 intervals more than layer 0
        h = g[:, 1] - g[:, 0]
        tensors["layers.1.grid"] = torch.cat(
            [g, g[:, -1:] + h[:, None] * torch.tensor([1.0, 2.0])], 1
        )
        tensors["layers.1.coef"] = torch.cat([tensors["layers.1.coef"], torch.zeros(3, 1, 2)], 2)
        meta["grids"] = [5, 7]

    m = KAN.from_bytes(_edit(change))
    assert [layer.num for layer in m.layers] == [5, 7] and m.config.grid == 5
    assert m.layers[0].sym_funs == {(0, 0): "sin"} and m.layers[0].sym_r2 == {}
    assert torch.isfinite(m(torch.rand(8, 2))).all()


def test_a_grid_with_repeated_knots_from_update_grid_still_loads():
    """float32 data narrow for its magnitude gives repeated quantile knots; the model is healthy
    (0/0 := 0 in the bases) and its file must load — so grids need only be non-decreasing."""
    m = KAN([1, 1], grid=50, seed=0)
    x = 1000 + torch.rand(500, 1, generator=torch.Generator().manual_seed(0)) * 2e-3
    m.update_grid(x)
    g = m.layers[0].grid
    assert not bool((g[:, 1:] > g[:, :-1]).all())  # the premise: a knot repeats
    back = KAN.from_bytes(m.to_bytes())
    assert torch.equal(back.layers[0].grid, g) and torch.equal(back(x), m(x))


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({"x": 1}, "pruned_nodes must be a list"),
        ([[0, 5, []]], "no prunable node"),
        ([[2, 0, []]], "no prunable node"),
        ([[1, 0, [[0, 1, 2]]]], "not an edge of node"),
        ([[1, 0, [[0, 1, 0], [0, 9, 0]]]], "not an edge of node"),
        ([[1, 0, []], [1, 0, []]], "listed twice"),
        ([[1, 0, "edges"]], r"expected \[l, i"),
    ],
)
def test_the_prune_node_record_is_checked(entries, match):
    _refused(_edit(lambda meta, t: _set(meta, "pruned_nodes", entries)), match)
    ok = _edit(lambda meta, t: _set(meta, "pruned_nodes", [[1, 0, [[0, 1, 0], [1, 0, 0]]]]))
    assert KAN.from_bytes(ok).pruned_nodes == {(1, 0): [(0, 1, 0), (1, 0, 0)]}
