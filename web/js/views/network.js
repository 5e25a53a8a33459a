// The network diagram (SVG). Inputs at the bottom, the output at the top, as in the KAN paper.
// Every edge is a wire from its input node, through a small box showing its learned curve, to
// its output node. The box is the edge's clickable element: <g data-edge="l,i,j"
// data-state="active|pruned|symbolic">; its centre lies on the wire and no other element covers
// it. The DOM is built once per snapshot (or resize); stream frames only update attributes.

import { s, edgeKey } from "../dom.js";
import { canCompact, compactBar, liveMap } from "./compact.js";

const BOX_ASPECT = 1.45; // width / height of a mini plot
const MAX_BOX_W = 120;

export class NetworkView {
  constructor(root, store, { onSelect }) {
    this.root = root;
    this.store = store;
    this.onSelect = onSelect;
    this.svg = s("svg", { class: "network", role: "img", "aria-label": "network diagram" });
    this.compact = false; // draw only the live network (compact.js)
    this.bar = compactBar((on) => {
      this.compact = on;
      this.build();
    });
    root.append(this.svg, this.bar.el);
    this.items = new Map(); // "l,i,j" -> {g, box, curve, label, wire, tip, geo}
    this.nodeItems = new Map(); // "l,i" -> {g, circle, text, tip}
    this.svg.addEventListener("click", (ev) => this._click(ev));
    new ResizeObserver(() => this._resized()).observe(root);
    store.on("snapshot", () => this.build());
    store.on("edges", (keys) => this.update(keys));
    store.on("selection", () => this._markSelection());
    store.on("trace", () => this._drawTrace());
    // KAN 2.0 attribution instead of activation scores, when chosen (export.js emits it)
    this.attribution = null; // {edges: Map key -> {score, rel}, nodes: Map key -> score} | null
    store.on("importance", (scores) => {
      this.attribution = scores;
      this.svg.dataset.importance = scores ? "attribution" : "activation";
      this.update([...this.items.keys()]);
    });
  }

  _resized() {
    const { width, height } = this.root.getBoundingClientRect();
    if (!this.store.session || (width === this.size?.width && height === this.size?.height)) return;
    this.build();
  }

