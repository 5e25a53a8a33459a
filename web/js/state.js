// The page's single store. It holds what the server last said (snapshot + stream updates) and
// what the user is looking at (selection, preview). Views subscribe to topics and re-render;
// nothing else keeps model state. The selection is mirrored in the URL hash (#edge=0,1,0) so a
// link can point at an edge.

import { edgeKey } from "./dom.js";

const EDIT_KINDS = new Set([
  "prune_edge", "restore_edge", "prune_node", "restore_node", "auto_prune", "refine",
  "fix_symbolic", "unfix_symbolic", "auto_symbolic", "reset", "undo", "redo", "rejected",
  "settings", "discover", "unrejected", "prune_inputs",
]);

export class Store {
  constructor({ sessionId, role }) {
    this.sessionId = sessionId;
    this.role = role; // "owner" | "viewer"
    this.session = null; // snapshot fields other than edges/metrics/nodes
    this.edges = new Map(); // "l,i,j" -> edge
    this.nodes = [];
    this.lossHistory = new LossHistory(); // the whole run's loss points, thinned (see below)
    this.status = "idle";
    this.step = 0;
    this.error = null;
    this.connection = "connecting"; // connecting | open | reconnecting | closed
    this.selection = parseHash(location.hash); // {kind: "edge"|"node", key} | null
    this.detail = null; // GET edges/{l}/{i}/{j} for the selected edge
    this.suggestions = null; // {key, candidates, rejected} | {key, loading} | {key, error}
    this.preview = null; // candidate name shown over the selected edge's curve
    this.formula = null;
    this.discover = null; // {front, best, done, budget_s, elapsed_s, error} from the server
    this.formulaTrail = []; // complete formulas this page has seen: {formula, complexity, test_nrmse}
    this.lastEvent = null;
    this.perf = { frames: 0, lastMs: 0, maxMs: 0, totalMs: 0 };
    this._listeners = new Map();
  }

  on(topic, fn) {
    if (!this._listeners.has(topic)) this._listeners.set(topic, []);
    this._listeners.get(topic).push(fn);
  }

  emit(topic, payload) {
    for (const fn of this._listeners.get(topic) || []) fn(payload, this);
  }

  get isOwner() {
    return this.role === "owner";
  }

  edge(key) {
    return this.edges.get(key);
  }

  // --- from the stream ---------------------------------------------------------------------
  applySnapshot(snap) {
    const { edges, nodes, metrics, type, ...rest } = snap;
    this.session = rest;
    this.status = snap.status;
    this.step = snap.step;
    this.error = snap.error;
    this.edges = new Map(edges.map((e) => [edgeKey(e), e]));
    this.nodes = nodes;
    this.lossHistory.load(metrics);
    if (this.selection && !this._selectionExists(this.selection)) this.selection = null;
    this.emit("snapshot");
    this.emit("status");
    this.emit("history");
  }

  /** History, undo/redo flags, grid and settings from a REST snapshot (edges come by stream). */
  applyMeta(snap) {
    if (!this.session) return;
    for (const k of ["history", "can_undo", "can_redo", "rejects", "grid", "k", "train", "width"]) {
      if (k in snap) this.session[k] = snap[k];
    }
    this.emit("history");
    this.emit("meta");
  }

  /** Loss points of the whole run, oldest first: recent ones all, older ones thinned. */
  get metrics() {
    return this.lossHistory.points();
  }

  // A metrics frame comes up to 20 times a second: it only stores the points and tells the
  // listeners; the loss chart batches its redraws (views/loss_chart.js).
  applyMetrics(msg) {
    this.status = msg.status;
    this.step = msg.step;
    if (msg.points.length) {
      for (const p of msg.points) this.lossHistory.push(p);
      this.emit("metrics", msg.points);
    }
    this.emit("status");
  }

  applyEdges(msg) {
    const t0 = performance.now();
    const changed = [];
    for (const e of msg.edges) {
      const key = edgeKey(e);
      this.edges.set(key, e);
      changed.push(key);
    }
    this.nodes = msg.nodes;
    this.emit("edges", changed);
    this._recordFrame(performance.now() - t0);
  }

  applyDiscover(state) {
    const { type, ...rest } = state;
    this.discover = rest;
    this.emit("discover");
  }

  applyEvent(ev) {
    this.lastEvent = ev;
    this.status = ev.status;
    this.step = ev.step;
    if (ev.kind === "error") this.error = ev.message;
    else if (ev.status !== "error") this.error = null;
    this.emit("event", ev);
    this.emit("status");
    if (EDIT_KINDS.has(ev.kind)) this.emit("edited", ev);
  }

