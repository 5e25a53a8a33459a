"""The network diagram for taking out of the workbench: a standalone SVG and a PNG.

The picture is the page's (docs/web.md): inputs at the bottom, the output on top, each edge a
wire from its input node through a box holding its mini curve to its output node, symbolic edges
red with their function's name, mult nodes ×, input and output names. It is built from a session
snapshot (``snapshot.get``: edges with curve samples, nodes, width) as a list of shapes
(:func:`scene`), written out by :func:`to_svg` or rasterised by ``raster.to_png`` (Pillow: a wheel
with no system libraries). Pure functions: no I/O, no session.

Every user string (CSV column names are hostile input) reaches the SVG escaped, with the
characters XML 1.0 forbids replaced, and shortened to ``MAX_LABEL`` characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html import escape

ACTIVE, SYMBOLIC, PRUNED, INK, BOX_STROKE = "#1d4ed8", "#b91c1c", "#94a3b8", "#0f172a", "#cbd5e1"
BOX_ASPECT, MAX_BOX_W = 1.45, 120.0  # as the page (web/js/views/network.js)
MAX_LABEL = 40
FONT = "system-ui, Helvetica, Arial, sans-serif"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Shape:
    """One drawing primitive. ``kind``: 'path' (``points``, open; ``closed`` for a polygon),
    'rect' (``box`` = x, y, w, h), 'circle' (``box`` = cx, cy, r), 'text' (``box`` = x, y; the
    text's baseline centre unless ``anchor`` says otherwise)."""

    kind: str
    points: tuple = ()
    box: tuple = ()
    stroke: str | None = None
    fill: str | None = None
    width: float = 1.0
    opacity: float = 1.0
    dash: tuple = ()
    text: str = ""
    size: float = 12.0
    bold: bool = False
    anchor: str = "middle"
    halo: bool = False  # a white outline behind text (labels over curves)
    title: str = ""  # a tooltip in the SVG


@dataclass
class Scene:
    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)


