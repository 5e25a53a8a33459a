// The live loss chart: train and test RMSE against step, log scale, over the whole run (the
// store keeps it thinned to ≤ 2,000 points). Metrics frames come up to 20 times a second and a
// Plotly redraw costs tens of ms, so frames only mark the chart stale; it redraws at most
// REDRAW_HZ times a second, in an animation frame (input is handled first, and a hidden tab
// skips it), with one Plotly.react whose fixed uirevision keeps the user's zoom.
// The readout above the chart shows the model as it is now: after an edit, Undo or Reset the
// server sends that model's loss with the event (the last training point no longer applies).

import { h, fmt } from "../dom.js";

// Tick labels such as 1.35×10⁻⁶ need room: automargin grows the margins to fit them, and the
// axis titles stand off the labels instead of overlapping them.
const LAYOUT = {
  margin: { l: 16, r: 12, t: 8, b: 44 },
  xaxis: { title: { text: "step", standoff: 8 }, zeroline: false, automargin: true },
  yaxis: { type: "log", title: { text: "RMSE", standoff: 10 }, exponentformat: "power", automargin: true },
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
    this.now = null; // {train, test, kind}: the current model's loss after an edit/undo/reset
    store.on("snapshot", () => {
      // a resnapshot (e.g. after an undo changed the network's shape) keeps an edit's readout
      // until training moves on
      if (this.now && this.now.step !== this.store.step) this.now = null;
      this.redraw();
    });
    store.on("compare", () => this.invalidate()); // an MLP's losses beside the KAN's
    store.on("metrics", () => {
      this.now = null; // training reports again
      this.invalidate();
    });
    store.on("edited", (ev) => {
      if (!ev?.data?.loss) return;
      this.now = { ...ev.data.loss, kind: ev.kind, step: ev.step };
      this.renderSummary();
    });
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
    this.renderSummary(); // first: the summary's height decides the plot's (no clipped title)
    const m = this.store.metrics;
    const trace = (name, key, color, dash) => ({
      name,
      x: m.map((p) => p.step),
      y: m.map((p) => p[key]),
      mode: "lines",
      line: { color, width: 2, dash },
      connectgaps: false,
    });
    const traces = [trace("train", "train_loss", "#2563eb"), trace("test", "test_loss", "#ea580c", "dot")];
    const mlp = this.store.compare?.points;
    if (mlp?.length) {
      // the MLP trains from step 1 on its own: drawn against its own step count
      const line = (name, key, color) => ({ name, x: mlp.map((p) => p.step), y: mlp.map((p) => p[key]), mode: "lines", line: { color, width: 1.5, dash: "dash" } });
      traces.push(line("MLP train", "train_loss", "#7c3aed"), line("MLP test", "test_loss", "#059669"));
    }
    const empty = !m.length && !mlp?.length;
    const yaxis = { ...LAYOUT.yaxis, title: { ...LAYOUT.yaxis.title, text: this.lossName() } };
    const ticks = fewTicks(traces.flatMap((tr) => tr.y));
    if (ticks) Object.assign(yaxis, { tickmode: "array", tickvals: ticks });
    const layout = { ...LAYOUT, yaxis };
    Plotly.react(
      this.plot,
      traces,
      !empty ? layout : { ...layout, annotations: [emptyNote(this.store.isOwner)], xaxis: { visible: false }, yaxis: { visible: false }, showlegend: false },
      CONFIG,
    );
  }

  lossName() {
    return this.store.session?.train?.loss === "cross_entropy" ? "√cross-entropy" : "RMSE";
  }

  renderSummary() {
    const last = this.store.metrics[this.store.metrics.length - 1];
    const now = this.now;
    const train = now ? now.train : last?.train_loss;
    const test = now ? now.test : last?.test_loss;
    const why = now ? (NOW_TEXT[now.kind] ?? "now, after the last edit") : null;
    const parts = [
      h("span.metric", {}, "train ", h("b", { "data-metric": "train" }, fmt(train))),
      h("span.metric", {}, "test ", h("b", { "data-metric": "test" }, fmt(test))),
      why ? h("span.now", { "data-loss-now": now.kind, title: "the loss of the model as it is now; the chart shows training" }, why) : null,
      h("span.hint", {}, `loss = ${this.lossName()}, log scale`),
    ];
    this.summary.replaceChildren(...parts.filter(Boolean));
  }
}

/** Within less than a decade Plotly's log axis labels every minor step (0.2, 0.4 … 1.4), which a
 *  short chart stacks on top of each other: then about four evenly spaced round values instead.
 *  A decade or more keeps Plotly's own (sparse) labels: null. */
export function fewTicks(values, n = 4) {
  const ys = values.filter((v) => v > 0 && Number.isFinite(v));
  if (!ys.length) return null;
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  if (!(hi > lo) || Math.log10(hi / lo) >= 1) return null;
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  const out = [];
  for (let k = Math.ceil(lo / step); k * step <= hi * (1 + 1e-9); k++) out.push(Number((k * step).toPrecision(12)));
  return out.length >= 2 ? out : null;
}

const NOW_TEXT = { undo: "now, after Undo", redo: "now, after Redo", reset: "now, after Reset" };

function emptyNote(isOwner) {
  return {
    text: isOwner ? "No training yet: press Play" : "No training yet",
    showarrow: false,
    xref: "paper",
    yref: "paper",
    x: 0.5,
    y: 0.5,
    font: { size: 14, color: "#64748b" },
  };
}
