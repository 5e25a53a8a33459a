// Decision regions of a classification session (TF-Playground style): the network's predicted
// probability of class 1 over its two inputs, painted as a heatmap (blue = class 0, orange =
// class 1), with the training points drawn over it, the accuracy, and what to look for.
// The grid is a read the server computes off the training worker (GET /regions); the page asks
// again after every edit and, while training, at most once a second.

import { h, replace } from "../dom.js";
import { listPresets } from "../api.js";

const REFRESH_MS = 1000;
const N = 40; // grid cells per side

export class RegionsView {
  /** Mounts itself before `anchor` (an element of the side panel) for classifiers only. */
  constructor(anchor, store, controller) {
    this.store = store;
    this.controller = controller;
    this.root = h("section.regions", { "aria-label": "decision regions" });
    this.canvas = h("canvas.regions-canvas", { width: 240, height: 240, "data-regions": "", role: "img", "aria-label": "decision regions with the training points" });
    this.acc = h("p.regions-acc", { "data-accuracy": "" });
    this.last = 0;
    this.timer = null;
    anchor.before(this.root);
    store.on("snapshot", () => this.refresh(true));
    store.on("edited", () => this.refresh(true));
    store.on("event", (ev) => (ev.kind === "trained" || ev.kind === "paused") && this.refresh(true));
    store.on("metrics", () => this.refresh(false));
    this.render();
  }

  get active() {
    // drawn over the plane of two inputs (a classifier with more inputs has no such picture)
    const w0 = this.store.session?.width?.[0];
    const inputs = Array.isArray(w0) ? w0[0] : w0;
    return this.store.session?.train?.loss === "cross_entropy" && inputs === 2;
  }

  render() {
    this.root.hidden = !this.active;
    if (!this.active) return;
    replace(this.root, h("h2", {}, "Decision regions"), this.canvas, this.acc);
  }

  /** Ask for the regions now (`now`), or at most once per REFRESH_MS while training. */
  refresh(now) {
    if (this.root.hidden !== !this.active) this.render();
    if (!this.active) return;
    const wait = now ? 0 : Math.max(0, this.last + REFRESH_MS - performance.now());
    if (this.timer !== null) {
      if (!now) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => this.load(), wait);
  }

  async load() {
    this.timer = null;
    this.last = performance.now();
    const r = await this.controller.read(`/regions?n=${N}`);
    if (r) this.draw(r);
  }

  draw(r) {
    const ctx = this.canvas.getContext("2d");
    const W = this.canvas.width;
    const n = r.x.length;
    const cell = W / n;
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        ctx.fillStyle = probColor(r.p[row][col]);
        // row 0 is the lowest x_2: drawn at the bottom
        ctx.fillRect(col * cell, W - (row + 1) * cell, cell + 0.5, cell + 0.5);
      }
    }
    const [x0, x1] = [r.x[0], r.x[n - 1]];
    const [y0, y1] = [r.y[0], r.y[n - 1]];
    const pts = r.points;
    for (let k = 0; k < pts.label.length; k++) {
      const px = ((pts.x1[k] - x0) / (x1 - x0)) * W;
      const py = W - ((pts.x2[k] - y0) / (y1 - y0)) * W;
      ctx.beginPath();
      ctx.arc(px, py, 2.6, 0, 2 * Math.PI);
      ctx.fillStyle = pts.label[k] ? "#ea580c" : "#1d4ed8";
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 0.8;
      ctx.stroke();
    }
    const pct = (v) => `${(100 * v).toFixed(1)} %`;
    this.canvas.dataset.regions = "drawn";
    this.acc.dataset.accuracy = String(r.accuracy.test);
    this.acc.textContent = `accuracy: train ${pct(r.accuracy.train)} · test ${pct(r.accuracy.test)} — background: the network's class (blue 0, orange 1; pale = unsure), dots: training points`;
  }
}

/** P(class 1) → blue (0) … white (0.5) … orange (1), pale so the points stand out. */
export function probColor(p) {
  const blue = [147, 197, 253];
  const white = [248, 250, 252];
  const orange = [253, 186, 116];
  const [a, b, t] = p < 0.5 ? [blue, white, p * 2] : [white, orange, (p - 0.5) * 2];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** "What to look for" in a preset session: one or two sentences from the preset (GET
 *  /api/presets), at the top of the side panel; nothing for a formula or CSV session. */
export class LookForView {
  constructor(anchor, store) {
    this.store = store;
    this.root = h("p.look-for", { "data-look-for": "", hidden: true });
    anchor.before(this.root);
    store.on("snapshot", () => this.load());
  }

  async load() {
    const name = this.store.session?.source?.preset;
    if (!name || this.name === name) return;
    this.name = name;
    try {
      const p = (await listPresets()).find((x) => x.name === name);
      if (!p?.look_for) return;
      replace(this.root, h("b", {}, "What to look for: "), p.look_for);
      this.root.hidden = false;
    } catch {
      this.name = null; // try again with the next snapshot
    }
  }
}
