// The edit history (undoable edits, newest first) and a short log of what just happened.

import { h, replace } from "../dom.js";

export class HistoryView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    store.on("history", () => this.render());
    this.render();
  }

  render() {
    const hist = this.store.session?.history || [];
    const items = hist
      .slice()
      .reverse()
      .map((e) => h("li", { class: e.undone ? "undone" : "", title: e.undone ? "undone (Redo brings it back)" : "" }, h("span.step", {}, `step ${e.step}`), " ", e.summary));
    replace(
      this.root,
      h("h2", {}, "History"),
      items.length ? h("ol.history", { reversed: true }, items) : h("p.muted", {}, "No edits yet. Every prune, snap or refine appears here and can be undone."),
    );
  }
}
