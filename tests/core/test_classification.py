"""Classification toys (circle, XOR, two Gaussians, spiral) in pykan's setup: class-index labels,
2 logits, CrossEntropyLoss, accuracy."""

from __future__ import annotations

import math

import pytest
import torch

import kan_core
from kan_core.classification import (
    CLASSIFICATION_PRESETS,
    accuracy,
    class_probabilities,
    classification_dataset,
)


@pytest.mark.parametrize("name", ["circle", "xor", "gaussians", "spiral"])
def test_datasets_have_pykans_shapes_and_are_reproducible(name):
    ds = classification_dataset(name, train_num=300, test_num=200, seed=3)
    assert ds["train_input"].shape == (300, 2) and ds["train_input"].dtype == torch.float32
    assert ds["test_label"].shape == (200,) and ds["test_label"].dtype == torch.int64
    assert set(ds["train_label"].tolist()) == {0, 1}
    share = ds["train_label"].float().mean().item()
    assert 0.2 < share < 0.8  # both classes well represented
    again = classification_dataset(name, train_num=300, test_num=200, seed=3)
    assert all(torch.equal(ds[k], again[k]) for k in ds)
    other = classification_dataset(name, train_num=300, test_num=200, seed=4)
    assert not torch.equal(ds["train_input"], other["train_input"])
    kan_core.validate_dataset(ds, class_labels=True)


def test_labels_follow_each_problems_rule():
    c = classification_dataset("circle", 500, 10, seed=0)
    r2 = (c["train_input"] ** 2).sum(1)
    assert torch.equal(c["train_label"], (r2 < 0.36).long())
    x = classification_dataset("xor", 500, 10, seed=0)
    same_sign = (x["train_input"][:, 0] > 0) == (x["train_input"][:, 1] > 0)
    assert torch.equal(x["train_label"], same_sign.long())
    g = classification_dataset("gaussians", 2000, 10, seed=0)
    for k, centre in ((0, -0.5), (1, 0.5)):
        mean = g["train_input"][g["train_label"] == k].mean(0)
        assert torch.allclose(mean, torch.full((2,), centre), atol=0.05)
    s = classification_dataset("spiral", 2000, 10, seed=0)
    # each point's angle matches its arm: 3π·r (+π for class 1), up to the noise
    xy, y = s["train_input"].double(), s["train_label"]
    r = xy.norm(dim=1)
    far = r > 0.3  # near the centre the noise dominates the angle
    expect = 3 * math.pi * r + math.pi * y
    diff = torch.atan2(xy[:, 1], xy[:, 0]) - expect
    off = torch.remainder(diff + math.pi, 2 * math.pi) - math.pi  # wrapped to (−π, π]
    assert (off[far].abs() < 0.6).float().mean() > 0.95


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="moons"):
        classification_dataset("moons")
    with pytest.raises(ValueError, match="train_num"):
        classification_dataset("circle", train_num=1)
    with pytest.raises(ValueError, match="seed"):
        classification_dataset("circle", seed=0.5)


def test_presets_end_in_two_logits_and_say_what_to_look_for():
    names = [p.name for p in CLASSIFICATION_PRESETS]
    assert names == ["circle", "xor", "gaussians", "spiral"]
    for p in CLASSIFICATION_PRESETS:
        assert p.width[0] == 2 and p.width[-1] == 2
        assert 20 < len(p.look_for) < 400 and len(p.ranges) == 2


def test_circle_trains_with_cross_entropy_like_pykans_example():
    """pykan's classification example: width [2, 2], CrossEntropyLoss on class indices."""
    ds = classification_dataset("circle", train_num=400, test_num=400, seed=0)
    model = kan_core.KAN(width=[2, 2], grid=5, k=3, seed=0)
    before = accuracy(model, ds["test_input"], ds["test_label"])
    kan_core.fit(model, ds, opt="LBFGS", steps=20, loss_fn=torch.nn.CrossEntropyLoss())
    after = accuracy(model, ds["test_input"], ds["test_label"])
    assert after > 0.95 and after > before
    # accuracy against an independent count; probabilities are a softmax
    with torch.no_grad():
        logits = model(ds["test_input"])
    manual = sum(
        int(row.argmax()) == int(lab) for row, lab in zip(logits, ds["test_label"], strict=True)
    )
    assert after == pytest.approx(manual / 400)
    p = class_probabilities(model, ds["test_input"])
    assert torch.allclose(p.sum(1), torch.ones(400), atol=1e-6)
    assert torch.allclose(p[:, 1] / p[:, 0], torch.exp(logits[:, 1] - logits[:, 0]), rtol=1e-4)
