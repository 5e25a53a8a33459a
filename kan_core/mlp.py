"""``MLP``: pykan 0.2.8's multilayer perceptron baseline (its Interp tutorials compare KANs with
it): linear layers with SiLU between them, pykan's attribution, sparsity regulariser, ``fit``,
``swap`` and ``auto_swap``.

Differences from pykan: the weights are drawn from the model's own generator (``seed``; pykan
reseeds torch's global generator), and ``fit`` samples its batches from a generator seeded by
``seed`` (pykan: NumPy's global one). Nothing is printed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn.utils import skip_init

from .compat import check_device, pykan_keywords

__all__ = ["MLP"]

_ACTS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}


class MLP(nn.Module):
    """``MLP(width=[2, 5, 1], act='silu', seed=0)``: ``(batch, width[0])`` → ``(batch, width[-1])``."""

    def __init__(self, width, act="silu", save_act=True, seed=0, device="cpu"):
        super().__init__()
        check_device(device)
        if not (isinstance(width, list | tuple) and len(width) >= 2):
            raise ValueError(f"width must list ≥ 2 layer sizes, got {width!r}")
        if not all(isinstance(w, int) and w >= 1 for w in width):
            raise ValueError(f"width entries must be positive integers, got {width!r}")
        if act not in _ACTS:
            raise ValueError(f"act must be one of {sorted(_ACTS)}, got {act!r}")
        self.width, self.depth, self.seed = list(width), len(width) - 1, int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        pairs = zip(width[:-1], width[1:], strict=False)
        self.linears = nn.ModuleList(skip_init(nn.Linear, a, b) for a, b in pairs)
        with torch.no_grad():  # torch's default init (U(±1/√fan_in)), from our generator
            for lin in self.linears:
                bound = 1.0 / math.sqrt(lin.in_features)
                lin.weight.copy_((torch.rand(lin.weight.shape, generator=gen) * 2 - 1) * bound)
                lin.bias.copy_((torch.rand(lin.bias.shape, generator=gen) * 2 - 1) * bound)
        self.act_fun = _ACTS[act]()
        self.save_act = save_act
        self.cache_data = None
        self.acts = None
        self.device = "cpu"

    @property
    def w(self) -> list[torch.Tensor]:
        return [lin.weight for lin in self.linears]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.width[0]:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"input must be (batch, {self.width[0]}), got {shape}")
        x = x.to(self.linears[0].weight.dtype)
        self.cache_data = x.detach()
        acts, scales, wa = [], [], []
        for n, lin in enumerate(self.linears):
            if self.save_act:
                std = x.std(0)
                acts.append(x.detach())
                if n > 0:
                    scales.append(std)
                wa.append(std[None, :] * lin.weight)  # (out, in)
            x = lin(x)
            if n < self.depth - 1:
                x = self.act_fun(x)
            elif self.save_act:
                scales.append(x.std(0))
        if self.save_act:
            self.acts, self.acts_scale, self.wa_forward = acts, scales, wa
        return x

    def get_act(self, x=None) -> None:
        """A forward pass on ``x`` (a tensor or a dataset dict; default: the last input) that
        records the activations."""
        if isinstance(x, dict):
            x = x["train_input"]
        if x is None:
            if self.cache_data is None:
                raise ValueError("missing input data x: pass x, or run the model on data first")
            x = self.cache_data
        save, self.save_act = self.save_act, True
        try:
            self.forward(x)
        finally:
            self.save_act = save

    def attribute(self):
        """pykan's MLP attribution: ``edge(l)[j, i] = |σ(h_l,i)·W_l[j, i]| · node(l+1, j) /
        (σ(h_l+1,j) + 1e-4)``, ``node(l, i) = Σ_j edge(l)[j, i] / √width[l]``, from 1 at the
        outputs. Keeps ``node_scores``, ``edge_scores`` (``(out, in)``) and returns them."""
        if self.acts is None:
            self.get_act()
        node = torch.ones(self.width[-1])
        nodes, edges = [node], []
        for l in range(self.depth, 0, -1):
            edge = self.wa_forward[l - 1].abs() * (node / (self.acts_scale[l - 1] + 1e-4))[:, None]
            node = edge.sum(0) / math.sqrt(self.width[l - 1])
            edges.insert(0, edge)
            nodes.insert(0, node)
        self.node_scores, self.edge_scores = nodes, edges
        self.wa_backward = edges
        return nodes, edges

    @property
    def feature_score(self) -> torch.Tensor:
        return self.attribute()[0][0]

    def reg(self, reg_metric, lamb_l1, lamb_entropy) -> torch.Tensor:
        """pykan's MLP regulariser: L1 + entropy (of rows and columns) of the weights
        (``"w"``), the scaled weights (``"act"``), the attribution (``"fa"``) or the node
        scales (``"a"``)."""
        if reg_metric == "fa":
            self.attribute()
        sources = {"w": "w", "act": "wa_forward", "fa": "wa_backward", "a": "acts_scale"}
        if reg_metric not in sources:
            raise ValueError(f"reg_metric must be one of {sorted(sources)}, got {reg_metric!r}")
        total = torch.zeros(())
        for v in getattr(self, sources[reg_metric]):
            v = v.abs()
            if v.dim() == 2:
                p_row = v / (v.sum(1, keepdim=True) + 1)
                p_col = v / (v.sum(0, keepdim=True) + 1)
                ent = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
                ent = ent - (p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
            else:
                p = v / (v.sum() + 1)
                ent = -(p * torch.log2(p + 1e-4)).sum()
            total = total + lamb_l1 * v.sum() + lamb_entropy * ent
        return total

    get_reg = reg

    def fit(self, dataset, opt="LBFGS", steps=100, lamb=0.0, lamb_l1=1.0, lamb_entropy=2.0,
            loss_fn=None, lr=1.0, batch=-1, metrics=None, reg_metric="w", **pykan_kw):  # fmt: skip
        """pykan's ``MLP.fit``; returns its history (``train_loss``/``test_loss`` RMSE and
        ``reg`` as 0-d arrays per step, and each metric's values)."""
        kw = pykan_keywords(
            "MLP.fit",
            pykan_kw,
            display=("log", "in_vars", "out_vars", "beta", "display_metrics"),
            at_default={"device": "cpu"},
        )
        del kw
        return _fit(self, dataset, opt, steps, lamb, lamb_l1, lamb_entropy, loss_fn, lr,
                       batch, metrics, reg_metric)  # fmt: skip

    # --- node order ----------------------------------------------------------------------------
    @property
    def connection_cost(self) -> torch.Tensor:
        """Σ |W| × |position of input − position of output|, nodes evenly on [0, 1]."""
        with torch.no_grad():
            return sum(_cost(lin.weight.abs()) for lin in self.linears)

    def swap(self, l, i1, i2) -> None:
        """Exchange hidden nodes ``i1`` and ``i2`` of layer ``l`` (the function is unchanged)."""
        l, i1, i2 = int(l), int(i1), int(i2)
        if not 0 < l < self.depth:
            raise IndexError(f"l must be a hidden layer (1 … {self.depth - 1}), got {l}")
        if not (0 <= i1 < self.width[l] and 0 <= i2 < self.width[l]):
            raise IndexError(f"nodes {i1}, {i2} out of range (layer {l} has {self.width[l]})")
        perm = list(range(self.width[l]))
        perm[i1], perm[i2] = i2, i1
        with torch.no_grad():
            before, after = self.linears[l - 1], self.linears[l]
            before.weight.copy_(before.weight[perm])
            before.bias.copy_(before.bias[perm])
            after.weight.copy_(after.weight[:, perm])

    def auto_swap(self) -> None:
        """pykan's ``auto_swap``: node by node, the swap that lowers ``connection_cost`` most."""
        for l in range(1, self.depth):
            for i in range(self.width[l]):
                costs = []
                for j in range(self.width[l]):
                    self.swap(l, i, j)
                    costs.append(float(self.connection_cost))
                    self.swap(l, i, j)
                self.swap(l, i, int(np.argmin(costs)))

    def tree(self, x=None, in_var=None, style="tree", sym_th=1e-3, sep_th=1e-1,
             skip_sep_test=False, verbose=False):  # fmt: skip
        """pykan's ``tree`` (see ``KAN.tree``) on ``x`` (default: the last input)."""
        from .hypothesis import tree

        del verbose
        x = self.cache_data if x is None else x
        if x is None:
            raise ValueError("missing input data x: pass x, or run the model on data first")
        return tree(self, x, in_var, style, sym_th, sep_th, skip_sep_test)

    def plot(self, beta=3, scale=1.0, metric="w"):
        """The network drawn as pykan draws it (matplotlib figure); see ``kan_core.plot``."""
        from .plot import plot_mlp

        return plot_mlp(self, beta=beta, scale=scale, metric=metric)


