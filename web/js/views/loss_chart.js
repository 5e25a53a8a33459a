// The live loss chart: train and test RMSE against step, log scale, over the whole run (the
// store keeps it thinned to ≤ 2,000 points). Metrics frames come up to 20 times a second and a
// Plotly redraw costs tens of ms, so frames only mark the chart stale; it redraws at most
// REDRAW_HZ times a second, in an animation frame (input is handled first, and a hidden tab
// skips it), with one Plotly.react whose fixed uirevision keeps the user's zoom.

import { h, fmt } from "../dom.js";

const LAYOUT = {
  margin: { l: 52, r: 12, t: 8, b: 46 },
  xaxis: { title: { text: "step", standoff: 4 }, zeroline: false },
  yaxis: { type: "log", title: { text: "RMSE", standoff: 4 }, exponentformat: "power" },
  legend: { orientation: "h", x: 1, xanchor: "right", y: 1, bgcolor: "rgba(255,255,255,0.7)" },
  uirevision: "loss", // keep the user's zoom across updates
  font: { size: 12 },
};
const REDRAW_HZ = 4;
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

export class LossChart {
  constructor(root, store) {
    this.store = store;
    this.summary = h("div.loss-summary", { "aria-live": "off" });
    this.plot = h("div.loss-plot");
    root.append(this.summary, this.plot);
    this.stale = false;
    this.timer = null; // a pending scheduled redraw
    this.lastDraw = -Infinity;
    store.on("snapshot", () => this.redraw());
    store.on("metrics", () => this.invalidate());
    document.addEventListener("visibilitychange", () => this.stale && this.schedule());
  }

  /** New points in the store: redraw soon, not now. */
  invalidate() {
    this.stale = true;
    this.schedule();
  }

  schedule() {
    if (this.timer !== null || document.hidden) return;
    const wait = Math.max(0, this.lastDraw + 1000 / REDRAW_HZ - performance.now());
    this.timer = setTimeout(() => requestAnimationFrame(() => this.flush()), wait);
  }

  flush() {
    this.timer = null;
    if (!this.stale) return;
    if (document.hidden) return; // visibilitychange schedules it again
    this.redraw();
  }

  redraw() {
    this.stale = false;
    this.lastDraw = performance.now();
    const m = this.store.metrics;
    const trace = (name, key, color, dash) => ({
      name,
      x: m.map((p) => p.step),
      y: m.map((p) => p[key]),
      mode: "lines",
      line: { color, width: 2, dash },
      connectgaps: false,
    });
    Plotly.react(
      this.plot,
      [trace("train", "train_loss", "#2563eb"), trace("test", "test_loss", "#ea580c", "dot")],
      m.length ? LAYOUT : { ...LAYOUT, annotations: [emptyNote()], xaxis: { visible: false }, yaxis: { visible: false }, showlegend: false },
      CONFIG,
    );
    this.renderSummary();
  }

  renderSummary() {
    const last = this.store.metrics[this.store.metrics.length - 1];
    this.summary.replaceChildren(
      h("span.metric", {}, "train ", h("b", { "data-metric": "train" }, fmt(last?.train_loss))),
      h("span.metric", {}, "test ", h("b", { "data-metric": "test" }, fmt(last?.test_loss))),
      h("span.hint", {}, "loss = RMSE, log scale"),
    );
  }
}

function emptyNote() {
  return {
    text: "No training yet: press Play",
    showarrow: false,
    xref: "paper",
    yref: "paper",
    x: 0.5,
    y: 0.5,
    font: { size: 14, color: "#64748b" },
  };
}
