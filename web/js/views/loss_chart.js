// The live loss chart: train and test RMSE against step, log scale. A snapshot redraws it with
// Plotly.react; stream points are appended with Plotly.extendTraces (cheap at 20 frames/s).

import { h, fmt } from "../dom.js";

const LAYOUT = {
  margin: { l: 52, r: 12, t: 8, b: 46 },
  xaxis: { title: { text: "step", standoff: 4 }, zeroline: false },
  yaxis: { type: "log", title: { text: "RMSE", standoff: 4 }, exponentformat: "power" },
  legend: { orientation: "h", x: 1, xanchor: "right", y: 1, bgcolor: "rgba(255,255,255,0.7)" },
  uirevision: "loss", // keep the user's zoom across updates
  font: { size: 12 },
};
const MAX_POINTS = 5000; // as many as the server keeps in a snapshot
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

export class LossChart {
  constructor(root, store) {
    this.store = store;
    this.summary = h("div.loss-summary", { "aria-live": "off" });
    this.plot = h("div.loss-plot");
    root.append(this.summary, this.plot);
    store.on("snapshot", () => this.redraw());
    store.on("metrics", (points) => this.extend(points));
  }

  redraw() {
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
    this.hasData = m.length > 0;
    this.renderSummary();
  }

  extend(points) {
    if (!this.hasData) return this.redraw(); // drop the "press Play" note
    const x = points.map((p) => p.step);
    const update = { x: [x, x], y: [points.map((p) => p.train_loss), points.map((p) => p.test_loss)] };
    Plotly.extendTraces(this.plot, update, [0, 1], MAX_POINTS);
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