def _cost(t: torch.Tensor) -> torch.Tensor:
    n_out, n_in = t.shape
    pos_out = (torch.arange(n_out, dtype=t.dtype) + 0.5) / n_out
    pos_in = (torch.arange(n_in, dtype=t.dtype) + 0.5) / n_in
    return ((pos_out[:, None] - pos_in[None, :]).abs() * t).sum()


def _fit(model, dataset, opt, steps, lamb, lamb_l1, lamb_entropy, loss_fn, lr, batch, metrics,
         reg_metric) -> dict:  # fmt: skip
    from .lbfgs import LBFGS

    for key in ("train_input", "train_label", "test_input", "test_label"):
        if key not in dataset:
            raise ValueError(f"dataset is missing {key!r}")
    if opt not in ("LBFGS", "Adam"):
        raise ValueError(f"opt must be 'LBFGS' or 'Adam', got {opt!r}")
    loss_fn = loss_fn or (lambda p, y: torch.mean((p - y) ** 2))
    params = list(model.parameters())
    if opt == "Adam":
        optimizer = torch.optim.Adam(params, lr=lr)
    else:
        optimizer = LBFGS(params, lr=lr, history_size=10, line_search_fn="strong_wolfe",
                          tolerance_grad=1e-32, tolerance_change=1e-32, tolerance_ys=1e-32)  # fmt: skip
    metrics = list(metrics or [])
    history = {"train_loss": [], "test_loss": [], "reg": [], **{m.__name__: [] for m in metrics}}
    x_tr, y_tr = dataset["train_input"], dataset["train_label"]
    x_te, y_te = dataset["test_input"], dataset["test_label"]
    n_tr, n_te = x_tr.shape[0], x_te.shape[0]
    size = n_tr if batch == -1 or batch > n_tr else int(batch)
    size_te = n_te if batch == -1 or batch > n_tr else min(int(batch), n_te)
    gen = torch.Generator().manual_seed(model.seed)
    keep_save = model.save_act
    model.save_act = keep_save and lamb > 0
    state = {}

    def objective(ids):
        pred = model(x_tr[ids])
        state["loss"] = loss_fn(pred, y_tr[ids].to(pred.dtype))
        state["reg"] = (
            model.get_reg(reg_metric, lamb_l1, lamb_entropy) if model.save_act else torch.zeros(())
        )
        return state["loss"] + lamb * state["reg"]

    try:
        for step in range(int(steps)):
            if step == steps - 1:
                model.save_act = keep_save
            ids = torch.randperm(n_tr, generator=gen)[:size]
            if opt == "LBFGS":

                def closure(ids=ids):
                    optimizer.zero_grad()
                    total = objective(ids)
                    total.backward()
                    return total

                optimizer.step(closure)
            else:
                optimizer.zero_grad()
                objective(ids).backward()
                optimizer.step()
            te = torch.randperm(n_te, generator=gen)[:size_te]
            with torch.no_grad():
                test = loss_fn(model(x_te[te]), y_te[te].to(x_te.dtype))
            for m in metrics:
                v = m()
                history[m.__name__].append(float(v.item() if hasattr(v, "item") else v))
            history["train_loss"].append(np.asarray(math.sqrt(float(state["loss"].detach()))))
            history["test_loss"].append(np.asarray(math.sqrt(float(test))))
            history["reg"].append(np.asarray(float(state["reg"].detach())))
    finally:
        model.save_act = keep_save
    return history
