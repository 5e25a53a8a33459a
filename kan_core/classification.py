"""Two-class toy problems for lessons (TensorFlow Playground's circle, XOR, two Gaussians and
spiral) in pykan's classification setup: 2 inputs, labels as class indices ``(n,)`` (int64),
a network whose last layer has 2 nodes (the logits), trained with ``CrossEntropyLoss`` (pass
``loss_fn=torch.nn.CrossEntropyLoss()`` to ``fit``/``TrainOptions``), judged by accuracy — as
pykan's classification example does.

Every draw takes an explicit seed; the same seed gives the same points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .config import is_int

__all__ = [
    "CLASSIFICATION_PRESETS",
    "ClassificationPreset",
    "accuracy",
    "class_probabilities",
    "classification_dataset",
]

MAX_SAMPLES = 100_000  # per split


@dataclass(frozen=True)
class ClassificationPreset:
    """A two-class problem on two inputs; ``look_for`` says what a lesson should watch."""

    name: str
    title: str
    width: list  # the last entry is 2: one logit per class
    ranges: list[tuple[float, float]]
    description: str
    look_for: str


def _circle(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1 inside a circle of radius 0.6, class 0 outside (uniform in the square)."""
    x = torch.rand(n, 2, generator=gen) * 2 - 1
    return x, (x.pow(2).sum(1) < 0.36).long()


def _xor(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1 where the two inputs have the same sign (quadrants I and III)."""
    x = torch.rand(n, 2, generator=gen) * 2 - 1
    return x, (x[:, 0] * x[:, 1] > 0).long()


def _gaussians(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two round clouds (std 0.35) around (−0.5, −0.5) and (0.5, 0.5), alternating classes."""
    y = torch.arange(n) % 2
    centre = (y.float() - 0.5).unsqueeze(1).expand(n, 2)
    x = centre + 0.35 * torch.randn(n, 2, generator=gen)
    return x.clamp(-1.5, 1.5), y


def _spiral(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved arms: radius t, angle 3πt (+π for class 1), t in [0.1, 1], small noise."""
    y = torch.arange(n) % 2
    t = 0.1 + 0.9 * torch.rand(n, generator=gen)
    angle = 3 * math.pi * t + math.pi * y
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1)
    return x + 0.03 * torch.randn(n, 2, generator=gen), y


_MAKERS: dict[str, Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]] = {
    "circle": _circle,
    "xor": _xor,
    "gaussians": _gaussians,
    "spiral": _spiral,
}

CLASSIFICATION_PRESETS: list[ClassificationPreset] = [
    ClassificationPreset(
        "circle",
        "Circle (classification)",
        [2, 2],
        [(-1.0, 1.0), (-1.0, 1.0)],
        "Points inside a circle against points around it.",
        "No hidden layer is needed: each logit is a sum of one curve per input, and both "
        "curves learn a parabola-like bowl, so the boundary x₁² + x₂² = r² is a circle.",
    ),
    ClassificationPreset(
        "xor",
        "XOR (classification)",
        [2, 2, 2],
        [(-1.0, 1.0), (-1.0, 1.0)],
        "Same sign against opposite signs: the classic problem a linear model cannot solve.",
        "x₁·x₂ decides the class; a sum of one-input curves cannot express a product, so watch "
        "the hidden nodes learn squares and subtract them: (x₁+x₂)² − (x₁−x₂)² = 4x₁x₂.",
    ),
    ClassificationPreset(
        "gaussians",
        "Two Gaussians (classification)",
        [2, 2],
        [(-1.5, 1.5), (-1.5, 1.5)],
        "Two overlapping clouds of points.",
        "The best boundary is a straight line: the edges stay nearly linear, and the clouds "
        "overlap, so even a perfect model misclassifies a few points (test accuracy below 100 %).",
    ),
    ClassificationPreset(
        "spiral",
        "Spiral (classification)",
        [2, 8, 2],
        [(-1.0, 1.0), (-1.0, 1.0)],
        "Two interleaved spiral arms: the hardest of the four.",
        "The boundary winds around the centre; it takes a wider hidden layer, a finer grid "
        "(Refine) and many steps, and the curves become wiggly — compare train and test accuracy "
        "to see when the network starts to memorise the points instead.",
    ),
]
BY_NAME = {p.name: p for p in CLASSIFICATION_PRESETS}


def classification_dataset(
    name: str, train_num: int = 1000, test_num: int = 1000, seed: int = 0
) -> dict[str, torch.Tensor]:
    """pykan's dataset dict for the named problem: ``*_input`` float32 ``(n, 2)``, ``*_label``
    int64 class indices ``(n,)``. Train and test are drawn from one generator seeded by ``seed``."""
    if name not in _MAKERS:
        raise ValueError(f"unknown classification problem {name!r}; choose from {sorted(_MAKERS)}")
    for what, v in (("train_num", train_num), ("test_num", test_num)):
        if not (is_int(v, 2) and v <= MAX_SAMPLES):
            raise ValueError(f"{what} must be a whole number in [2, {MAX_SAMPLES}], got {v!r}")
    if not is_int(seed, None):
        raise ValueError(f"seed must be a whole number, got {seed!r}")
    gen = torch.Generator().manual_seed(int(seed))
    x_train, y_train = _MAKERS[name](int(train_num), gen)
    x_test, y_test = _MAKERS[name](int(test_num), gen)
    return {
        "train_input": x_train.float(),
        "train_label": y_train,
        "test_input": x_test.float(),
        "test_label": y_test,
    }


def class_probabilities(model, x: torch.Tensor) -> torch.Tensor:
    """``(n, classes)`` softmax of the model's logits for inputs ``x`` ``(n, in)``."""
    with torch.no_grad():
        logits = model(x)
    assert logits.dim() == 2 and logits.shape[0] == x.shape[0], tuple(logits.shape)
    return torch.softmax(logits, dim=1)


def accuracy(model, x: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose largest logit is the label's class (pykan's ``train_acc``)."""
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    return float((pred == labels.reshape(-1)).float().mean())
