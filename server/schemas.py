"""Pydantic models for every request, response and stream message.

Requests are strict about ranges so a bad body is a 422 naming the field; limits that depend on
settings (edges, grid, steps) are checked in ``sessions.py`` and also answered with 422.
Stream messages form a discriminated union on ``type`` (see docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["idle", "training", "paused", "error"]
EdgeState = Literal["active", "pruned", "symbolic"]
Finite = Annotated[float, Field(allow_inf_nan=False)]
# a layer's size: n nodes, or [n_sum, n_mult] (pykan's MultKAN)
WidthEntry = (
    Annotated[int, Field(ge=1, le=10_000)]
    | Annotated[list[Annotated[int, Field(ge=0, le=10_000)]], Field(min_length=2, max_length=2)]
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------------
class TrainSettings(Strict):
    """Optimiser settings (as in ``KAN.fit``); applied to the next train run."""

    opt: Literal["LBFGS", "Adam"] = "LBFGS"
    lr: Finite = Field(1.0, gt=0, le=100)
    # the first phase trains with a sparsity penalty (scale-aware below, so it means the same in
    # any units); Auto-prune sets it to 0 for the fine-tuning phase
    lamb: Finite = Field(0.002, ge=0, le=100)
    lamb_l1: Finite = Field(1.0, ge=0, le=100)
    lamb_entropy: Finite = Field(2.0, ge=0, le=100)
    update_grid: bool = True
    grid_update_num: int = Field(10, ge=0, le=1000)
    stop_grid_update_step: int = Field(50, ge=0, le=1_000_000)
    batch: int = Field(-1, ge=-1, le=1_000_000)
    # LBFGS iterations per step. Fewer than kan_core's 20 (pykan's) keeps a step short, so an edit
    # waits at most one short step; LBFGS keeps its memory across steps, so training is the same.
    lbfgs_iters: int = Field(5, ge=1, le=100)
    # λ means the same whatever the target's units (kan_core's TrainOptions.scale_aware); False
    # gives pykan's loss exactly
    scale_aware: bool = True
    # the data loss: the MSE, or pykan's classification loss (cross-entropy on the last layer's
    # logits, labels are class indices), which the classification presets use (fixed at create)
    loss: Literal["mse", "cross_entropy"] = "mse"
    # a run stops by itself (status paused, event "paused" with data.reason "plateau") once
    # the training loss — and the penalty, while λ > 0 — fell by less than plateau_rel_tol over
    # the last plateau_patience steps (medians against the window before; kan_core.plateau);
    # never while grid updates are still scheduled
    stop_on_plateau: bool = True
    plateau_patience: int = Field(20, ge=2, le=10_000)
    plateau_rel_tol: Finite = Field(1e-3, gt=0, le=0.5)


class TrainSettingsPatch(Strict):
    """Any subset of :class:`TrainSettings`."""

    opt: Literal["LBFGS", "Adam"] | None = None
    lr: Finite | None = Field(None, gt=0, le=100)
    lamb: Finite | None = Field(None, ge=0, le=100)
    lamb_l1: Finite | None = Field(None, ge=0, le=100)
    lamb_entropy: Finite | None = Field(None, ge=0, le=100)
    update_grid: bool | None = None
    grid_update_num: int | None = Field(None, ge=0, le=1000)
    stop_grid_update_step: int | None = Field(None, ge=0, le=1_000_000)
    batch: int | None = Field(None, ge=-1, le=1_000_000)
    lbfgs_iters: int | None = Field(None, ge=1, le=100)
    scale_aware: bool | None = None
    stop_on_plateau: bool | None = None
    plateau_patience: int | None = Field(None, ge=2, le=10_000)
    plateau_rel_tol: Finite | None = Field(None, gt=0, le=0.5)


class SessionCreate(Strict):
    """Exactly one source: ``preset``, ``formula`` (+ ``ranges``) or ``csv`` (text)."""

    preset: str | None = Field(None, max_length=100)
    formula: str | None = Field(None, max_length=2000)
    ranges: list[tuple[Finite, Finite]] | tuple[Finite, Finite] | None = Field(
        None, description="one [lo, hi] for all variables, or one per variable"
    )
    csv: str | None = Field(None, description="CSV text with a header row")
    target: str | None = Field(
        None, max_length=200, description="CSV target column (default: last)"
    )
    width: list[WidthEntry] | None = Field(
        None,
        min_length=2,
        max_length=64,
        description="nodes per layer; a hidden entry may be [sum nodes, mult nodes] (KAN 2.0)",
    )
    mult_arity: int = Field(2, ge=2, le=4, description="factors per multiplication node")
    grid: int = Field(5, ge=1, le=10_000)
    k: int = Field(3, ge=1, le=10)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    train_num: int = Field(1000, ge=2, le=1_000_000)
    test_num: int = Field(1000, ge=1, le=1_000_000)
    test_fraction: Finite = Field(0.2, gt=0, lt=1, description="CSV rows held out for testing")
    train: TrainSettings = Field(default_factory=TrainSettings)

    @model_validator(mode="after")
    def _one_source(self) -> SessionCreate:
        given = [n for n in ("preset", "formula", "csv") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'preset', 'formula' or 'csv'")
        return self


class TrainRequest(Strict):
    steps: int = Field(ge=1, le=1_000_000)


class AutoPruneRequest(Strict):
    node_th: Finite = Field(1e-2, ge=0, le=1e6)
    edge_th: Finite = Field(3e-2, ge=0, le=1e6)


class RefineRequest(Strict):
    grid: int = Field(ge=1, le=10_000)


class SymbolicRequest(Strict):
    name: str = Field(min_length=1, max_length=50)


class AutoSymbolicRequest(Strict):
    r2_threshold: Finite | None = Field(None, ge=-1e6, le=1)
    merge_nodes: bool = True  # prune hidden nodes whose job the rest takes over first


# --- responses --------------------------------------------------------------------------------
class Preset(BaseModel):
    name: str
    title: str
    formula: str
    width: list[WidthEntry]
    ranges: list[list[float]]
    description: str = ""
    task: Literal["regression", "classification"] = "regression"
    look_for: str = Field("", description="what a lesson should watch for (classification)")


class PresetPreview(BaseModel):
    variables: list[str]
    x: list[float]
    y: list[float] | None = Field(description="null when the target has one variable")
    z: list[list[float | None]] | list[float | None] = Field(description="z[iy][ix], or a curve")


class FormulaCheckRequest(Strict):
    formula: str = Field(max_length=2000)


class FormulaCheck(BaseModel):
    ok: bool
    message: str | None
    variables: list[str]
    latex: str | None


class SessionCreated(BaseModel):
    id: str
    owner_token: str
    viewer_token: str
    url: str
    viewer_url: str
    status: Status
    step: int


class Curve(BaseModel):
    x: list[float]
    y: list[float]


class SymbolicFit(BaseModel):
    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float | None = Field(description="null when unknown (e.g. a fit restored by undo)")
    complexity: float


class Candidate(SymbolicFit):
    curve: Curve
    refit_rmse: float | None = Field(
        None, description="near-ties only: the model's test RMSE after a short refit with it"
    )


class Edge(BaseModel):
    l: int
    i: int
    j: int
    state: EdgeState
    score: float
    symbolic: SymbolicFit | None = None
    curve: Curve | None = None
    to: int | None = Field(
        None, description="only into a layer with mult nodes: the node whose factor j is"
    )


class Node(BaseModel):
    l: int
    i: int
    label: str
    score: float
    state: Literal["active", "pruned"]
    kind: Literal["sum", "mult"] = Field("sum", description="a mult node multiplies its factors")


class MetricPoint(BaseModel):
    step: int
    train_loss: float | None
    test_loss: float | None
    reg: float | None


class EditEntry(BaseModel):
    seq: int
    kind: str
    summary: str
    step: int
    undone: bool


class SessionSnapshot(BaseModel):
    id: str
    protocol: int
    status: Status
    error: str | None = None
    step: int
    width: list[WidthEntry]
    grid: int
    k: int
    seed: int
    variables: list[str]
    source: dict
    train: TrainSettings
    metrics: list[MetricPoint]
    edges: list[Edge]
    nodes: list[Node]
    history: list[EditEntry]
    can_undo: bool
    can_redo: bool
    rejects: dict[str, list[str]]
    # the owner's selection, mirrored by a class that follows (docs/classes.md)
    focus: dict[str, list[int] | None] | None = None


class EditResult(BaseModel):
    ok: bool = True
    kind: str
    summary: str
    status: Status
    step: int
    warnings: list[str] = []
    detail: dict | None = None


class EdgeDetail(BaseModel):
    l: int
    i: int
    j: int
    state: EdgeState
    symbolic: SymbolicFit | None
    x: list[float | None]
    y: list[float | None]
    knots: list[float | None]
    data: list[float | None] | None = Field(description="inputs seen by the edge (≤ 256, sorted)")
    data_range: list[float | None] | None


class Suggestions(BaseModel):
    l: int
    i: int
    j: int
    candidates: list[Candidate]
    rejected: list[str]


class FormulaOutput(BaseModel):
    sympy: str
    latex: str
    mathml: str


class Formula(BaseModel):
    complete: bool
    placeholders: bool = Field(description="non-symbolic edges appear as phi_l_i_j(...)")
    variables: list[str]
    outputs: list[FormulaOutput]
    python: str | None
    formula_rmse: float | None
    network_rmse: float | None
    message: str | None = None
    complexity: int | None = Field(None, description="nodes of the formula's expression tree")
    test_nrmse: float | None = Field(None, description="formula_rmse / std of the test target")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    protocol: int
    sessions_live: int


# --- stream messages (server -> client) -------------------------------------------------------
class SnapshotMessage(SessionSnapshot):
    type: Literal["snapshot"] = "snapshot"


class MetricsMessage(BaseModel):
    type: Literal["metrics"] = "metrics"
    status: Status
    step: int
    points: list[MetricPoint] = Field(description="points since the last metrics message")


class EdgesMessage(BaseModel):
    type: Literal["edges"] = "edges"
    step: int
    edges: list[Edge] = Field(description="only edges whose curve, state or fit changed")
    nodes: list[Node]


class SessionMeta(BaseModel):
    """What an edit may change besides edges (also part of the snapshot)."""

    width: list[WidthEntry]
    grid: int
    k: int
    history: list[EditEntry]
    can_undo: bool
    can_redo: bool
    rejects: dict[str, list[str]]


class EventMessage(BaseModel):
    type: Literal["event"] = "event"
    seq: int
    kind: str = Field(description="trained, prune_edge, fix_symbolic, undo, error, ...")
    message: str
    status: Status
    step: int
    data: dict | None = None
    meta: SessionMeta | None = Field(None, description="with edits, undo/redo and rejects")


StreamMessage = Annotated[
    SnapshotMessage | MetricsMessage | EdgesMessage | EventMessage, Field(discriminator="type")
]


# --- Discover ---------------------------------------------------------------------------------
class DiscoverRequest(Strict):
    budget_s: Finite = Field(30, gt=0, le=300, description="wall-clock seconds for the search")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class DiscoverCandidate(BaseModel):
    k: int
    formula: str = Field(description="sympy text, in the session's variable names")
    latex: str
    mathml: str
    test_nrmse: float = Field(description="test RMSE / std of the target")
    complexity: int = Field(description="nodes of the formula's expression tree")
    width: list[WidthEntry]
    source: str = Field("", description="which part of the search found it")


class DiscoverState(BaseModel):
    """Also the stream's ``{"type": "discover", ...}`` frame."""

    front: list[DiscoverCandidate] = Field(description="the Pareto front, by complexity")
    best: int | None = Field(description="index into front of the suggested formula")
    done: bool
    budget_s: float
    elapsed_s: float
    error: str | None = None