  /** (Re)build every element from the store's snapshot. */
  build() {
    const session = this.store.session;
    if (!session) return;
    const { width: W, height: H } = this.root.getBoundingClientRect();
    this.size = { width: W, height: H };
    if (W < 50 || H < 50) return;
    // on a phone the diagram's tools (importance, Download) sit over the top centre: the
    // drawing starts below them (same scale: the view box is as large as the element)
    const top = W < 640 ? 34 : 0;
    this.svg.setAttribute("viewBox", `0 ${-top} ${W} ${H}`);
    const { edges: allEdges, nodes: allNodes } = this.store;
    const live = this.compact && canCompact(session.width) ? liveMap(session.width, allNodes, allEdges) : null;
    this.bar.render(session.width, allNodes, allEdges, !!live);
    const geo = live
      ? computeLayout(live.counts, W, H - top)
      : computeLayout(nodeCounts(session.width), W, H - top, subnodeCounts(session.width, allEdges));
    const boxKey = live ? live.box : edgeKey;
    const nodeKey = live ? live.node : (l, i) => `${l},${i}`;
    this.liveStates = live ? stateKey(allNodes, allEdges) : null;
    this.geo = geo;
    const wires = s("g.wires");
    const boxes = s("g.boxes");
    const nodes = s("g.nodes");
    this.items.clear();
    this.nodeItems.clear();
    for (const e of this.store.edges.values()) {
      const key = edgeKey(e);
      const b = geo.boxes.get(boxKey(e));
      if (!b) continue; // left out of the compact view
      const a = geo.nodes.get(nodeKey(e.l, e.i));
      const o = geo.nodes.get(live ? nodeKey(e.l + 1, e.j) : `${e.l + 1},${e.to ?? e.j}`); // a mult node's factors share it
      const wire = s("path.wire", {
        "data-wire": key,
        d: `M${a.x},${a.y} L${b.x},${b.y + b.h / 2} M${b.x},${b.y - b.h / 2} L${o.x},${o.y}`,
      });
      const tip = s("title");
      const box = s("rect.box", { x: b.x - b.w / 2, y: b.y - b.h / 2, width: b.w, height: b.h, rx: 3 });
      const curve = s("polyline.curve");
      const label = s("text.sym", { x: b.x, y: b.y - b.h / 2 + geo.fontSize + 1, "font-size": geo.fontSize });
      const g = s("g.edge", { "data-edge": key, tabindex: -1 }, tip, box, curve, label);
      wires.append(wire);
      boxes.append(g);
      this.items.set(key, { g, box, curve, label, wire, tip, geo: b });
    }
    for (const n of this.store.nodes) {
      const key = `${n.l},${n.i}`;
      const p = geo.nodes.get(nodeKey(n.l, n.i));
      if (!p) continue;
      const last = n.l === session.width.length - 1;
      const tip = s("title");
      const circle = s("circle", { cx: p.x, cy: p.y, r: n.kind === "mult" ? geo.nodeR * 1.35 : geo.nodeR });
      const times = n.kind === "mult"
        ? s("text.mult-sign", { x: p.x, y: p.y, "font-size": Math.round(geo.nodeR * 2), "text-anchor": "middle", "dominant-baseline": "central" }, "×")
        : null;
      const text = s("text.node-label", {
        x: p.x,
        y: n.l === 0 ? p.y + geo.nodeR + 16 : p.y - geo.nodeR - 7,
        "font-size": Math.max(geo.fontSize + 2, 13),
      });
      const g = s("g.node", { "data-node": key, "data-kind": n.kind || "sum" }, tip, circle, times, text);
      if (n.l !== 0 && !last) text.classList.add("hidden-label");
      nodes.append(g);
      this.nodeItems.set(key, { g, circle, text, tip });
    }
    this.svg.replaceChildren(wires, nodes, boxes);
    this.traceLayer = null;
    this.update([...this.items.keys()]);
    this._markSelection();
  }

  /** Update changed edges in place (attributes only) and every node's state. */
  update(keys) {
    if (!this.geo) return;
    const session = this.store.session;
    if (session) this.bar.render(session.width, this.store.nodes, this.store.edges, this.compact && !!this.liveStates);
    if (this.liveStates && this.liveStates !== stateKey(this.store.nodes, this.store.edges)) return this.build();
    const labels = nodeLabels(this.store.nodes);
    for (const key of keys) {
      const item = this.items.get(key);
      const e = this.store.edges.get(key);
      if (!item || !e) continue;
      const state = e.state;
      if (item.g.dataset.state !== state) {
        item.g.dataset.state = state;
        item.wire.dataset.state = state;
      }
      item.curve.setAttribute("points", curvePoints(e.curve, item.geo));
      const attr = this.attribution?.edges.get(key);
      const alpha = state === "pruned" ? "" : String(importance(attr ? attr.rel : e.score));
      item.curve.style.opacity = alpha;
      item.wire.style.opacity = alpha;
      item.label.textContent = state === "symbolic" && e.symbolic ? e.symbolic.name : "";
      const from = labels.get(`${e.l},${e.i}`);
      const to = labels.get(`${e.l + 1},${e.to ?? e.j}`);
      const what = state === "symbolic" ? `symbolic: ${e.symbolic?.name}` : state;
      const by = attr ? `, attribution ${attr.score}` : "";
      item.tip.textContent = `edge (${key}): ${from} → ${to}\n${what}, importance ${e.score}${by}`;
    }
    for (const n of this.store.nodes) {
      const item = this.nodeItems.get(`${n.l},${n.i}`);
      if (!item) continue;
      item.g.dataset.state = n.state;
      item.text.textContent = n.label;
      const by = this.attribution?.nodes.has(`${n.l},${n.i}`) ? `, attribution ${this.attribution.nodes.get(`${n.l},${n.i}`)}` : "";
      item.tip.textContent = `node (${n.l},${n.i}) ${n.label}: ${n.state}, importance ${n.score}${by}`;
    }
    if (this.store.trace || this.traceLayer) this._drawTrace(); // curves rescaled: move the dots
  }

