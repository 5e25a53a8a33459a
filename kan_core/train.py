"""Training: a step-wise ``Trainer`` that a caller drives one step at a time, and pykan's ``fit``.

Loss = MSE + λ·Σ_layers (λ_l1·Σ|s| + λ_entropy·(row + column entropy of s)), with ``s`` each
numeric edge's std over the batch divided by (std of its input + 0.1) — pykan's default
``edge_forward_spline_n`` metric, computed exactly without a ``(batch, in, out)`` tensor.

A step that produces a non-finite loss or parameter is rolled back to the state before it, the
optimiser's memory is cleared, and the step is reported with ``ok=False``; after
``max_bad_steps`` in a row the trainer stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .compat import FIT_KEYWORDS, pykan_keywords
from .config import is_int
from .datasets import KEYS, validate_dataset
from .fused import regularization, regularization_grads
from .layer import network_backward, network_forward
from .lbfgs import LBFGS
from .pykan_state import zero_frozen_grads
from .pykan_training import (
    DEFAULT_METRIC,
    avoid_singularities,
    check_metric,
    coef_penalty,
    metric_scales,
)
from .twin import Float64Twin

__all__ = ["StepResult", "TrainOptions", "Trainer", "fit", "loss_and_grads", "regularization"]


def loss_and_grads(
    model,
    x,
    y,
    lamb=0.0,
    lamb_l1=1.0,
    lamb_entropy=2.0,
    loss_fn=None,
    y_scale=1.0,
    lamb_coef=0.0,
    lamb_coefdiff=0.0,
    reg_metric=DEFAULT_METRIC,
):
    """The training loss ``mse + lamb·reg`` and its gradient: sets every parameter's ``.grad``
    (``None`` where autograd leaves it ``None``); returns ``(loss, mse, reg)`` as floats.
    ``loss_fn(pred, y)`` (pykan's) replaces the MSE (and is returned in its place). pykan's
    ``lamb_coef``, ``lamb_coefdiff`` and ``reg_metric`` (``kan_core.pykan_training``) count with
    ``lamb > 0``, as there.

    A model without symbolic edges — all of training before snapping — is differentiated by
    hand with no autograd graph (``network_forward`` / ``network_backward``): the same
    value and gradient as ``loss.backward()`` (tested) at a fraction of the per-operation
    overhead that bounds small models. Symbolic edges (many function shapes) use autograd.

    ``y_scale`` (σ, the target's spread; 1 = pykan's loss) makes λ independent of the target's
    units: the penalty is σ²·reg with the output layer's edge scales divided by σ, so training
    on ``s·y`` has the same optimum as on ``y``, scaled (the MSE scales by s², hidden edges
    not at all, output edges by s).
    """
    metric = reg_metric if lamb > 0 else DEFAULT_METRIC
    if loss_fn is not None or metric != DEFAULT_METRIC or any(l.sym_funs for l in model.layers):
        loss, mse, reg = _loss_and_grads_autograd(
            model, x, y, lamb, lamb_l1, lamb_entropy, loss_fn, y_scale, metric
        )
    else:
        loss, mse, reg = _loss_and_grads_fused(model, x, y, lamb, lamb_l1, lamb_entropy, y_scale)
    if lamb > 0 and (lamb_coef or lamb_coefdiff):
        pen = _add_coef_penalty(model, lamb, lamb_coef, lamb_coefdiff)
        loss, reg = loss + lamb * pen, reg + pen
    return loss, mse, reg


def _add_coef_penalty(model, lamb, lamb_coef, lamb_coefdiff) -> float:
    """pykan's coefficient penalty: its value, its gradient (× ``lamb``) added to ``.grad``."""
    packed = [layer.packed for layer in model.layers]
    with torch.enable_grad():
        pen = coef_penalty(model, lamb_coef, lamb_coefdiff)
        grads = torch.autograd.grad(pen, packed)
    for p, g in zip(packed, grads, strict=True):
        p.grad = lamb * g if p.grad is None else p.grad + lamb * g
    return float(pen.detach())


def _loss_and_grads_fused(model, x, y, lamb, lamb_l1, lamb_entropy, y_scale):
    with torch.no_grad():
        pred, scales, tapes = network_forward(model.layers, x.T, lamb > 0, layouts=model.layouts)
        diff = pred - y.T
        mse = float(torch.mean(diff * diff))
        gy = diff * (2.0 / diff.numel())
        reg, g_scales = 0.0, None
        if lamb > 0:  # (scales and their gradients are float64 NumPy: see fused.edge_scales)
            scales[-1] = scales[-1] / y_scale
            reg, g_np = regularization_grads(scales, lamb_l1, lamb_entropy)
            weights = [y_scale**2] * (len(g_np) - 1) + [y_scale]  # d(σ²·reg(…, s/σ))/ds
            reg *= y_scale**2
            g_scales = [g * lamb * w for g, w in zip(g_np, weights, strict=True)]
        _, grads = network_backward(tapes, gy, g_scales)
        for layer, g in zip(model.layers, grads, strict=True):
            layer.packed.grad = g
    return mse + lamb * reg, mse, reg


def _root(loss: float) -> float:
    """What the history records: RMSE for the MSE; for a custom loss its root, as pykan (signed:
    a loss may be negative)."""
    return math.copysign(math.sqrt(abs(loss)), loss)


def _data_loss(pred, y, loss_fn=None):
    if loss_fn is None:
        return torch.mean((pred - y) ** 2)
    loss = loss_fn(pred, y)
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
        # a TypeError: a usage error, not a diverging step (the trainer rolls those back)
        raise TypeError(
            f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
            f"{tuple(getattr(loss, 'shape', ()))}"
        )
    return loss.reshape(())


def _loss_and_grads_autograd(
    model, x, y, lamb, lamb_l1, lamb_entropy, loss_fn=None, y_scale=1.0, metric=DEFAULT_METRIC
):
    for p in model.parameters():
        p.grad = None
    with torch.enable_grad():
        if lamb > 0:
            if metric == DEFAULT_METRIC:
                pred, scales = model.forward_with_reg(x)
            else:
                pred, scales = metric_scales(model, x, metric)
            scales[-1] = scales[-1] / y_scale
            reg = regularization(scales, lamb_l1, lamb_entropy) * y_scale**2
        else:
            pred, reg = model(x), x.new_zeros(())
        mse = _data_loss(pred, y, loss_fn)
        loss = mse + lamb * reg
        loss.backward()
    return float(loss.detach()), float(mse.detach()), float(reg.detach())


@dataclass
class TrainOptions:
    opt: str = "LBFGS"  # "LBFGS" or "Adam"
    lr: float = 1.0
    lamb: float = 0.0  # overall regularisation strength
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    update_grid: bool = True  # adapt grids to the data during the first steps
    grid_update_num: int = 10  # how many grid updates ...
    stop_grid_update_step: int = 50  # ... spread over this many first steps
    start_grid_update_step: int = -1  # (pykan) no grid updates before this step
    batch: int = -1  # -1 = full batch
    seed: int = 0  # seeds minibatch sampling
    lbfgs_iters: int = 20  # LBFGS iterations per step, as pykan
    loss_fn: object = None  # (pykan) a loss of (prediction, label) instead of the MSE; autograd
    max_bad_steps: int = 3  # consecutive rolled-back steps before stopping
    # pykan's (kan_core.pykan_training): coefficient L1 and smoothness penalties, the scores
    # the penalty is taken of, and singularity-avoiding symbolic functions (threshold y_th)
    lamb_coef: float = 0.0
    lamb_coefdiff: float = 0.0
    reg_metric: str = DEFAULT_METRIC
    singularity_avoiding: bool = False
    y_th: float = 1000.0
    # λ in the target's units (False: pykan's loss) or independent of them (True: the penalty
    # is scaled by the training target's std; see loss_and_grads)
    scale_aware: bool = False

    def validate(self) -> None:
        if self.opt not in ("LBFGS", "Adam"):
            raise ValueError(f"opt must be 'LBFGS' or 'Adam', got {self.opt!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        check_metric(self.reg_metric)
        if not isinstance(self.singularity_avoiding, bool):
            raise ValueError(
                f"singularity_avoiding must be True or False, got {self.singularity_avoiding!r}"
            )
        if not (isinstance(self.y_th, int | float) and math.isfinite(self.y_th) and self.y_th > 0):
            raise ValueError(f"y_th must be a positive number, got {self.y_th!r}")
        for name in ("lamb", "lamb_l1", "lamb_entropy", "lamb_coef", "lamb_coefdiff"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be ≥ 0, got {v}")
        for name in (
            "batch",
            "grid_update_num",
            "stop_grid_update_step",
            "start_grid_update_step",
            "seed",
            "lbfgs_iters",
            "max_bad_steps",
        ):
            v = getattr(self, name)
            if not is_int(v, None):
                raise ValueError(f"{name} must be a whole number, got {v!r}")
        for name in ("lbfgs_iters", "max_bad_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not isinstance(self.scale_aware, bool):
            raise ValueError(f"scale_aware must be True or False, got {self.scale_aware!r}")
        if not isinstance(self.update_grid, bool):
            raise ValueError(f"update_grid must be True or False, got {self.update_grid!r}")
        if self.loss_fn is not None and not callable(self.loss_fn):
            raise ValueError(
                f"loss_fn must be callable (prediction, label) → loss, got {self.loss_fn!r}"
            )


@dataclass
class StepResult:
    step: int  # steps completed by this trainer, including this one
    train_loss: float  # RMSE
    test_loss: float  # RMSE
    reg: float
    ok: bool = True
    message: str = ""


@dataclass
class Trainer:
    """Drive with ``step()``; change ``options`` between steps as you like."""

    model: torch.nn.Module
    dataset: dict
    options: TrainOptions = field(default_factory=TrainOptions)
    steps_done: int = 0
    bad_in_a_row: int = 0
    stopped: bool = False
    history: dict = field(
        default_factory=lambda: {"train_loss": [], "test_loss": [], "reg": [], "diverged": []}
    )

    def __post_init__(self):
        self.options.validate()
        validate_dataset(self.dataset, class_labels=self.options.loss_fn is not None)
        self.dataset = _in_dtype_of(self.model, self.dataset)
        _check_labels(self.model, self.dataset, self.options.loss_fn is not None)
        self.model.set_reference_input(self.dataset["train_input"])
        self._gen = torch.Generator().manual_seed(self.options.seed)
        self._opt = None
        self._twin = Float64Twin()  # what the optimiser moves once there are symbolic edges
        self._lr_scale = 1.0  # cut after a rolled-back step, recovered by good ones
        self.y_scale = _target_scale(self.dataset, self.options)

    def _optimizer(self, target):
        if self._opt is None:
            o, params = self.options, list(target.parameters())
            lr = o.lr * self._lr_scale
            if o.opt == "LBFGS":
                # Symbolic fine-tuning (the float64 twin, or a float64 model) must reach the
                # exact constants: a snapped product sat at RMSE 1.5e-5 because an MSE of 2e-10
                # changes by less than an absolute 1e-12 per iteration; the tutorial's toy in
                # float64 at 5e-6 (pykan: 3e-10). There, pykan's tolerances (1e-32): 1e-10.
                fine = any(layer.sym_funs for layer in target.layers)
                self._opt = LBFGS(
                    params,
                    lr=lr,
                    max_iter=o.lbfgs_iters,
                    history_size=10,
                    tolerance_grad=1e-32 if fine else 1e-9,
                    tolerance_change=1e-32 if fine else 1e-12,
                    tolerance_ys=1e-32 if fine else 1e-10,
                    line_search_fn="strong_wolfe",
                )
            else:
                self._opt = torch.optim.Adam(params, lr=lr)
        return self._opt

    def reset_optimizer(self) -> None:
        """Forget optimiser state (after grid changes, edits, or changed options)."""
        self._opt = None

    def _grid_due(self) -> bool:
        o = self.options
        every = max(1, o.stop_grid_update_step // max(1, o.grid_update_num))
        return (
            o.update_grid
            and o.start_grid_update_step <= self.steps_done < o.stop_grid_update_step
            and (self.steps_done % every == 0)
        )

    def _batch(self, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = data["train_input"], data["train_label"]
        b = self.options.batch
        if b <= 0 or b >= x.shape[0]:
            return x, y
        idx = torch.randperm(x.shape[0], generator=self._gen)[:b]
        return x[idx], y[idx]

    def step(self) -> StepResult:
        """One optimiser step (one LBFGS ``step`` call / one Adam update)."""
        model, o = self.model, self.options
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        target = self._twin.target(model)  # the model, or its float64 twin (see twin.py)
        data = self.dataset if target is model else self._twin.data(self.dataset)
        if self._twin.rebuilt:  # (the optimiser held the previous parameters)
            self.reset_optimizer()
        if self._grid_due():
            # The optimiser keeps its memory across grid updates, as pykan's does (the function
            # is kept; the coefficients move). Resetting L-BFGS here restarted it from steepest
            # descent ten times per fit, sparsified less, and left more hidden nodes after
            # pruning: the toy recipe recovered 9 of 24 (model, data) seeds that way, 20 of 24
            # keeping it (bench/README.md, session 5).
            target.update_grid(data["train_input"])
        x, y = self._batch(data)
        last = {}

        def closure():
            loss, last["mse"], last["reg"] = loss_and_grads(
                target,
                x,
                y,
                o.lamb,
                o.lamb_l1,
                o.lamb_entropy,
                o.loss_fn,
                self.y_scale,
                o.lamb_coef,
                o.lamb_coefdiff,
                o.reg_metric,
            )
            zero_frozen_grads(target)  # pykan's sp_trainable / sb_trainable = False
            return loss

        opt = self._optimizer(target)
        try:
            if o.singularity_avoiding:  # (the twin's layers, when it is the target)
                with avoid_singularities(target, o.y_th):
                    opt.step(closure)
            else:
                opt.step(closure)
            error = None
        except (RuntimeError, ValueError, IndexError) as exc:  # e.g. a singular line search
            error = f"{type(exc).__name__}: {exc}"
        self.steps_done += 1
        mse = float(last.get("mse", float("nan")))
        finite = math.isfinite(mse) and all(torch.isfinite(p).all() for p in target.parameters())
        if error or not finite:
            return self._roll_back(saved, error or "loss or parameters became NaN/inf")
        if target is not model:
            self._twin.write_back(model)
        with torch.no_grad():
            pred = model(self.dataset["test_input"])
            test = _root(float(_data_loss(pred, self.dataset["test_label"], o.loss_fn)))
        if not math.isfinite(test):
            return self._roll_back(saved, "the model's output became NaN/inf")
        self.bad_in_a_row = 0
        if self._lr_scale < 1.0:
            self._lr_scale = min(1.0, self._lr_scale * 2)
            self.reset_optimizer()
        result = StepResult(self.steps_done, _root(mse), test, float(last["reg"]))
        self._record(result)
        return result

    def _roll_back(self, saved: dict, why: str) -> StepResult:
        self.model.load_state_dict(saved)
        for layer in self.model.layers:
            layer.invalidate()
        self.reset_optimizer()
        self._lr_scale *= 0.1
        self.bad_in_a_row += 1
        self.history["diverged"].append(self.steps_done)
        if self.bad_in_a_row >= self.options.max_bad_steps:
            self.stopped = True
        last = self.history["train_loss"][-1] if self.history["train_loss"] else float("nan")
        last_test = self.history["test_loss"][-1] if self.history["test_loss"] else float("nan")
        return StepResult(
            self.steps_done,
            last,
            last_test,
            float("nan"),
            ok=False,
            message=f"step {self.steps_done} rolled back: {why}",
        )

    def _record(self, r: StepResult) -> None:
        self.history["train_loss"].append(r.train_loss)
        self.history["test_loss"].append(r.test_loss)
        self.history["reg"].append(r.reg)


def _target_scale(dataset: dict, options: TrainOptions) -> float:
    """σ for a scale-aware penalty: the training labels' std (1 for pykan's loss, class labels
    or a constant target)."""
    y = dataset["train_label"]
    if not options.scale_aware or options.loss_fn is not None or not y.is_floating_point():
        return 1.0
    sd = float(y.double().std()) if y.numel() > 1 else 0.0
    return sd if math.isfinite(sd) and sd > 1e-12 else 1.0


def _in_dtype_of(model, dataset: dict) -> dict:
    """The four tensors of a dataset in the model's dtype (float64 NumPy data and a float32
    model, say; integer inputs); class-index labels (integers, with a ``loss_fn``) stay. Other
    entries of the dict are left out."""
    dtype = next(model.parameters()).dtype

    def cast(key, t):
        keep = "label" in key and not t.is_floating_point() and t.dim() == 1
        if "input" in key:  # after prune_input: the kept columns of the original inputs
            t = model._select_inputs(t)
        return t if keep else t.to(dtype)

    return {key: cast(key, dataset[key]) for key in KEYS}


def _check_labels(model, dataset: dict, custom_loss: bool) -> None:
    """Labels that fit the model's outputs: ``(n, n_out)`` for the MSE; a custom loss also
    takes ``(n,)`` class indices in ``[0, n_out)``. (Broadcasting would otherwise train every
    output on one column, and a bad class index would look like a diverging step.)"""
    n_out = model.width_in[-1]
    for part in ("train", "test"):
        y = dataset[f"{part}_label"]
        if y.dim() == 1:  # (validate_dataset allows it only with a custom loss)
            if y.is_floating_point():
                continue  # e.g. a regression loss of its own: the loss_fn's business
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= n_out:
                raise ValueError(
                    f"{part}_label holds class indices in [{lo}, {hi}], but the model has "
                    f"{n_out} output(s): indices must be in [0, {n_out - 1}]"
                )
        elif y.shape[1] != n_out and not custom_loss:
            raise ValueError(
                f"{part}_label has {y.shape[1]} column(s), the model {n_out} output(s)"
            )


def fit(model, dataset, opt="LBFGS", steps=100, callback=None, metrics=None, **options) -> dict:
    """pykan's ``fit``: run ``steps`` steps; returns the history dict (RMSE losses as NumPy
    float64 scalars; with pykan's ``loss_fn``, the square root of that loss, as pykan records it).

    ``callback(result, trainer)`` runs after every step; returning ``False`` stops early.
    ``metrics``: callables taking no arguments (as pykan's), each called after every step and
    recorded under its ``__name__``. Divergence never raises: bad steps are rolled back and listed
    in ``history["diverged"]``. pykan's display-only keywords (``log``, ``display_metrics``,
    ``save_fig``, …) are accepted and ignored; its training keywords (``lamb_coef``,
    ``lamb_coefdiff``, ``reg_metric``, ``singularity_avoiding``, ``y_th``, ``batch``,
    ``loss_fn``, grid-update steps) are ``TrainOptions`` fields.
    """
    options = pykan_keywords("fit", options, *FIT_KEYWORDS, own=TrainOptions.__dataclass_fields__)
    if not is_int(steps, 0):
        raise ValueError(f"steps must be a whole number ≥ 0, got {steps!r}")
    metrics = list(metrics or ())
    for metric in metrics:
        if not callable(metric):
            raise ValueError(f"metrics must be callables (no arguments), got {metric!r}")
    trainer = Trainer(model, dataset, TrainOptions(opt=opt, **options))
    for metric in metrics:
        trainer.history[_name(metric)] = []
    for _ in range(int(steps)):
        result = trainer.step()
        for metric in metrics:
            trainer.history[_name(metric)].append(_scalar(metric()))
        if callback is not None and callback(result, trainer) is False:
            break
        if trainer.stopped:
            break
    return _pykan_history(trainer.history)


def _pykan_history(history: dict) -> dict:
    """The history with its losses as NumPy float64 scalars: plain floats to Python (and JSON),
    and ``.item()`` works, as on pykan's 0-d arrays."""
    out = dict(history)
    for key in ("train_loss", "test_loss", "reg"):
        out[key] = [np.float64(v) for v in history[key]]
    return out


def _name(metric) -> str:
    return getattr(metric, "__name__", type(metric).__name__)


def _scalar(v):
    return float(v.detach()) if isinstance(v, torch.Tensor) and v.numel() == 1 else v
