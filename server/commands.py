"""Commands a route submits to a session's worker (they run between training steps).

Each edit snapshots the model before, applies the change, commits the edit to the store, then
publishes an event; only then does the route acknowledge it. A failing edit restores the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kan_core

from . import snapshot, views
from .sessions import CommandError, Session
from .store import EditDamaged, StorageError

EditFn = Callable[[], tuple[str, list[str], dict[str, Any] | None]]


def _result(
    s: Session,
    kind: str,
    summary: str,
    warnings: list[str] | None = None,
    detail: dict | None = None,
) -> dict[str, Any]:
    return {
        "ok": True,
        "kind": kind,
        "summary": summary,
        "status": s.status,
        "step": s.step,
        "warnings": warnings or [],
        "detail": detail,
    }


def edit(s: Session, kind: str, params: dict[str, Any], apply: EditFn) -> dict[str, Any]:
    """Apply, persist (committed before this returns) and announce one undoable edit; if it
    cannot be applied or saved, memory is left as it was (and the store too)."""
    before, fits = s.model.to_bytes(), dict(s.fits)

    def revert() -> None:
        s.set_model(kan_core.KAN.from_bytes(before))
        s.fits.clear()
        s.fits.update(fits)

    try:
        summary, warnings, detail = apply()
    except Exception:
        revert()
        raise
    after = s.model.to_bytes()
    try:
        s.store.record_edit(
            s.id, kind, params, summary, before, after, s.step, list(s.hub.metrics), fits=s.fits
        )
    except Exception as exc:  # not on disk means not accepted: undo it in memory too
        revert()
        why = f"could not save the edit ({type(exc).__name__}); not applied"
        if isinstance(exc, StorageError):  # says why: "could not save: the disk is full; ..."
            why = str(exc)
        raise CommandError(503, why) from exc
    # Committed: only now is the edit acknowledged (and visible to viewers).
    s.commit(after)
    s.mark_changed()
    data = {**params, "warnings": warnings, "loss": s.current_loss()}
    s.hub.publish_event(kind, summary, data, snapshot.meta(s))
    return _result(s, kind, summary, warnings, detail)


def _saved(method, *args) -> None:
    """A store write outside ``edit``; a storage fault is a 503 saying why (nothing changed)."""
    try:
        method(*args)
    except StorageError as exc:
        raise CommandError(503, str(exc)) from exc


def check_edge(s: Session, l: int, i: int, j: int) -> str:
    width, subs = s.model.width_in, s.model.width_out
    if not (0 <= l < len(width) - 1 and 0 <= i < width[l] and 0 <= j < subs[l + 1]):
        raise CommandError(404, f"no edge ({l}, {i}, {j}) in a network of width {s.model.width}")
    return s.model.edge_state(l, i, j)


def check_node(s: Session, l: int, i: int) -> None:
    width = s.model.width_in
    if not (0 <= l < len(width) and 0 <= i < width[l]):
        raise CommandError(404, f"no node ({l}, {i}) in a network of width {s.model.width}")


def check_name(name: str) -> None:
    if name not in kan_core.SYMBOLIC_LIB:
        raise CommandError(
            422, f"name: unknown function {name!r}; choose from {sorted(kan_core.SYMBOLIC_LIB)}"
        )


# --- training -------------------------------------------------------------------------------
def train(s: Session, steps: int) -> dict[str, Any]:
    s.start_training(steps)
    return _result(s, "train", f"training {steps} steps from step {s.step}")


def pause(s: Session) -> dict[str, Any]:
    s.pause()
    return _result(s, "pause", f"paused at step {s.step}")


def reset(s: Session) -> dict[str, Any]:
    s.pause()

    def apply():
        s.set_model(s.fresh_model())
        s.restart_schedule()
        s.fits.clear()
        return "reset the model to its initial weights", [], None

    return edit(s, "reset", {}, apply)


def update_settings(s: Session, patch: dict[str, Any]) -> dict[str, Any]:
    train = {**s.spec["train"], **patch}
    _saved(s.store.save_spec, s.id, {**s.spec, "train": train})  # first: may refuse (503)
    s.spec["train"] = train
    s.drop_trainer()
    s.mark_changed()
    s.hub.publish_event("settings", "training settings changed", patch)
    return _result(s, "settings", "training settings changed", detail=s.spec["train"])


# --- pruning --------------------------------------------------------------------------------
def prune_edge(s: Session, l: int, i: int, j: int) -> dict[str, Any]:
    if check_edge(s, l, i, j) == "pruned":
        raise CommandError(409, f"edge ({l}, {i}, {j}) is already pruned")

    def apply():
        warnings = list(s.model.prune_edge(l, i, j) or [])
        return f"pruned edge ({l}, {i}, {j})", warnings, None

    return edit(s, "prune_edge", {"l": l, "i": i, "j": j}, apply)


def restore_edge(s: Session, l: int, i: int, j: int) -> dict[str, Any]:
    if check_edge(s, l, i, j) != "pruned":
        raise CommandError(409, f"edge ({l}, {i}, {j}) is not pruned")

    def apply():
        s.model.restore_edge(l, i, j)
        return f"restored edge ({l}, {i}, {j})", [], None

    return edit(s, "restore_edge", {"l": l, "i": i, "j": j}, apply)


def prune_node(s: Session, l: int, i: int, restore: bool) -> dict[str, Any]:
    check_node(s, l, i)
    if l == 0 or l == len(s.model.width) - 1:
        raise CommandError(409, "only hidden nodes can be pruned or restored; prune edges instead")
    state = s.model.node_state(l, i)
    if (state == "pruned") != restore:  # a repeat would record an edit that changes nothing
        raise CommandError(409, f"node ({l}, {i}) is already {'active' if restore else 'pruned'}")

    def apply():
        out = (s.model.restore_node if restore else s.model.prune_node)(l, i)
        verb = "restored" if restore else "pruned"
        return f"{verb} node ({l}, {i})", [w for w in (out or []) if isinstance(w, str)], None

    return edit(s, "restore_node" if restore else "prune_node", {"l": l, "i": i}, apply)


def auto_prune(s: Session, node_th: float, edge_th: float) -> dict[str, Any]:
    def apply():
        new = s.model.prune(node_th=node_th, edge_th=edge_th, shrink=False)
        warnings = list(getattr(new, "prune_warnings", []) or [])
        s.set_model(new)
        return f"auto-pruned (node_th={node_th:g}, edge_th={edge_th:g})", warnings, None

    res = edit(s, "auto_prune", {"node_th": node_th, "edge_th": edge_th}, apply)
    # The recipe's second phase: the sparsity penalty did its work; the pruned network is
    # fine-tuned without it (a setting, so Undo of the prune leaves it; the user may set it again).
    if s.spec["train"].get("lamb", 0.0) > 0:
        update_settings(s, {"lamb": 0.0})
        res["warnings"].append("λ set to 0: train again to fine-tune the pruned network")
    return res


def refine(s: Session, grid: int) -> dict[str, Any]:
    if grid > s.settings.max_grid:
        raise CommandError(422, f"grid: at most {s.settings.max_grid}")

    def apply():
        old = int(s.model.config.grid)
        s.set_model(s.model.refine(grid, x=s.dataset["train_input"]))
        return f"refined the grid from {old} to {grid}", [], None

    return edit(s, "refine", {"grid": grid}, apply)


# --- symbolic -------------------------------------------------------------------------------
def suggestions(s: Session, l: int, i: int, j: int, topk: int) -> dict[str, Any]:
    if check_edge(s, l, i, j) == "pruned":
        raise CommandError(409, f"edge ({l}, {i}, {j}) is pruned: restore it first")
    rejected = s.rejects.get(f"{l},{i},{j}", [])
    cands = views.candidates(s.model, l, i, j, topk, rejected, s.settings.curve_samples, s.dataset)
    return {"l": l, "i": i, "j": j, "candidates": cands, "rejected": rejected}


def fix_symbolic(s: Session, l: int, i: int, j: int, name: str) -> dict[str, Any]:
    check_name(name)
    if check_edge(s, l, i, j) == "pruned":
        raise CommandError(409, f"edge ({l}, {i}, {j}) is pruned: restore it first")

    def apply():
        fit = views.fit_dict(s.model.fix_symbolic(l, i, j, name))
        s.fits[f"{l},{i},{j}"] = fit
        return f"fixed edge ({l}, {i}, {j}) to {name} (R² {fit['r2']})", [], fit

    return edit(s, "fix_symbolic", {"l": l, "i": i, "j": j, "name": name}, apply)


def unfix_symbolic(s: Session, l: int, i: int, j: int) -> dict[str, Any]:
    if check_edge(s, l, i, j) != "symbolic":
        raise CommandError(409, f"edge ({l}, {i}, {j}) is not symbolic")

    def apply():
        s.model.unfix_symbolic(l, i, j)
        s.fits.pop(f"{l},{i},{j}", None)
        return f"unfixed edge ({l}, {i}, {j})", [], None

    return edit(s, "unfix_symbolic", {"l": l, "i": i, "j": j}, apply)


def reject(s: Session, l: int, i: int, j: int, name: str) -> dict[str, Any]:
    """Remember a rejected candidate: suggestions and auto-symbolic skip it from now on."""
    check_name(name)
    check_edge(s, l, i, j)
    key = f"{l},{i},{j}"
    names = s.rejects.get(key, [])
    if name not in names:
        names = [*names, name]
        _saved(s.store.save_rejects, s.id, {**s.rejects, key: names})  # first: may refuse (503)
        s.rejects[key] = names
    s.hub.publish_event(
        "rejected",
        f"rejected {name} for edge ({l}, {i}, {j})",
        {"l": l, "i": i, "j": j, "name": name},
        snapshot.meta(s),
    )
    return _result(
        s, "reject", f"rejected {name} for edge ({l}, {i}, {j})", detail={"rejected": names}
    )


def unreject(s: Session, l: int, i: int, j: int, name: str) -> dict[str, Any]:
    """Take back a rejection: the candidate is suggested (and auto-symbolic may use it) again."""
    check_name(name)
    check_edge(s, l, i, j)
    key = f"{l},{i},{j}"
    names = s.rejects.get(key, [])
    if name not in names:
        raise CommandError(409, f"{name} is not rejected for edge ({l}, {i}, {j})")
    left = [n for n in names if n != name]
    rejects = {k: v for k, v in s.rejects.items() if k != key}
    if left:
        rejects[key] = left
    _saved(s.store.save_rejects, s.id, rejects)  # first: may refuse (503)
    s.rejects.clear()
    s.rejects.update(rejects)
    summary = f"un-rejected {name} for edge ({l}, {i}, {j})"
    s.hub.publish_event(
        "unrejected", summary, {"l": l, "i": i, "j": j, "name": name}, snapshot.meta(s)
    )
    return _result(s, "unreject", summary, detail={"rejected": left})


def auto_symbolic(
    s: Session, r2_threshold: float | None, merge_nodes: bool = True
) -> dict[str, Any]:
    exclude = {tuple(int(v) for v in k.split(",")): tuple(v) for k, v in s.rejects.items()}

    def apply():
        before = set(s.model.pruned_nodes)
        fits = s.model.auto_symbolic(
            r2_threshold=r2_threshold, exclude=exclude, merge_nodes=merge_nodes
        )
        merged = sorted(set(s.model.pruned_nodes) - before)  # nodes that shared a job
        detail = {}
        for (l, i, j), fit in fits.items():
            s.fits[f"{l},{i},{j}"] = detail[f"{l},{i},{j}"] = views.fit_dict(fit)
        summary = f"auto-symbolic fixed {len(fits)} edge(s)"
        if merged:
            nodes = ", ".join(f"({l},{i})" for l, i in merged)
            summary += f"; hidden node(s) {nodes} merged into the rest (their job was shared)"
        return summary, [], {"fits": detail, "merged_nodes": [list(n) for n in merged]}

    params = {"r2_threshold": r2_threshold, "merge_nodes": merge_nodes}
    return edit(s, "auto_symbolic", params, apply)


# --- history --------------------------------------------------------------------------------
def undo(s: Session, redo: bool = False) -> dict[str, Any]:
    """Restore the model from before (after) an edit; a running train goes on from there."""
    move = s.store.redo if redo else s.store.undo
    word = "redo" if redo else "undo"

    def load(blob: bytes) -> tuple[kan_core.KAN, bytes]:  # runs before the store commits
        return kan_core.KAN.from_bytes(blob), blob

    try:
        res = move(s.id, s.step, list(s.hub.metrics), load=load)
    except StorageError as exc:
        raise CommandError(503, str(exc)) from exc
    except EditDamaged as exc:  # its row cannot be read: nothing was changed
        raise CommandError(409, f"cannot {word}: {exc}; nothing changed") from exc
    except Exception as exc:  # the stored snapshot cannot be read: nothing was changed
        msg = f"cannot {word}: the saved model is damaged ({type(exc).__name__}); nothing changed"
        raise CommandError(409, msg) from exc
    if res is None:
        raise CommandError(409, f"nothing to {word}")
    rec, (model, blob) = res
    s.set_model(model)
    s.commit(blob)
    summary = f"{word}: {rec.summary}"
    data = {"seq": rec.seq, "kind": rec.kind, "loss": s.current_loss()}
    s.hub.publish_event(word, summary, data, snapshot.meta(s))
    return _result(s, word, summary, detail={"seq": rec.seq, "kind": rec.kind})
