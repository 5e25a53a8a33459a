"""KAN 2.0 attribution in the workbench: node and edge importance by pykan's ``attribute``
(kan_core.attribution, backward from the outputs), and the owner's "prune inputs below …".

Reads stay off the training worker (as server/reads.py): the worker only hands out a copy of the
model (a few ms; the committed model if it is busy), and the scores are computed on a thread.
Pruning is an ordinary undoable edit on the worker (commands.edit), kind ``prune_inputs``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import torch

import kan_core
from kan_core.attribution import attribute

from . import commands
from .sessions import CommandError, Session
from .views import rnd

COPY_WAIT_S = 1.0  # how long a read waits for the worker's copy before using committed bytes
MAX_VALUES = 4_000_000  # per-edge activation values one layer may hold (16 MB in float32)
MIN_ROWS = 64


def scores(model: kan_core.KAN, x: torch.Tensor) -> dict[str, Any]:
    """Every node's and edge's attribution score on the samples ``x`` (pykan's numbers:
    ``node_scores[l][i]``, ``edge_scores[l][j, i]`` for edge ``(l, i, j)``), and the largest
    edge score (the page draws ``score / max_edge``)."""
    with torch.no_grad():
        node_scores, edge_scores = attribute(model, x)
    nodes = [
        {"l": l, "i": i, "score": rnd(v)}
        for l, layer in enumerate(node_scores)
        for i, v in enumerate(layer.tolist())
    ]
    edges = [
        {"l": l, "i": i, "j": j, "score": rnd(v)}
        for l, layer in enumerate(edge_scores)
        for j, row in enumerate(layer.tolist())
        for i, v in enumerate(row)
    ]
    top = max((float(e["score"] or 0.0) for e in edges), default=0.0)
    return {"nodes": nodes, "edges": edges, "max_edge": rnd(top)}


def scene_scores(result: dict[str, Any]) -> dict[str, dict]:
    """``scores`` as export.scene wants them: each edge relative to the largest."""
    top = float(result["max_edge"] or 0.0) or 1.0
    return {
        "edges": {(e["l"], e["i"], e["j"]): (e["score"] or 0.0) / top for e in result["edges"]},
        "nodes": {(n["l"], n["i"]): n["score"] for n in result["nodes"]},
    }


async def model_copy(s: Session) -> kan_core.KAN:
    """The live model, copied between steps on the worker; the committed one if it is busy."""
    fut = s.submit(lambda s: s.model.copy(), s)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), COPY_WAIT_S)
    except TimeoutError:
        fut.cancel()
    return await asyncio.to_thread(kan_core.KAN.from_bytes, s.committed_bytes)


def samples(model: kan_core.KAN, x: torch.Tensor) -> torch.Tensor:
    """Evenly spaced rows of ``x``, few enough that each layer's per-edge activations
    ``(rows, in, out)`` stay within ``MAX_VALUES`` (the scores are standard deviations over
    the rows: a few hundred estimate them well; all 100k rows of a wide layer would take GBs)."""
    widest = max(layer.in_dim * layer.out_dim for layer in model.layers)
    rows = max(MIN_ROWS, MAX_VALUES // max(widest, 1))
    if x.shape[0] <= rows:
        return x
    return x[torch.linspace(0, x.shape[0] - 1, rows).round().long()]


async def read(s: Session) -> dict[str, Any]:
    model = await model_copy(s)
    x = samples(model, s.dataset["train_input"])
    return await asyncio.to_thread(scores, model, x)


def prune_inputs(s: Session, threshold: float) -> dict[str, Any]:
    """Worker command: prune every live input node whose attribution is below ``threshold``
    (pykan's ``prune_input`` rule, but the network keeps its shape, so the edit is undone as any
    other). Refused if none is below it, or if every input would go."""
    node_scores, _ = attribute(s.model, samples(s.model, s.dataset["train_input"]))
    inputs = node_scores[0].tolist()
    live = [i for i in range(len(inputs)) if _input_live(s.model, i)]
    low = [i for i in live if inputs[i] < threshold]
    names = [s.variables[i] if i < len(s.variables) else f"x{i}" for i in low]
    if not low:
        raise CommandError(409, f"no live input has an attribution below {threshold:g}")
    if len(low) == len(live):
        raise CommandError(
            409, f"every live input is below {threshold:g}; pruning them would leave nothing"
        )

    def apply():
        warnings = []
        for i in low:  # "x_i no longer reaches the output" is what was asked for: not a warning
            cut = s.model.prune_node(0, i) or []
            warnings += [w for w in cut if not w.endswith("no longer reaches the output")]
        listed = ", ".join(f"{n} ({rnd(inputs[i])})" for n, i in zip(names, low, strict=True))
        return f"pruned inputs below attribution {threshold:g}: {listed}", warnings, None

    params = {"threshold": threshold, "inputs": low}
    return commands.edit(s, "prune_inputs", params, apply)


def _input_live(model: kan_core.KAN, i: int) -> bool:
    return bool((model.layers[0].mask[i] > 0).any())
