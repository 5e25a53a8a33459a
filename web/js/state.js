// The page's single store. It holds what the server last said (snapshot + stream updates) and
// what the user is looking at (selection, preview). Views subscribe to topics and re-render;
// nothing else keeps model state. The selection is mirrored in the URL hash (#edge=0,1,0) so a
// link can point at an edge.

import { edgeKey } from "./dom.js";

const EDIT_KINDS = new Set([
  "prune_edge", "restore_edge", "prune_node", "restore_node", "auto_prune", "refine",
  "fix_symbolic", "unfix_symbolic", "auto_symbolic", "reset", "undo", "redo", "rejected",
  "settings", "discover",
]);

export class Store {
  constructor({ sessionId, role }) {
    this.sessionId = sessionId;
    this.role = role; // "owner" | "viewer"
    this.session = null; // snapshot fields other than edges/metrics/nodes
    this.edges = new Map(); // "l,i,j" -> edge
    this.nodes = [];
    this.metrics = [];
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
    this.metrics = metrics.slice();
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

  applyMetrics(msg) {
    this.status = msg.status;
    this.step = msg.step;
    if (msg.points.length) {
      this.metrics.push(...msg.points);
      if (this.metrics.length > 6000) this.metrics.splice(0, this.metrics.length - 5000);
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

function parseHash(hash) {
  const m = /^#(edge|node)=(\d+(?:,\d+){1,2})$/.exec(hash || "");
  return m ? { kind: m[1], key: m[2] } : null;
}
