"""Hand-out: each student's own session, made from the class's session (docs/classes.md).

A class from a session forks its *current* state, taken once per hand-out on its worker between
steps: model, loss history, fits, rejects, spec, CSV and (in the store) the edit history, so undo
works in the copy. A challenge's copy carries only the data: a CSV session of the hidden source's
rows (:func:`challenge_csv`, the same train/test split), so no formula travels to a student;
a CSV challenge's copy carries its training rows only (:func:`train_rows_csv`).
Blocking (store writes, the worker's answer): call off the event loop.
"""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

import torch

from .class_schemas import Challenge
from .class_store import StudentRecord
from .data import SpecError
from .schemas import SessionCreate, TrainSettings
from .sessions import CommandError, Session
from .store import SessionRecord, StorageError

if TYPE_CHECKING:
    from .classes import Classes, Room
    from .manager import SessionManager

CAPTURE_WAIT_S = 10.0


def challenge_csv(spec: dict[str, Any], dataset: dict) -> tuple[str, str, float]:
    """The source's data as CSV text whose rebuild (data.build_dataset, kind "csv") gives the
    same train and test rows in the same order: rows are placed where the seeded permutation
    will pick them. Returns (csv text, target column, test_fraction). Values keep 9 significant
    digits: float32 survives the round trip exactly."""
    xtr, ytr = dataset["train_input"], dataset["train_label"]
    xte, yte = dataset["test_input"], dataset["test_label"]
    n_test, n = xte.shape[0], xtr.shape[0] + xte.shape[0]
    rows = torch.cat([torch.cat([xte, yte], 1), torch.cat([xtr, ytr], 1)]).tolist()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(spec["seed"])).tolist()
    table: list[list[float]] = [[]] * n
    for k, at in enumerate(perm):
        table[at] = rows[k]
    variables = list(spec["variables"])
    target = next(t for t in ("y", "target", "label", "output") if t not in variables)
    lines = [",".join([*variables, target])]
    lines += [",".join(f"{v:.9g}" for v in row) for row in table]
    return "\n".join(lines) + "\n", target, n_test / n


def train_rows_csv(spec: dict[str, Any], dataset: dict) -> tuple[str, str, float]:
    """A CSV challenge's copy: the source's *training* rows only (its held-out rows, and so
    their labels, stay on the server), under the CSV's own column names. The copy splits them
    again with the same fraction, for a test figure of its own."""
    table = torch.cat([dataset["train_input"], dataset["train_label"]], 1).tolist()
    lines = [",".join([*spec["variables"], spec["target"]])]
    lines += [",".join(f"{v:.9g}" for v in row) for row in table]
    return "\n".join(lines) + "\n", spec["target"], spec["test_fraction"]


def student_csv(spec: dict[str, Any], dataset: dict) -> tuple[str, str, float]:
    """What a challenge's copy is made from: (csv text, target column, test_fraction)."""
    if spec["kind"] == "csv":
        return train_rows_csv(spec, dataset)
    return challenge_csv(spec, dataset)


def source_session(manager: SessionManager, ch: Challenge) -> tuple[Session, dict[str, Any]]:
    """A challenge's hidden source session and what its class record keeps of the challenge.
    SpecError (422) for bad input, or data too large to hand out."""
    common = dict(width=ch.width, grid=ch.grid, k=ch.k, seed=ch.seed, train=ch.train)
    if ch.csv is None:
        req = SessionCreate(
            formula=ch.formula,
            ranges=ch.ranges,
            train_num=ch.train_num,
            test_num=ch.test_num,
            **common,
        )
        record = ch.model_dump(include={"formula", "ranges"})
    else:
        req = SessionCreate(csv=ch.csv, target=ch.target, test_fraction=ch.test_fraction, **common)
        record = {"kind": "csv", "answer": ch.answer}
    s = manager.create(req)
    try:
        csv_text = student_csv(s.spec, s.dataset)[0]
    except Exception:
        manager.delete(s.id)
        raise
    limit = manager.settings.max_upload_bytes
    if len(csv_text.encode()) > limit:
        manager.delete(s.id)
        raise SpecError(
            f"challenge: its data would be over {limit} bytes of CSV; use fewer samples"
        )
    return s, record


def capture(classes: Classes, room: Room) -> dict[str, Any]:
    """What every copy of this hand-out starts from."""
    sid = room.rec.session_id
    s = classes.manager.get(sid) if sid else None
    if s is None:
        raise CommandError(409, "the class's session no longer exists; nothing to hand out")
    if room.challenge:
        csv_text, target, fraction = student_csv(s.spec, s.dataset)
        return {"csv": csv_text, "target": target, "test_fraction": fraction, "spec": s.spec}

    def take(s: Session) -> dict[str, Any]:  # on the worker, between steps: consistent
        return {
            "model": s.model.to_bytes(),
            "step": s.step,
            "metrics": list(s.hub.metrics),
            "fits": copy.deepcopy(s.fits),
            "rejects": copy.deepcopy(s.rejects),
            "spec": copy.deepcopy(s.spec),
            "csv": s.csv,
            "source": s.id,
        }

    try:
        return s.submit(take, s).result(CAPTURE_WAIT_S)
    except TimeoutError:
        raise CommandError(503, "the teacher's session is busy; try again") from None


def give_copy(classes: Classes, room: Room, st: StudentRecord, state: dict[str, Any]) -> None:
    """Make ``st``'s session (none if they have one) and load it, so the dashboard shows it."""
    with room.lock:
        if st.session_id is not None:
            return
        if room.challenge:
            sid, viewer = _copy_data(classes, state)
        else:
            sid, viewer = _fork(classes, state)
        try:
            classes.store.set_student_session(room.rec.id, st.seq, sid)
        except StorageError as exc:
            raise CommandError(503, str(exc)) from exc
        st.session_id = sid
        room.viewer_tokens[sid] = viewer
        if "step" in state:
            step = state["step"]
            classes.figures.seed(sid, "paused" if step else "idle", step, state["metrics"])
    try:
        classes.manager.get(sid)
    except CommandError:
        pass  # no room for more live sessions now: it loads when its student opens it


def _copy_data(classes: Classes, state: dict[str, Any]) -> tuple[str, str]:
    spec = state["spec"]
    req = SessionCreate(
        csv=state["csv"],
        target=state["target"],
        test_fraction=state["test_fraction"],
        width=spec["width"],
        mult_arity=spec.get("mult_arity", 2),
        grid=spec["grid"],
        k=spec["k"],
        seed=spec["seed"],
        train=TrainSettings(**spec["train"]),
    )
    s = classes.manager.create(req)
    return s.id, s.viewer_token


def _fork(classes: Classes, state: dict[str, Any]) -> tuple[str, str]:
    settings, store = classes.settings, classes.manager.store
    try:
        if store.count_sessions() >= settings.max_sessions:
            raise CommandError(429, f"at most {settings.max_sessions} sessions")
        rec = SessionRecord(
            id=secrets.token_urlsafe(9),
            owner_token=secrets.token_urlsafe(24),
            viewer_token=secrets.token_urlsafe(24),
            spec=copy.deepcopy(state["spec"]),
            model=state["model"],
            csv=state["csv"],
            step=state["step"],
            rejects=copy.deepcopy(state["rejects"]),
            metrics=list(state["metrics"]),
            fits=copy.deepcopy(state["fits"]),
        )
        store.fork(state["source"], rec)
    except StorageError as exc:
        raise CommandError(503, str(exc)) from exc
    return rec.id, rec.viewer_token