  _drawTrace() {
    if (!this.geo) return;
    const marks = traceMarks(this.store.trace, this.items, this.nodeItems, this.store.edges, this.geo);
    if (this.traceLayer?.isConnected) this.traceLayer.replaceWith(marks);
    else this.svg.append(marks);
    this.traceLayer = marks;
  }

  _markSelection() {
    const sel = this.store.selection;
    for (const [key, item] of this.items) {
      const on = sel?.kind === "edge" && sel.key === key;
      item.g.classList.toggle("selected", on);
      item.wire.classList.toggle("selected", on);
    }
    for (const [key, item] of this.nodeItems) {
      item.g.classList.toggle("selected", sel?.kind === "node" && sel.key === key);
    }
  }

  _click(ev) {
    const edge = ev.target.closest("[data-edge]");
    const wire = ev.target.closest("[data-wire]");
    const node = ev.target.closest("[data-node]");
    if (edge) this.onSelect({ kind: "edge", key: edge.dataset.edge });
    else if (wire) this.onSelect({ kind: "edge", key: wire.dataset.wire });
    else if (node) this.onSelect({ kind: "node", key: node.dataset.node });
  }
}

/** What the compact layout depends on: which nodes and edges are pruned. */
function stateKey(nodes, edges) {
  let key = nodes.map((n) => (n.state === "pruned" ? "p" : "a")).join("");
  for (const e of edges.values()) key += e.state === "pruned" ? "p" : "a";
  return key;
}

/** Nodes per layer: n, or n_sum + n_mult for pykan's nested [n_sum, n_mult]. */
export function nodeCounts(width) {
  return width.map((w) => (Array.isArray(w) ? w[0] + w[1] : w));
}

/** Subnodes per layer (where edges end), read off the edges' j indices. */
function subnodeCounts(width, edges) {
  const subs = nodeCounts(width);
  for (const e of edges.values()) subs[e.l + 1] = Math.max(subs[e.l + 1], e.j + 1);
  return subs;
}

/** pykan's importance → opacity: tanh(3·score), never fully invisible. */
function importance(score) {
  return Math.max(0.18, Math.tanh(3 * (score || 0))).toFixed(2);
}

function nodeLabels(nodes) {
  return new Map(nodes.map((n) => [`${n.l},${n.i}`, n.label]));
}

/** The map from a curve's (x, y) to its box (each box has its own y scale); null if empty. */
function curveScale(curve, b) {
  if (!curve || !curve.x.length) return null;
  const { x, y } = curve;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const v of y) {
    if (v === null) continue;
    if (v < ymin) ymin = v;
    if (v > ymax) ymax = v;
  }
  if (!Number.isFinite(ymin)) return null;
  const span = Math.max(ymax - ymin, 0.02); // a flat curve stays flat, not amplified noise
  const mid = (ymax + ymin) / 2;
  const pad = Math.max(3, b.h * 0.14);
  const x0 = x[0];
  const xs = (b.w - 2 * pad) / (x[x.length - 1] - x0 || 1);
  const ys = (b.h - 2 * pad) / span;
  const left = b.x - b.w / 2 + pad;
  return (xv, yv) => [left + (xv - x0) * xs, b.y - (yv - mid) * ys];
}

/** The curve's samples scaled into its box. */
function curvePoints(curve, b) {
  const at = curveScale(curve, b);
  if (!at) return "";
  let out = "";
  for (let k = 0; k < curve.x.length; k++) {
    if (curve.y[k] === null) continue;
    const [px, py] = at(curve.x[k], curve.y[k]);
    out += `${px.toFixed(1)},${py.toFixed(1)} `;
  }
  return out;
}

/** Trace one input (views/trace.js): a dot on every drawn edge's curve where the input lands
 *  (clamped to its box: an input outside the curve's sampled range sits on the box's edge),
 *  and each drawn node's value beside it. */
