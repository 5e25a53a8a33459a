"""Read-only views of a model as JSON-able dicts: edges, nodes, candidates, formula.

Pure functions of (model, dataset); the worker calls them between training steps, so they never
race a step. Floats are rounded to keep a 200-edge snapshot well under 1 MiB.
"""

from __future__ import annotations

import math
from typing import Any

import sympy
import torch

import kan_core
from kan_core.printers import fast_latex, fast_mathml

DIGITS = 4


def rnd(v: float, digits: int = DIGITS) -> float | None:
    """Round to ``digits`` significant digits; None for NaN/inf (JSON has no NaN)."""
    v = float(v)
    if not math.isfinite(v):
        return None
    if v == 0.0:
        return 0.0
    return round(v, digits - 1 - int(math.floor(math.log10(abs(v)))))


def rnd_list(t: torch.Tensor | list | None) -> list[float | None] | None:
    """``rnd`` for many values at once (vectorised: curves are most of a frame's work)."""
    if t is None:
        return None
    t = torch.as_tensor(t, dtype=torch.float64).detach().reshape(-1)
    finite = torch.isfinite(t)
    mag = t.abs().where(finite & (t != 0), torch.ones_like(t))
    scale = 10.0 ** (DIGITS - 1 - torch.floor(torch.log10(mag)))
    out = (torch.round(t * scale) / scale).where(finite, torch.zeros_like(t)).tolist()
    if not bool(finite.all()):
        out = [v if ok else None for v, ok in zip(out, finite.tolist(), strict=True)]
    return out


def symbolic_fit(
    model: kan_core.KAN, l: int, i: int, j: int, known: dict | None = None
) -> dict[str, Any] | None:
    """The symbolic function fixed on edge (l, i, j) with its trained a, b, c, d and the R² it
    had when fixed, or None. ``known`` (the server's record of the fit) supplies R² for models
    saved before the model kept it."""
    fit = model.symbolic_fit(l, i, j)
    if fit is None:
        return None
    r2 = fit.r2
    if not math.isfinite(r2) and known and known.get("name") == fit.name:
        r2 = known.get("r2")
    return {
        "name": fit.name,
        "a": rnd(fit.a),
        "b": rnd(fit.b),
        "c": rnd(fit.c),
        "d": rnd(fit.d),
        "r2": rnd(r2) if r2 is not None and math.isfinite(r2) else None,
        "complexity": float(fit.complexity),
    }


def edges(
    model: kan_core.KAN, n: int, fits: dict[str, dict], scores: list[torch.Tensor]
) -> list[dict[str, Any]]:
    """Every edge: state, score (``model.edge_scores()``), symbolic fit and ``n`` curve
    samples on its grid range."""
    with torch.no_grad():
        curves = model.edge_curves(n=n)
    out = []
    for l, (xs, ys) in enumerate(curves):
        layer_scores = rnd_list(scores[l])  # (in, out) flattened row-major
        n_out = ys.shape[2]
        flat = rnd_list(ys.permute(1, 2, 0))  # (in, out, n) row-major, one rounding pass
        y_rows = [flat[k : k + n] for k in range(0, len(flat), n)]
        x_rows = rnd_list(xs.T)
        layout = model.layouts[l + 1]
        to = layout.sub_to_node() if layout.has_mult else None
        for i in range(xs.shape[1]):
            x = x_rows[i * n : (i + 1) * n]
            for j in range(n_out):
                edge = {
                    "l": l,
                    "i": i,
                    "j": j,
                    "state": model.edge_state(l, i, j),
                    "score": layer_scores[i * n_out + j] or 0.0,
                    "symbolic": symbolic_fit(model, l, i, j, fits.get(f"{l},{i},{j}")),
                    "curve": {"x": x, "y": y_rows[i * n_out + j]},
                }
                if to is not None:  # j is a factor of a mult node: the node it feeds
                    edge["to"] = to[j]
                out.append(edge)
    return out


def nodes(
    model: kan_core.KAN,
    variables: list[str],
    target: str | list[str],
    edge_list: list[dict[str, Any]],
    scores: list[torch.Tensor],
) -> list[dict[str, Any]]:
    """Every node with a label and score (``model.node_scores()``); a node is pruned when no
    live edge passes through it."""
    width = model.width_in
    live_in, live_out = set(), set()
    for e in edge_list:
        if e["state"] != "pruned":
            live_out.add((e["l"], e["i"]))
            live_in.add((e["l"] + 1, e.get("to", e["j"])))
    out = []
    for l, w in enumerate(width):
        for i in range(w):
            if l == 0:
                label, alive = (variables[i] if i < len(variables) else f"x{i}"), (l, i) in live_out
            elif l == len(width) - 1:
                label, alive = output_label(target, i, w), (l, i) in live_in
            else:
                label, alive = f"h{l}.{i}", (l, i) in live_in and (l, i) in live_out
            node = {
                "l": l,
                "i": i,
                "label": label,
                "score": rnd(scores[l][i]) or 0.0,
                "state": "active" if alive else "pruned",
            }
            if model.layouts[l].is_mult(i):
                node["kind"] = "mult"
            out.append(node)
    return out


