// The compact view of a pruned network: only what is live — inputs and outputs always, hidden
// nodes that are not pruned, and the unpruned edges between live nodes — laid out as a network
// of the live width (the diagram's positions are remapped; the data is the store's, unchanged).

import { h } from "../dom.js";
import { widthText } from "./discover.js";

/** Whether a compact layout applies: plain sum nodes only (mult nodes keep their full layout). */
export function canCompact(width) {
  return width.every((w) => !Array.isArray(w) || !w[1]);
}

/** {counts, node(l, i) → key | null, box(e) → key | null, width}: live nodes renumbered per layer. */
export function liveMap(width, nodes, edges) {
  const L = width.length;
  const counts = width.map((w) => (Array.isArray(w) ? w[0] : w));
  const dead = new Set(nodes.filter((n) => n.state === "pruned" && n.l > 0 && n.l < L - 1).map((n) => `${n.l},${n.i}`));
  const rank = new Map();
  const live = counts.map((n, l) => {
    let r = 0;
    for (let i = 0; i < n; i++) if (!dead.has(`${l},${i}`)) rank.set(`${l},${i}`, r++);
    return r;
  });
  const node = (l, i) => (rank.has(`${l},${i}`) ? `${l},${rank.get(`${l},${i}`)}` : null);
  const box = (e) => {
    const [a, b] = [rank.get(`${e.l},${e.i}`), rank.get(`${e.l + 1},${e.j}`)];
    return e.state === "pruned" || a === undefined || b === undefined ? null : `${e.l},${a},${b}`;
  };
  return { counts: live, node, box, width: live };
}

/** Whether anything is pruned (then the compact view is worth offering). */
export function anyPruned(nodes, edges) {
  for (const e of edges.values()) if (e.state === "pruned") return true;
  return nodes.some((n) => n.state === "pruned");
}

/** The bar over the diagram: the live width and the "Compact view" switch. */
export function compactBar(onToggle) {
  const box = h("input", { type: "checkbox", "data-compact": "" });
  box.addEventListener("change", () => onToggle(box.checked));
  const label = h("span.live-width", { "data-live-width": "" });
  const bar = h("div.compact-bar", { hidden: true }, label, h("label.inline", { title: "draw only what is live: pruned nodes and edges left out" }, box, " Compact view"));
  return {
    el: bar,
    /** Show it when something is pruned; the label names the live network's width. */
    render(width, nodes, edges, on) {
      const show = anyPruned(nodes, edges) && canCompact(width);
      bar.hidden = !show;
      box.checked = on;
      if (show) label.textContent = `live network ${widthText(liveMap(width, nodes, edges).width)} of ${widthText(width)}`;
    },
  };
}
