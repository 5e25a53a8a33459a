"""Pydantic models of the class routes (docs/classes.md). Requests are strict (extra fields
are 422); responses are documented shapes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .schemas import Finite, TrainSettings, WidthEntry

Index = Annotated[int, Field(ge=0, le=100_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Challenge(Strict):
    """A hidden formula (students see only the data sampled from it), or a CSV (students see
    its training rows only; the held-out test rows' labels rank them)."""

    formula: str | None = Field(None, min_length=1, max_length=2000)
    ranges: list[tuple[Finite, Finite]] | tuple[Finite, Finite] | None = None
    csv: str | None = Field(None, min_length=1, description="CSV text with a header row")
    target: str | None = Field(
        None, min_length=1, max_length=200, description="CSV target column (default: last)"
    )
    test_fraction: Finite = Field(
        0.2, gt=0, lt=1, description="CSV rows held out (their labels never reach a student)"
    )
    answer: str | None = Field(
        None, min_length=1, max_length=2000, description="CSV only: revealed at the end"
    )
    width: list[WidthEntry] | None = Field(None, min_length=2, max_length=20)
    grid: int = Field(5, ge=1, le=1000)
    k: int = Field(3, ge=1, le=10)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    train_num: int = Field(1000, ge=2, le=100_000)
    test_num: int = Field(1000, ge=2, le=100_000)
    train: TrainSettings = Field(default_factory=TrainSettings)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.formula is None) == (self.csv is None):
            raise ValueError("challenge: give exactly one of formula or csv")
        if self.csv is None and (self.target is not None or self.answer is not None):
            raise ValueError("challenge: target and answer go with csv (a formula is its answer)")
        if self.csv is not None and self.ranges is not None:
            raise ValueError("challenge: ranges go with formula (a CSV has its own values)")
        if self.csv is not None and (
            (self.width is not None and self.width[-1] not in (1, [1, 0]))
            or self.train.loss != "mse"
        ):
            raise ValueError(
                "challenge: a CSV challenge has one numeric target (width ending in 1 output,"
                " the mse loss); several outputs or class labels are not ranked yet"
            )
        return self


class ClassCreate(Strict):
    """Exactly one of ``session`` (with that session's owner token) or ``challenge``."""

    session: str | None = Field(None, min_length=1, max_length=64)
    challenge: Challenge | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.session is None) == (self.challenge is None):
            raise ValueError("give exactly one of session or challenge")
        return self


class ClassCreated(BaseModel):
    id: str
    code: str
    teacher_token: str
    join_url: str


class JoinRequest(Strict):
    code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., max_length=200, description="1-40 characters once trimmed")


class Joined(BaseModel):
    class_id: str
    student_token: str
    name: str


class FollowRequest(Strict):
    session: str | None = Field(None, min_length=1, max_length=64)


class PauseAllRequest(Strict):
    paused: bool = True


class FocusRequest(Strict):
    edge: tuple[Index, Index, Index] | None = None
    node: tuple[Index, Index] | None = None


class FocusState(BaseModel):
    edge: list[int] | None
    node: list[int] | None


class SessionRef(BaseModel):
    """A session as the reader may see it: the viewer token for the teacher only."""

    id: str
    viewer_token: str | None = None


class OwnSession(BaseModel):
    """The student's own copy: they own it."""

    id: str
    owner_token: str
    viewer_token: str


class FollowTarget(BaseModel):
    session: str
    viewer_token: str
    name: str | None = None  # the student shown; None: the teacher's session


class Revealed(BaseModel):
    formula: str
    latex: str | None = None


class LayerEdges(BaseModel):
    """One layer of a student's network for the dashboard's mini diagram."""

    inputs: int  # nodes feeding the layer
    outputs: int  # nodes (or multiplication subnodes) it feeds
    live: int  # active spline edges
    pruned: int
    symbolic: int
    edges: str | None = Field(
        None,
        description="one letter per edge (i, j) at i*outputs+j: l live, p pruned, s symbolic;"
        " null for a large network (counts only)",
    )


class StudentCard(BaseModel):
    name: str
    session: SessionRef | None
    status: str | None = None
    step: int | None = None
    test_rmse: float | None = None
    live_edges: int | None = None
    symbolic_edges: int | None = None
    formula: str | None = None
    complete: bool = False
    joined: float
    layers: list[LayerEdges] | None = None  # the mini diagram (null until first computed)


class Me(BaseModel):
    name: str
    session: OwnSession | None


class Source(BaseModel):
    id: str
    owner_token: str
    viewer_token: str
    formula: str | None = None  # a CSV challenge's answer, if it was given


class ClassView(BaseModel):
    id: str
    code: str
    join_url: str
    challenge: bool
    paused: bool
    ended: bool
    handed_out: bool
    follow: FollowTarget | None
    revealed: Revealed | None
    teacher_session: SessionRef | None = None
    source: Source | None = None
    me: Me | None = None
    students: list[StudentCard]


class ClassState(BaseModel):
    code: str
    challenge: bool
    follow: FollowTarget | None
    paused: bool
    ended: bool
    handed_out: bool
    revealed: Revealed | None
    me: Me | None = None


class LeaderboardRow(BaseModel):
    name: str
    test_nrmse: float | None
    complexity: int | None
    formula: str | None
    complete: bool = False
    step: int | None = None


class HandoutResult(BaseModel):
    handed_out: int
    students: int


class PauseAllResult(BaseModel):
    paused: bool
    sessions: int


class LanInfo(BaseModel):
    addresses: list[str]
    port: int
    bound_to: str
    hint: str | None = None
