// Trace one input: a slider per input variable; the server follows that input vector through
// the network (GET /trace) and the diagram marks, in every edge's box, where the input lands on
// the curve, and writes each node's value beside it (network.js draws what store.trace holds).

import { h, fmt, replace } from "../dom.js";

const DEBOUNCE_MS = 60;

export class TraceView {
  /** Mounts itself before `anchor` (an element of the side panel). */
  constructor(anchor, store, controller) {
    this.store = store;
    this.controller = controller;
    this.on = false;
    this.values = null; // the slider values, one per input
    this.timer = null;
    this.seq = 0;
    this.toggle = h("input", { type: "checkbox", "data-trace-toggle": "" });
    this.toggle.addEventListener("change", () => this.setOn(this.toggle.checked));
    this.sliders = h("div.trace-sliders");
    this.out = h("p.trace-out", { "data-trace-output": "" });
    this.root = h(
      "section.trace",
      { "aria-label": "trace one input" },
      h("h2", {}, "Trace one input"),
      h("label.inline", { title: "follow one input through the network: every box marks where it lands on its curve" }, this.toggle, " Show on the diagram"),
      this.sliders,
      this.out,
    );
    anchor.before(this.root);
    const again = () => this.on && this.request();
    store.on("edited", again);
    store.on("event", (ev) => (ev.kind === "trained" || ev.kind === "paused") && again());
    store.on("snapshot", again);
  }

  async setOn(on) {
    this.on = on;
    if (!on) {
      replace(this.sliders);
      this.out.textContent = "";
      this.publish(null);
      return;
    }
    this.request();
  }

  request() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), DEBOUNCE_MS);
  }

  async load() {
    const seq = ++this.seq;
    const q = this.values ? "?" + this.values.map((v) => `x=${encodeURIComponent(v)}`).join("&") : "";
    const t = await this.controller.read(`/trace${q}`);
    if (!t || seq !== this.seq || !this.on) return;
    if (!this.values || this.sliders.childElementCount !== t.x.length) this.buildSliders(t);
    this.values = t.x;
    this.out.textContent = `output: ${t.output.map((v) => fmt(v)).join(", ")}`;
    this.publish(t);
  }

  buildSliders(t) {
    const rows = t.variables.map((name, k) => {
      const [lo, hi] = t.ranges[k];
      const value = h("output.mono", {}, fmt(t.x[k]));
      const slider = h("input", { type: "range", min: lo, max: hi, step: (hi - lo) / 200 || 0.01, value: t.x[k], "aria-label": `input ${name}`, "data-trace-input": name });
      slider.addEventListener("input", () => {
        this.values = this.values.map((v, i) => (i === k ? slider.valueAsNumber : v));
        value.textContent = fmt(slider.valueAsNumber);
        this.request();
      });
      return h("label.trace-row", {}, h("span.mono", {}, name), slider, value);
    });
    replace(this.sliders, ...rows);
  }

  publish(t) {
    this.store.trace = t;
    this.store.emit("trace");
  }
}