def output_label(target: str | list[str], i: int, n_out: int) -> str:
    """Output ``i``'s name: its own target column's (a multi-output regression names one per
    output), the target's for one output, else ``target`` + index (a classifier's ``class0``)."""
    if isinstance(target, list):
        return target[i] if i < len(target) else f"y_{i + 1}"
    return target if n_out == 1 else f"{target}{i}"


REFIT_MAX_EDGES = 64  # near-ties are tried in a refitted copy of models up to this size


def candidates(
    model: kan_core.KAN,
    l: int,
    i: int,
    j: int,
    topk: int,
    exclude: list[str],
    n: int,
    dataset: dict | None = None,
) -> list[dict[str, Any]]:
    """Top-k symbolic candidates for one edge, each with its curve on the edge's sample x.
    With ``dataset`` and a small model, near-ties are ordered by the model's test RMSE after a
    short refit with each (``refit_rmse``), not by per-edge R² alone."""
    fits = model.suggest_symbolic(l, i, j, topk=topk, exclude=tuple(exclude))
    refit: dict[str, float] = {}
    if dataset is not None and sum(1 for _ in model.edges()) <= REFIT_MAX_EDGES:
        fits, refit = kan_core.rerank_by_refit(model, l, i, j, fits, dataset)
    curve = model.edge_curve(l, i, j, n=n)
    x = torch.as_tensor(curve["x"], dtype=torch.float32).reshape(-1)
    out = []
    for f in fits:
        with torch.no_grad():
            y = f.curve(x)
        out.append(
            {
                "name": f.name,
                "a": rnd(f.a),
                "b": rnd(f.b),
                "c": rnd(f.c),
                "d": rnd(f.d),
                "r2": rnd(f.r2),
                "complexity": float(f.complexity),
                "curve": {"x": rnd_list(x), "y": rnd_list(y)},
                "refit_rmse": rnd(refit[f.name]) if f.name in refit else None,
            }
        )
    return out


def fit_dict(fit) -> dict[str, Any]:
    return {
        "name": fit.name,
        "a": rnd(fit.a),
        "b": rnd(fit.b),
        "c": rnd(fit.c),
        "d": rnd(fit.d),
        "r2": rnd(fit.r2),
        "complexity": float(fit.complexity),
    }


def formula(model: kan_core.KAN, dataset: dict, variables: list[str]) -> dict[str, Any]:
    """The symbolic formula; while incomplete, spline edges appear as ``phi_l_i_j(...)``."""
    complete = bool(kan_core.formula_complete(model))
    exprs = kan_core.symbolic_formula(model, variables, placeholders=not complete)
    outputs = [
        {"sympy": str(e), "latex": kan_core.to_latex(e), "mathml": kan_core.to_mathml(e)}
        if complete
        # placeholder formulas can be large (~8 KB at 150 edges): unsorted text, fast MathML
        else {
            "sympy": sympy.sstr(e, order="none"),
            "latex": fast_latex(e),
            "mathml": fast_mathml(e),
        }
        for e in exprs
    ]
    result = {
        "complete": complete,
        "placeholders": not complete,
        "variables": variables,
        "outputs": outputs,
        "python": None,
        "formula_rmse": None,
        "network_rmse": None,
        "message": None
        if complete
        else "edges that are not symbolic yet appear as phi_l_i_j(...) placeholders",
    }
    if complete:
        result["python"] = kan_core.to_python(exprs, variables)
        if dataset["test_label"].dim() == 1:  # a classifier's class indices
            result.update(_class_fidelity(model, dataset, exprs, variables))
            return result
        fid = kan_core.formula_fidelity(model, dataset)
        result["formula_rmse"] = rnd(fid["formula_rmse"])
        result["network_rmse"] = rnd(fid["network_rmse"])
        # where this formula sits on Discover's plot (complexity, test error / target spread)
        spread = float(dataset["test_label"].double().std())
        if len(exprs) == 1 and spread > 0 and fid["formula_rmse"] is not None:
            result["complexity"] = kan_core.complexity(exprs[0])
            result["test_nrmse"] = rnd(fid["formula_rmse"] / spread)
    return result


def _class_fidelity(model: kan_core.KAN, dataset: dict, exprs, variables: list[str]) -> dict:
    """A classifier's formula (one logit per class) against its network on the test data: the
    RMS distance between their logits (``formula_rmse``; ``network_rmse`` 0, the reference) and
    both accuracies in the message."""
    x, labels = dataset["test_input"], dataset["test_label"]
    with torch.no_grad():
        net = model(x).double()
    pred = kan_core.compile_formula(exprs, variables)(x).double()
    gap = float(torch.sqrt(torch.mean((pred - net) ** 2)))

    def acc(logits: torch.Tensor) -> str:
        return f"{100 * float((logits.argmax(1) == labels).double().mean()):.1f} %"

    return {
        "formula_rmse": rnd(gap) if math.isfinite(gap) else None,
        "network_rmse": 0.0,
        "message": f"A classifier: the formula's logits differ from the network's by "
        f"{rnd(gap)} (RMS on test data); test accuracy: formula {acc(pred)}, network {acc(net)}",
    }
