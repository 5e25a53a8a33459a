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
    const owner = this.store.isOwner;
    const undoneTip = owner ? "undone (Redo brings it back)" : "undone";
    const items = hist
      .slice()
      .reverse()
      .map((e) => h("li", { class: e.undone ? "undone" : "", title: e.undone ? undoneTip : "" }, h("span.step", {}, `step ${e.step}`), " ", e.summary));
    const empty = owner ? "No edits yet. Every prune, snap or refine appears here and can be undone (Undo also discards the training since that edit)." : "No edits yet.";
    replace(
      this.root,
      h("h2", {}, "History"),
      items.length ? h("ol.history", { reversed: true }, items) : h("p.muted", {}, empty),
    );
  }
}