def clean(text: str, limit: int = MAX_LABEL) -> str:
    """A user string fit for a label: XML-forbidden characters replaced, at most ``limit``."""
    text = _XML_BAD.sub("\ufffd", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_counts(width: list) -> list[int]:
    """Nodes per layer: n, or n_sum + n_mult for pykan's nested ``[n_sum, n_mult]``."""
    return [w[0] + w[1] if isinstance(w, list | tuple) else int(w) for w in width]


def _best_grid(n: int, avail_w: float, avail_h: float) -> dict:
    """Rows × cols for ``n`` boxes: the fewest rows whose boxes are nearly the largest."""
    options = []
    for rows in range(1, n + 1):
        cols = math.ceil(n / rows)
        cell_w, cell_h = avail_w / cols, avail_h / rows
        w = min(MAX_BOX_W, cell_w * 0.86, cell_h * 0.86 * BOX_ASPECT)
        options.append(
            {"cols": cols, "rows": rows, "cell_w": min(cell_w, MAX_BOX_W * 1.3), "cell_h": cell_h}
            | {"w": w, "h": w / BOX_ASPECT}
        )
        if cell_h * BOX_ASPECT <= cell_w:
            break
    largest = max(o["w"] for o in options)
    return next(o for o in options if o["w"] >= 0.7 * largest)


def layout(width: list[int], subs: list[int], W: float, H: float) -> dict:
    """Node centres ``(l, i)`` and edge boxes ``(l, i, j)`` (centre x, y, w, h) in a W×H area;
    ``subs``: where each layer's edges end (a mult node's factors are subnodes)."""
    L = len(width)
    pad_x, pad_top, pad_bottom = 36.0, 40.0, 44.0
    avail_w = W - 2 * pad_x
    row_gap = (H - pad_top - pad_bottom) / max(L - 1, 1)
    node_r = max(5.0, min(10.0, row_gap * 0.06))

    def row_y(l: int) -> float:
        return H - pad_bottom - l * row_gap

    nodes = {}
    for l, n in enumerate(width):
        spacing = min(avail_w / max(n, 1), 170.0)
        for i in range(n):
            nodes[(l, i)] = (W / 2 + (i - (n - 1) / 2) * spacing, row_y(l))
    boxes, font = {}, 12.0
    for l in range(L - 1):
        nin, nout = width[l], subs[l + 1]
        n = nin * nout
        if n == 0:
            continue
        g = _best_grid(n, avail_w, row_gap - 2 * node_r - max(24.0, row_gap * 0.32))
        font = min(font, max(8.0, g["h"] * 0.3))
        ymid = (row_y(l) + row_y(l + 1)) / 2
        for idx in range(n):
            r, c = divmod(idx, g["cols"])
            in_row = min(g["cols"], n - r * g["cols"])
            x = W / 2 + (c - (in_row - 1) / 2) * g["cell_w"]
            y = ymid + ((g["rows"] - 1) / 2 - r) * g["cell_h"]
            boxes[(l, *divmod(idx, nout))] = (x, y, g["w"], g["h"])
    return {"nodes": nodes, "boxes": boxes, "node_r": node_r, "font": round(font)}


def canvas_size(width: list[int], subs: list[int]) -> tuple[float, float]:
    """A size that gives every box room: wide layers widen the picture, deep nets heighten it."""
    widest = max([*width, *(min(width[l] * subs[l + 1], 12) for l in range(len(width) - 1))])
    return float(min(1800, max(520, 120 * widest))), float(110 + 230 * (len(width) - 1))


def importance(score: float | None) -> float:
    """The page's opacity for an importance score: ``max(0.18, tanh(3·score))``."""
    return max(0.18, math.tanh(3 * (score or 0.0)))


def curve_points(curve: dict | None, box: tuple) -> tuple:
    """The curve's samples scaled into its box (each box has its own y scale)."""
    if not curve or not curve.get("x"):
        return ()
    xs, ys = curve["x"], curve["y"]
    good = [v for v in ys if v is not None]
    if not good:
        return ()
    bx, by, bw, bh = box
    keep = max(8, int(bw / 2))  # a point per 2 units of box width is all a picture can show
    if len(xs) > keep:
        stride = math.ceil(len(xs) / keep)
        idx = [*range(0, len(xs) - 1, stride), len(xs) - 1]
        xs, ys = [xs[k] for k in idx], [ys[k] for k in idx]
    lo, hi = min(good), max(good)
    span, mid = max(hi - lo, 0.02), (hi + lo) / 2
    pad = max(3.0, bh * 0.14)
    sx = (bw - 2 * pad) / ((xs[-1] - xs[0]) or 1.0)
    sy = (bh - 2 * pad) / span
    left = bx - bw / 2 + pad
    return tuple(
        (left + (x - xs[0]) * sx, by - (y - mid) * sy)
        for x, y in zip(xs, ys, strict=True)
        if y is not None and x is not None
    )


def fit_text(fit: dict) -> str:
    """``c·name(a·x + b) + d`` for a tooltip or a table."""
    return f"{fit['c']}·{fit['name']}({fit['a']}·x + {fit['b']}) + {fit['d']}"


def scene(snap: dict, pruned: str = "show", scores: dict | None = None) -> Scene:
    """The diagram of a snapshot. ``pruned``: 'show' (dashed, faded, as the page) or 'hide'
    (the page's compact view: pruned edges and pruned hidden nodes left out and the live
    network laid out at its live width; with mult nodes, the full layout minus what is pruned).
    ``scores``: importance to draw instead of the snapshot's activation scores,
    ``{"edges": {(l, i, j): s}, "nodes": {(l, i): s}}``."""
    width = node_counts(snap["width"])
    subs = list(width)
    for e in snap["edges"]:
        subs[e["l"] + 1] = max(subs[e["l"] + 1], e["j"] + 1)
    last = len(width) - 1
    hide = pruned == "hide"
    if hide and not any(n.get("kind") == "mult" for n in snap["nodes"]):
        W, H, geo = _compact(snap, width, last)
    else:
        W, H = canvas_size(width, subs)
        geo = layout(width, subs, W, H)
    out = Scene(W, H, [Shape("rect", box=(0, 0, W, H), fill="#ffffff")])
    edge_scores = (scores or {}).get("edges", {})
    wires, boxes = [], []
    for e in snap["edges"]:
        key = (e["l"], e["i"], e["j"])
        if key not in geo["boxes"] or (hide and e["state"] == "pruned"):
            continue
        w, b = _edge(e, geo, edge_scores.get(key, e.get("score")))
        wires.append(w)
        boxes += b
    nodes = []
    for n in snap["nodes"]:
        if (n["l"], n["i"]) not in geo["nodes"]:
            continue
        if hide and n["state"] == "pruned" and 0 < n["l"] < last:
            continue
        nodes += _node(n, geo, last)
    out.shapes += wires + nodes + boxes
    return out


def _compact(snap: dict, width: list[int], last: int) -> tuple[float, float, dict]:
    """The live network's layout (web/js/views/compact.js): live nodes renumbered per layer,
    inputs and outputs always kept; positions keyed by the original indices."""
    dead = {(n["l"], n["i"]) for n in snap["nodes"] if n["state"] == "pruned" and 0 < n["l"] < last}
    rank, counts = {}, []
    for l, n in enumerate(width):
        live = [i for i in range(n) if (l, i) not in dead]
        rank.update({(l, i): r for r, i in enumerate(live)})
        counts.append(len(live))
    W, H = canvas_size(counts, counts)
    geo = layout(counts, counts, W, H)
    nodes = {key: geo["nodes"][(key[0], r)] for key, r in rank.items()}
    boxes = {}
    for e in snap["edges"]:
        a, b = rank.get((e["l"], e["i"])), rank.get((e["l"] + 1, e["j"]))
        if e["state"] != "pruned" and a is not None and b is not None:
            boxes[(e["l"], e["i"], e["j"])] = geo["boxes"][(e["l"], a, b)]
    return W, H, {**geo, "nodes": nodes, "boxes": boxes}


def _edge(e: dict, geo: dict, score: float | None) -> tuple[Shape, list[Shape]]:
    key = (e["l"], e["i"], e["j"])
    box = geo["boxes"][key]
    bx, by, bw, bh = box
    a = geo["nodes"][(e["l"], e["i"])]
    to = e.get("to")
    o = geo["nodes"][(e["l"] + 1, e["j"] if to is None else to)]
    state, fit = e["state"], e.get("symbolic")
    color = {"symbolic": SYMBOLIC, "pruned": PRUNED}.get(state, ACTIVE)
    alpha = 0.35 if state == "pruned" else importance(score)
    wire = Shape(
        "path",
        points=(a, (bx, by + bh / 2), None, (bx, by - bh / 2), o),  # None: lift the pen
        stroke=color,
        width=1.3,
        opacity=alpha,
        dash=(4, 4) if state == "pruned" else (),
    )
    what = f"symbolic: {fit_text(fit)}" if state == "symbolic" and fit else state
    title = f"edge ({e['l']},{e['i']},{e['j']}): {what}, importance {score}"
    face = {"symbolic": "#fef2f2", "pruned": "#f8fafc"}.get(state, "#ffffff")
    edge_alpha = 0.35 if state == "pruned" else 1.0
    shapes = [
        Shape(
            "rect",
            box=(bx - bw / 2, by - bh / 2, bw, bh),
            stroke=SYMBOLIC if state == "symbolic" else BOX_STROKE,
            fill=face,
            opacity=edge_alpha,
            dash=(3, 3) if state == "pruned" else (),
            title=title,
        )
    ]
    pts = curve_points(e.get("curve"), box)
    if len(pts) > 1:
        shapes.append(Shape("path", points=pts, stroke=color, width=1.8, opacity=alpha))
    if state == "symbolic" and fit:
        font = geo["font"]
        shapes.append(
            Shape(
                "text",
                box=(bx, by - bh / 2 + font + 1),
                text=clean(fit["name"]),
                size=font,
                fill=SYMBOLIC,
                bold=True,
                halo=True,
            )
        )
    return wire, shapes


def _node(n: dict, geo: dict, last: int) -> list[Shape]:
    x, y = geo["nodes"][(n["l"], n["i"])]
    r = geo["node_r"] * (1.35 if n.get("kind") == "mult" else 1.0)
    live = n["state"] != "pruned"
    label = clean(n["label"])
    out = [
        Shape(
            "circle",
            box=(x, y, r),
            stroke=INK if live else PRUNED,
            fill="#ffffff",
            width=2.0,
            dash=() if live else (2, 2),
            title=f"node ({n['l']},{n['i']}) {label}: {n['state']}, importance {n.get('score')}",
        )
    ]
    if n.get("kind") == "mult":  # ×, drawn (every renderer and font has lines)
        d = r * 0.45
        cross = ((x - d, y - d), (x + d, y + d), None, (x - d, y + d), (x + d, y - d))
        out.append(Shape("path", points=cross, stroke=INK, width=1.6))
    if n["l"] == 0 or n["l"] == last:
        ty = y + geo["node_r"] + 16 if n["l"] == 0 else y - geo["node_r"] - 7
        size = max(geo["font"] + 2, 13)
        out.append(Shape("text", box=(x, ty), text=label, size=size, fill=INK, bold=True))
    return out


# --- SVG --------------------------------------------------------------------------------------
def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _svg_shape(sh: Shape) -> str:
    attrs = []
    if sh.kind != "text":
        attrs.append(f'fill="{sh.fill or "none"}"')
        if sh.stroke:
            attrs.append(f'stroke="{sh.stroke}" stroke-width="{_num(sh.width)}"')
    if sh.opacity < 1:
        attrs.append(f'opacity="{sh.opacity:.2f}"')
    if sh.dash:
        attrs.append(f'stroke-dasharray="{" ".join(map(_num, sh.dash))}"')
    a = " ".join(attrs)
    tip = f"<title>{escape(sh.title)}</title>" if sh.title else ""
    if sh.kind == "rect":
        x, y, w, h = map(_num, sh.box)
        return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" {a}>{tip}</rect>'
    if sh.kind == "circle":
        x, y, r = map(_num, sh.box)
        return f'<circle cx="{x}" cy="{y}" r="{r}" {a}>{tip}</circle>'
    if sh.kind == "path":
        d, move = [], True
        for p in sh.points:
            if p is None:
                move = True
                continue
            d.append(f"{'M' if move else 'L'}{_num(p[0])},{_num(p[1])}")
            move = False
        return f'<path d="{" ".join(d)}" {a} stroke-linejoin="round"/>'
    x, y = map(_num, sh.box)
    anchor = {"middle": "middle", "start": "start", "end": "end"}[sh.anchor]
    halo = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if sh.halo else ""
    weight = ' font-weight="700"' if sh.bold else ""
    return (
        f'<text x="{x}" y="{y}" font-size="{_num(sh.size)}" text-anchor="{anchor}" '
        f'fill="{sh.fill or INK}"{weight}{halo} {a}>{escape(sh.text)}</text>'
    )


def to_svg(sc: Scene, title: str = "KAN network") -> str:
    """A standalone SVG document (xmlns, viewBox; presentation attributes, no CSS or script)."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(sc.width)} {_num(sc.height)}"'
        f' width="{_num(sc.width)}" height="{_num(sc.height)}" font-family="{FONT}"'
        f' role="img" aria-label="{escape(clean(title, 200))}">'
    )
    body = "\n".join(_svg_shape(sh) for sh in sc.shapes)
    return f"{head}\n<title>{escape(clean(title, 200))}</title>\n{body}\n</svg>\n"
