// The recipe as a visible guide: Train → Simplify → Snap (or Discover). The current step is
// derived from what the server says (steps trained, edit history, formula), never stored.

import { h, replace } from "../dom.js";

const STEPS = [
  ["train", "1 · Train", "Press Play: every edge learns a curve. A λ above 0 makes unneeded edges fade."],
  ["simplify", "2 · Simplify", "Auto-prune removes faded edges and nodes; train a little more afterwards."],
  ["snap", "3 · Snap", "Auto-symbolic (or click an edge) turns curves into functions; train again to polish."],
  ["done", "Formula", "Every edge is a function: read the formula below. Or let Discover search for you."],
];

export class GuideView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    for (const topic of ["status", "history", "formula", "snapshot"]) store.on(topic, () => this.render());
    this.render();
  }

  current() {
    const st = this.store;
    const kinds = new Set((st.session?.history || []).filter((e) => !e.undone).map((e) => e.kind));
    if (st.formula?.complete) return "done";
    if (kinds.has("auto_prune") || kinds.has("prune_edge") || kinds.has("prune_node")) return "snap";
    if (st.step > 0) return "simplify";
    return "train";
  }

  render() {
    const now = this.current();
    if (now === this.shown) return; // status events come with every stream frame
    this.shown = now;
    const items = STEPS.map(([key, label, hint]) =>
      h("li", { "data-guide": key, class: key === now ? "current" : "", title: hint, "aria-current": key === now ? "step" : null }, label),
    );
    const hint = STEPS.find(([key]) => key === now)[2];
    replace(this.root, h("ol.guide-steps", { "aria-label": "recipe" }, items), h("span.guide-hint", {}, hint));
  }
}