function traceMarks(trace, items, nodeItems, edges, geo) {
  const g = s("g.trace", { "pointer-events": "none" });
  if (!trace) return g;
  for (const e of trace.edges) {
    const key = `${e.l},${e.i},${e.j}`;
    const item = items.get(key);
    const at = item && curveScale(edges.get(key)?.curve, item.geo);
    if (!at || e.x === null || e.y === null) continue;
    const b = item.geo;
    const [px, py] = at(e.x, e.y);
    const cx = Math.min(Math.max(px, b.x - b.w / 2), b.x + b.w / 2);
    const cy = Math.min(Math.max(py, b.y - b.h / 2), b.y + b.h / 2);
    g.append(s("circle.trace-dot", { cx, cy, r: 3.5, "data-trace-edge": key }, s("title", {}, `x = ${e.x}, y = ${e.y}`)));
  }
  trace.nodes.forEach((values, l) => {
    values.forEach((v, i) => {
      const item = nodeItems.get(`${l},${i}`);
      if (!item || v === null) return;
      const c = item.circle;
      const x = Number(c.getAttribute("cx")) + geo.nodeR + 4;
      const y = Number(c.getAttribute("cy")) + 4;
      g.append(s("text.trace-value", { x, y, "font-size": 12, "data-trace-node": `${l},${i}` }, Number(v).toPrecision(3)));
    });
  });
  return g;
}

/**
 * Positions of nodes and edge boxes for a network of `width` in a W×H area.
 * Boxes of layer l are ordered (i, j) as in pykan and wrap into rows when there are many.
 */
export function computeLayout(width, W, H, subs = width) {
  const L = width.length;
  const padX = 36;
  const padTop = 40;
  const padBottom = 44;
  const availW = W - 2 * padX;
  const rowGap = (H - padTop - padBottom) / (L - 1);
  const nodeR = Math.max(5, Math.min(10, rowGap * 0.06));
  const rowY = (l) => H - padBottom - l * rowGap;
  const nodes = new Map();
  width.forEach((n, l) => {
    const spacing = Math.min(availW / n, 170);
    for (let i = 0; i < n; i++) nodes.set(`${l},${i}`, { x: W / 2 + (i - (n - 1) / 2) * spacing, y: rowY(l) });
  });
  const boxes = new Map();
  let fontSize = 12;
  for (let l = 0; l < L - 1; l++) {
    const [nin, nout] = [width[l], subs[l + 1]]; // edges end at subnodes (a mult node's factors)
    const n = nin * nout;
    const availH = rowGap - 2 * nodeR - Math.max(24, rowGap * 0.32); // room for wires to fan
    const best = bestGrid(n, availW, availH);
    fontSize = Math.min(fontSize, Math.max(8, best.h * 0.3));
    const ymid = (rowY(l) + rowY(l + 1)) / 2;
    for (let i = 0; i < nin; i++) {
      for (let j = 0; j < nout; j++) {
        const idx = i * nout + j;
        const r = Math.floor(idx / best.cols);
        const inRow = Math.min(best.cols, n - r * best.cols);
        const c = idx - r * best.cols;
        const x = W / 2 + (c - (inRow - 1) / 2) * best.cellW;
        const y = ymid + ((best.rows - 1) / 2 - r) * best.cellH;
        boxes.set(`${l},${i},${j}`, { x, y, w: best.w, h: best.h });
      }
    }
  }
  return { nodes, boxes, nodeR, fontSize: Math.round(fontSize) };
}

/**
 * The rows × cols arrangement of n boxes: the fewest rows whose boxes are nearly as large as
 * the largest possible (extra rows make wires cross behind boxes, so they must pay off).
 */
function bestGrid(n, availW, availH) {
  const options = [];
  for (let rows = 1; rows <= n; rows++) {
    const cols = Math.ceil(n / rows);
    const cellW = availW / cols;
    const cellH = availH / rows;
    const w = Math.min(MAX_BOX_W, cellW * 0.86, cellH * 0.86 * BOX_ASPECT);
    options.push({ rows, cols, cellW: Math.min(cellW, MAX_BOX_W * 1.3), cellH, w, h: w / BOX_ASPECT });
    if (cellH * BOX_ASPECT <= cellW) break; // height-limited: more rows only shrink boxes
  }
  const largest = Math.max(...options.map((o) => o.w));
  return options.find((o) => o.w >= 0.7 * largest);
}
