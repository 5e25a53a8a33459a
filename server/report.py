"""The one-page HTML report of a session: ``GET /api/sessions/{id}/report.html``.

A self-contained page (one ``<style>`` element, no script, no external resource), so it opens
from a file and under the server's CSP alike: the diagram inline (server/export.py), the formula
(MathML from kan_core.printers, which escapes every name) with its test error, each snapped edge
with its function, parameters and fit quality, the edit history and a dataset summary. Every
user string is escaped here; pure functions of their arguments.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape

from .export import fit_text
from .views import output_label

STYLE = """
body { font-family: system-ui, Helvetica, Arial, sans-serif; color: #0f172a; margin: 2rem auto;
  max-width: 60rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 1.8rem; }
.muted { color: #64748b; } .diagram svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.6rem; border-bottom: 1px solid #e2e8f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.formula { font-size: 1.2rem; overflow-x: auto; } .undone { text-decoration: line-through; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
"""
_PHI = re.compile(r"<mi>phi_(\d+)_(\d+)_(\d+)</mi>")
_UNSAFE_MATHML = re.compile(
    r"(?i)<\s*/?\s*(script|iframe|img|svg|style|a|foreignobject)\b|\son\w+\s*="
)


def _t(value) -> str:
    """Any value as escaped text ('–' for None)."""
    return "–" if value is None else escape(str(value))


def _num(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return escape(f"{v:.4g}")
    return escape(str(v))


def _table(head: list[str], rows: list[list[str]], nums: set[int] = frozenset()) -> str:
    """``rows`` are already-escaped cell strings."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if k in nums else f"<td>{c}</td>" for k, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def mathml_or_text(mathml: str | None, text: str) -> str:
    """Our printer's MathML (its names are escaped), placeholders ``phi_l_i_j`` shown as φ with
    the subscript l,i,j as on the page; anything that looks like markup beyond MathML falls back
    to the formula as escaped text."""
    if mathml and mathml.lstrip().startswith("<math") and not _UNSAFE_MATHML.search(mathml):
        return _PHI.sub(r"<msub><mi>φ</mi><mrow><mn>\1,\2,\3</mn></mrow></msub>", mathml)
    return f"<code>{escape(text)}</code>"


def formula_section(formula: dict, target: str | list[str], snap_edges: list[dict]) -> str:
    outputs = formula.get("outputs") or []
    if not outputs:
        return f'<p class="muted">{_t(formula.get("message") or "no formula yet")}</p>'
    lines = []
    for k, out in enumerate(outputs):
        name = output_label(target, k, len(outputs))
        lines.append(
            f'<div class="formula"><code>{escape(name)}</code> = '
            f"{mathml_or_text(out.get('mathml'), out.get('sympy', ''))}</div>"
        )
    if formula.get("complete") and formula.get("message"):  # a classifier's own terms
        facts = f"<p>{_t(formula['message'])}.</p>"
    elif formula.get("complete"):
        facts = (
            f"<p>Test RMSE of the formula: <b>{_num(formula.get('formula_rmse'))}</b>; "
            f"of the network: {_num(formula.get('network_rmse'))}.</p>"
        )
    elif formula.get("placeholders"):
        n = sum(1 for e in snap_edges if e["state"] == "symbolic")
        live = sum(1 for e in snap_edges if e["state"] != "pruned")
        facts = (
            f'<p class="muted">{n} of {live} live edges are snapped. φ with the subscript l,i,j '
            "is edge (l, i, j), still a learned spline.</p>"
        )
    else:
        facts = f'<p class="muted">{_t(formula.get("message"))}</p>'
    return "".join(lines) + facts


def snapped_section(snap: dict) -> str:
    labels = {(n["l"], n["i"]): n["label"] for n in snap["nodes"]}
    rows = []
    for e in snap["edges"]:
        fit = e.get("symbolic")
        if e["state"] != "symbolic" or not fit:
            continue
        to = e.get("to")
        dest = labels.get((e["l"] + 1, e["j"] if to is None else to), "?")
        rows.append(
            [
                _t(f"({e['l']},{e['i']},{e['j']})"),
                _t(f"{labels.get((e['l'], e['i']), '?')} → {dest}"),
                f"<code>{_t(fit['name'])}</code>",
                f"<code>{_t(fit_text(fit))}</code>",
                *(_num(fit.get(p)) for p in "abcd"),
                _num(fit.get("r2")),
            ]
        )
    if not rows:
        return '<p class="muted">No edge is snapped to a function yet.</p>'
    head = ["edge", "from → to", "function", "fit", "a", "b", "c", "d", "R²"]
    return _table(head, rows, nums={4, 5, 6, 7, 8})


def history_section(history: list[dict]) -> str:
    if not history:
        return '<p class="muted">No edits yet.</p>'
    items = "".join(
        f"<li{' class=undone' if h.get('undone') else ''}>{_t(h['summary'])} "
        f'<span class="muted">({_t(h["kind"])}, step {_t(h.get("step"))}'
        f"{', undone' if h.get('undone') else ''})</span></li>"
        for h in history
    )
    return f"<ol>{items}</ol>"


def dataset_section(data: dict) -> str:
    """``data``: kind, source text, train/test counts, and columns [{name, role, min, max}]."""
    rows = [
        [_t(c["name"]), _t(c["role"]), _num(c.get("min")), _num(c.get("max"))]
        for c in data.get("columns", [])
    ]
    intro = (
        f"<p>{_t(data.get('source'))} · {_num(data.get('train_num'))} training and "
        f"{_num(data.get('test_num'))} test samples.</p>"
    )
    return intro + _table(["column", "role", "min", "max"], rows, nums={2, 3})


def training_facts(snap: dict) -> str:
    """Shape, grid, step and the loss now (``loss_now``: after the last edit) or, without it,
    the last training step's."""
    width = ", ".join(str(w) for w in snap["width"])
    now = snap.get("loss_now")
    last = (snap.get("metrics") or [{}])[-1]
    train, test = (
        (now["train"], now["test"]) if now else (last.get("train_loss"), last.get("test_loss"))
    )
    return (
        f"<p>Network width [{escape(width)}], grid {_num(snap.get('grid'))}, "
        f"k {_num(snap.get('k'))}; step {_num(snap.get('step'))}; "
        f"train loss {_num(train)}, test loss {_num(test)} (RMSE).</p>"
    )


def build(snap: dict, formula: dict, data: dict, svg: str, target: str | list[str]) -> str:
    """The report page. ``svg``: the diagram (export.to_svg: escaped already)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KAN Workbench report · {escape(snap["id"])}</title>
<style>{STYLE}</style></head>
<body>
<h1>KAN Workbench report</h1>
<p class="muted">Session {escape(snap["id"])} · {escape(when)}</p>
<h2>Formula</h2>
{formula_section(formula, target, snap["edges"])}
<h2>Network</h2>
{training_facts(snap)}
<div class="diagram">{svg}</div>
<h2>Snapped edges</h2>
{snapped_section(snap)}
<h2>Edit history</h2>
{history_section(snap.get("history") or [])}
<h2>Dataset</h2>
{dataset_section(data)}
</body></html>
"""


def dataset_summary(
    dataset: dict, variables: list[str], target: str | list[str], spec: dict
) -> dict:
    """What the dataset section shows, from a session's dataset tensors and spec."""
    import torch

    x = torch.cat([dataset["train_input"], dataset["test_input"]]).double()
    y = torch.cat([dataset["train_label"], dataset["test_label"]]).double()
    y = y[:, None] if y.dim() == 1 else y  # a classifier's class indices: one column
    columns = [
        {"name": name, "role": "input", "min": float(x[:, k].min()), "max": float(x[:, k].max())}
        for k, name in enumerate(variables)
    ]
    for k in range(y.shape[1]):
        name = output_label(target, k, y.shape[1])
        columns.append(
            {
                "name": name,
                "role": "target",
                "min": float(y[:, k].min()),
                "max": float(y[:, k].max()),
            }
        )
    kind = spec.get("kind")
    if kind == "csv":
        source = "uploaded data (CSV)"
    elif spec.get("formula"):
        source = f"{kind or 'formula'}: {target} = {spec['formula']}"
    else:
        source = str(kind or "data")
    return {
        "source": source,
        "train_num": int(dataset["train_input"].shape[0]),
        "test_num": int(dataset["test_input"].shape[0]),
        "columns": columns,
    }
