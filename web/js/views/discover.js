// Discover: the owner starts a formula search with a time budget; the Pareto front (complexity
// against test error, log scale) fills in as the server finds formulas. Clicking a point shows
// its formula; "Use this formula" makes it the session's model (one undoable edit).
// Every front point is <circle data-candidate="k">; the list below the plot mirrors it.

import { h, s, fmt, replace } from "../dom.js";
import { mathml } from "./formula.js";

const W = 260;
const H = 150;
const PAD = { l: 34, r: 8, t: 8, b: 24 };

export class DiscoverView {
  constructor(root, store, controller) {
    this.root = root;
    this.store = store;
    this.controller = controller;
    this.picked = null; // the user's pick; null: the search's suggestion, which moves as it runs
    this.budget = 30;
    store.on("discover", () => this.render());
    this.render();
  }

  render() {
    const st = this.store.discover || { front: [], best: null, done: true };
    const trail = this.store.formulaTrail;
    const head = h("h2", {}, "Discover");
    const parts = [head];
    if (this.store.isOwner) parts.push(this.controls(st));
    if (!st.front.length && st.done && !st.error) {
      const what = "network shapes, pruning and snapping, searched automatically: the simplest formulas that fit on the left.";
      parts.push(h("p.muted", {}, this.store.isOwner ? `Search ${what}` : `No search yet. Discover shows ${what}`));
    } else {
      parts.push(h("p.discover-status", { role: "status" }, statusText(st)));
    }
    if (st.front.length || trail.length) parts.push(this.plot(st, trail));
    if (st.front.length) parts.push(this.detail(st.front[this.shown(st)], st));
    replace(this.root, ...parts);
  }

  controls(st) {
    const running = st && !st.done;
    const input = h("input", { type: "number", min: 5, max: 300, step: 5, value: this.budget, "aria-label": "time budget in seconds" });
    input.addEventListener("change", () => {
      const v = Number(input.value);
      if (Number.isFinite(v) && v > 0) this.budget = Math.min(300, v);
    });
    const go = h("button.primary", { type: "button", title: "search for a formula automatically" }, running ? "Restart" : "Discover");
    go.setAttribute("aria-label", "Discover");
    go.addEventListener("click", () => {
      this.picked = null;
      this.controller.discover(this.budget);
    });
    return h("div.discover-controls", {}, go, h("label", {}, input, " s"));
  }

  plot(st, trail) {
    const lg = (v) => Math.log10(Math.max(v, 1e-12));
    const xs = st.front.map((c) => c.complexity);
    const ys = st.front.map((c) => lg(c.test_nrmse));
    const allX = [...xs, ...trail.map((p) => p.complexity)];
    const allY = [...ys, ...trail.map((p) => lg(p.test_nrmse))];
    // at least one decade of error and two steps of complexity, so that nearly equal points are
    // drawn nearly together (not at opposite corners)
    const [x0, x1] = span(Math.min(...allX), Math.max(...allX), 2);
    const y0 = Math.floor(Math.min(...allY));
    const y1 = Math.max(Math.ceil(Math.max(...allY)), y0 + 1); // whole decades: exact labels
    const px = (x) => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
    const py = (y) => PAD.t + (1 - (y - y0) / (y1 - y0 || 1)) * (H - PAD.t - PAD.b);
    const svg = s("svg.pareto", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "formulas found: complexity against test error" });
    svg.append(
      s("line.axis", { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }),
      s("line.axis", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }),
      s("text.axis-label", { x: W - PAD.r, y: H - 6, "text-anchor": "end" }, "complexity →"),
      s("text.axis-label", { x: 2, y: PAD.t + 8 }, `10^${y1}`),
      s("text.axis-label", { x: 2, y: H - PAD.b }, `10^${y0}`),
    );
    // the session's own formulas, oldest first; the latest is the current model
    trail.forEach((p, k) => {
      const last = k === trail.length - 1;
      const cx = px(p.complexity);
      const cy = py(lg(p.test_nrmse));
      svg.append(s("rect.mine", { x: cx - 4, y: cy - 4, width: 8, height: 8, "data-current": last ? "" : null },
        s("title", {}, `${last ? "current model" : "earlier"}: ${p.formula}\nerror ${fmt(p.test_nrmse)} · complexity ${p.complexity}`)));
    });
    const line = st.front.map((c, k) => `${px(xs[k]).toFixed(1)},${py(ys[k]).toFixed(1)}`).join(" ");
    svg.append(s("polyline.front", { points: line }));
    st.front.forEach((c, k) => {
      const dot = s("circle.point", { cx: px(xs[k]), cy: py(ys[k]), r: 6, "data-candidate": k, tabindex: 0 },
        s("title", {}, `${c.formula}\nerror ${fmt(c.test_nrmse)} · complexity ${c.complexity}`));
      dot.classList.toggle("best", k === st.best);
      dot.classList.toggle("picked", k === this.shown(st));
      const pick = () => {
        this.picked = k;
        this.render();
      };
      dot.addEventListener("click", pick);
      dot.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && pick());
      svg.append(dot);
    });
    const note = trail.length ? " · ■ your session's formulas (filled: now)" : "";
    return h("div.pareto-wrap", {}, svg, h("div.axis-note.muted", {}, `test error (NRMSE, log) ↑ · simpler ←${note}`));
  }

  /** The front point shown below the plot: the user's pick, else the current suggestion. */
  shown(st) {
    return this.picked !== null && this.picked < st.front.length ? this.picked : (st.best ?? 0);
  }

  detail(c, st) {
    const use = this.store.isOwner
      ? h("button.primary", { type: "button", onclick: () => this.controller.applyCandidate(c.k) }, "Use this formula")
      : null;
    return h(
      "div.discover-pick",
      { "data-picked": c.k },
      h("div.math", {}, mathml(c.mathml, c.formula)),
      h("p.muted", {}, `${c.k === st.best ? "Suggested · " : ""}test error ${fmt(c.test_nrmse)} of the target's spread · complexity ${c.complexity} · network ${widthText(c.width)} · ${c.source}`),
      use,
    );
  }
}

function span(lo, hi, least) {
  if (hi - lo >= least) return [lo, hi];
  const mid = (lo + hi) / 2;
  return [mid - least / 2, mid + least / 2];
}

function statusText(st) {
  if (st.error) return `The search failed: ${st.error}`;
  const n = st.front.length;
  const found = n ? `${n} formula${n > 1 ? "s" : ""} on the front` : "nothing yet";
  return st.done ? `Done in ${fmt(st.elapsed_s)} s: ${found}.` : `Searching… ${found} (budget ${st.budget_s} s).`;
}

export function widthText(width) {
  return `[${width.map((w) => (Array.isArray(w) ? (w[1] ? `${w[0]}+${w[1]}×` : w[0]) : w)).join(", ")}]`;
}