  /** The owner's selection, sent to followers in a class (a `focus` frame; the snapshot
   *  carries the latest as `focus`). Followers decide whether to apply it (class/follow.js). */
  applyFocus(msg) {
    this.focus = { edge: msg.edge ?? null, node: msg.node ?? null };
    this.emit("focus", this.focus);
  }

  setConnection(state) {
    this.connection = state;
    this.emit("status");
  }

  // --- what the user looks at --------------------------------------------------------------
  select(sel) {
    const same = sel && this.selection && sel.kind === this.selection.kind && sel.key === this.selection.key;
    if (same) return;
    this.selection = sel;
    this.detail = null;
    this.suggestions = null;
    this.preview = null;
    const hash = sel ? `#${sel.kind}=${sel.key}` : "";
    history.replaceState(null, "", location.pathname + location.search + hash);
    this.emit("selection");
  }

  setDetail(detail) {
    this.detail = detail;
    this.emit("detail");
  }

  setSuggestions(sugg) {
    this.suggestions = sugg;
    this.emit("suggestions");
  }

  setPreview(name) {
    if (this.preview === name) return;
    this.preview = name;
    this.emit("preview");
  }

  setFormula(formula) {
    this.formula = formula;
    this.emit("formula");
    // Every complete formula the session reaches is a point on Discover's plot (its history).
    if (formula?.complete && formula.complexity != null && formula.test_nrmse != null) {
      const text = formula.outputs.map((o) => o.sympy).join("; ");
      this.formulaTrail = this.formulaTrail.filter((p) => p.formula !== text);
      this.formulaTrail.push({ formula: text, complexity: formula.complexity, test_nrmse: formula.test_nrmse });
      this.emit("discover");
    }
  }

  _selectionExists(sel) {
    if (sel.kind === "edge") return this.edges.has(sel.key);
    return this.nodes.some((n) => `${n.l},${n.i}` === sel.key);
  }

  _recordFrame(ms) {
    const p = this.perf;
    p.frames += 1;
    p.lastMs = ms;
    p.maxMs = Math.max(p.maxMs, ms);
    p.totalMs += ms;
  }
}

/**
 * The loss curve of a whole run in a bounded number of points: the newest `recent` points all,
 * and before them every `stride`-th point of the run (stride doubles whenever the older part
 * would exceed `older`), so a long run still shows its start, evenly sampled.
 * The server keeps only the last 2,000 points; a snapshot that continues what this page has
 * seen (a resnapshot after a prune, a reconnect) is spliced on, anything else replaces it.
 */
export class LossHistory {
  constructor({ recent = 500, older = 1500 } = {}) {
    this.maxRecent = recent;
    this.maxOlder = older;
    this.clear();
  }

  clear() {
    this.older = []; // older[i] is the (i * stride)-th point of the run
    this.recent = []; // the last points, every one
    this.stride = 1;
    this.seen = 0; // points pushed since clear(): the ordinal of the next one
    this._points = null; // cached older ++ recent
  }

  push(p) {
    this.recent.push(p);
    this.seen += 1;
    this._points = null;
    if (this.recent.length <= this.maxRecent) return;
    const ordinal = this.seen - this.recent.length;
    const leaving = this.recent.shift();
    if (ordinal % this.stride !== 0) return;
    this.older.push(leaving);
    if (this.older.length > this.maxOlder) {
      this.stride *= 2;
      this.older = this.older.filter((_, i) => i % 2 === 0);
    }
  }

  /** Take a snapshot's points (the server's last ≤ 2,000): append the new ones when they
   *  continue this history (steps only grow), else start again from them. */
  load(points) {
    const last = this.recent[this.recent.length - 1];
    const continues = !!last && this._continuedBy(points, last);
    if (!continues) this.clear();
    for (const p of points) if (!continues || p.step > last.step) this.push(p);
  }

  points() {
    if (!this._points) this._points = this.older.concat(this.recent);
    return this._points;
  }

  _continuedBy(points, last) {
    if (!points.length || points[points.length - 1].step < last.step) return false;
    if (points[0].step > last.step) return true; // a gap (a long disconnect): same run
    const same = points.find((p) => p.step === last.step);
    return !!same && same.train_loss === last.train_loss && same.test_loss === last.test_loss;
  }
}

function parseHash(hash) {
  const m = /^#(edge|node)=(\d+(?:,\d+){1,2})$/.exec(hash || "");
  return m ? { kind: m[1], key: m[2] } : null;
}
