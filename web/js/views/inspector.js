// The side panel for the selected edge or node: what it is, its curve in detail (Plotly: the
// learned curve, the range and histogram of the data that flows through it, the grid knots, a
// candidate preview), its symbolic fit, and the edits that apply to it.

import { h, fmt, fitText, replace } from "../dom.js";
import { misfit, renderCandidates } from "./candidates.js";

const COLORS = { active: "#1d4ed8", symbolic: "#b91c1c", pruned: "#94a3b8", preview: "#ea580c" };

export class Inspector {
  constructor(root, store, actions) {
    this.root = root;
    this.store = store;
    this.actions = actions;
    this.renderedState = null;
    store.on("selection", () => this.render());
    store.on("snapshot", () => this.render());
    store.on("detail", () => this.render());
    store.on("suggestions", () => this.render());
    store.on("preview", () => this.updatePreview());
    store.on("edges", (keys) => this.onEdges(keys));
    this.render();
  }

  onEdges(keys) {
    const sel = this.store.selection;
    if (!sel) return;
    if (sel.kind === "node") {
      // Re-render only when the node's state changes, so its buttons stay put while training.
      const n = this.store.nodes.find((x) => `${x.l},${x.i}` === sel.key);
      return n && n.state !== this.renderedState ? this.render() : undefined;
    }
    if (!keys.includes(sel.key)) return;
    const e = this.store.edge(sel.key);
    if (e.state !== this.renderedState) return this.render();
    this.updateLiveCurve(e);
  }

  render() {
    const sel = this.store.selection;
    if (!this.store.session) return replace(this.root);
    if (!sel) return replace(this.root, emptyHelp(this.store));
    if (sel.kind === "node") {
      this.renderedState = this.store.nodes.find((x) => `${x.l},${x.i}` === sel.key)?.state;
      return replace(this.root, this.nodePanel(sel.key));
    }
    const e = this.store.edge(sel.key);
    if (!e) return replace(this.root, emptyHelp(this.store));
    this.renderedState = e.state;
    this.plotDiv = h("div.edge-plot", { "aria-label": "edge curve plot" });
    replace(this.root, this.edgeHeader(e), this.edgeActions(e), this.plotDiv, this.edgeFacts(e));
    if (e.state === "active") this.root.append(renderCandidates(this.store, this.actions));
    this.drawPlot(e);
  }

  edgeHeader(e) {
    const labels = new Map(this.store.nodes.map((n) => [`${n.l},${n.i}`, n.label]));
    const from = labels.get(`${e.l},${e.i}`);
    const to = labels.get(`${e.l + 1},${e.j}`);
    return h(
      "header.panel-head",
      {},
      h("h2", {}, "Edge ", h("span.mono", {}, `${from} → ${to}`)),
      h("div.sub", {}, h("span.badge", { "data-badge": e.state }, e.state), ` index (${e.l}, ${e.i}, ${e.j}) · importance ${fmt(e.score)}`),
    );
  }

  edgeActions(e) {
    if (!this.store.isOwner) return null;
    const a = this.actions;
    const btns = [];
    if (e.state === "pruned") btns.push(button("Restore", "put this edge back", () => a.restoreEdge()));
    else btns.push(button("Prune", "remove this edge from the network", () => a.pruneEdge()));
    if (e.state === "symbolic") btns.push(button("Unfix", "turn this edge back into a learnable spline", () => a.unfix()));
    return h("div.panel-actions", {}, btns);
  }

  edgeFacts(e) {
    const facts = h("div.facts");
    const d = this.store.detail;
    if (e.state === "symbolic" && e.symbolic) {
      facts.append(h("p", {}, "Snapped to ", h("code.fit", {}, fitText(e.symbolic)), e.symbolic.r2 != null ? ` (1 − R² ${misfit(e.symbolic.r2)})` : ""));
    }
    if (e.state === "pruned") facts.append(h("p.muted", {}, `Pruned: this edge contributes nothing.${this.store.isOwner ? " Restore brings it back." : ""}`));
    if (d?.data_range) {
      facts.append(h("p.muted", {}, `Inputs reaching this edge span [${fmt(d.data_range[0])}, ${fmt(d.data_range[1])}] (shaded, with a histogram); dotted lines mark the spline's grid knots.`));
    }
    this.previewLine = h("p.preview-line", { "data-preview": "" });
    facts.append(this.previewLine);
    return facts;
  }

  nodePanel(key) {
    const n = this.store.nodes.find((x) => `${x.l},${x.i}` === key);
    if (!n) return emptyHelp(this.store);
    const last = this.store.session.width.length - 1;
    const kind = n.l === 0 ? "input" : n.l === last ? "output" : "hidden node";
    const wrap = h(
      "div",
      {},
      h("header.panel-head", {}, h("h2", {}, `${kind[0].toUpperCase()}${kind.slice(1)} `, h("span.mono", {}, n.label)),
        h("div.sub", {}, h("span.badge", { "data-badge": n.state }, n.state), ` node (${n.l}, ${n.i}) · importance ${fmt(n.score)}`)),
    );
    if (this.store.isOwner && kind === "hidden node") {
      wrap.append(
        h("div.panel-actions", {}, n.state === "pruned"
          ? button("Restore node", "bring back this node's edges", () => this.actions.restoreNode())
          : button("Remove node", "prune every edge through this node", () => this.actions.pruneNode())),
      );
    } else if (kind !== "hidden node" && this.store.isOwner) {
      wrap.append(h("p.muted", {}, "Inputs and outputs stay; prune their edges instead."));
    }
    return wrap;
  }

  // --- the Plotly plot ---------------------------------------------------------------------
  drawPlot(e) {
    const d = this.store.detail;
    const color = COLORS[e.state];
    const curve = d && d.x ? { x: d.x, y: d.y } : e.curve || { x: [], y: [] };
    const traces = [
      { name: "data", type: "histogram", x: d?.data || [], yaxis: "y2", marker: { color: "rgba(100,116,139,0.28)" }, hoverinfo: "skip", nbinsx: 30 },
      { name: e.state === "symbolic" ? "symbolic" : "spline", x: curve.x, y: curve.y, mode: "lines", line: { color, width: 2.5 } },
      // Legend entry only: the knots themselves are dotted vertical lines (layout shapes).
      { name: "grid knots", x: [null], y: [null], mode: "lines", line: { color: "#94a3b8", width: 1, dash: "dot" } },
      { name: "preview", x: [], y: [], mode: "lines", line: { color: COLORS.preview, width: 2, dash: "dash" }, visible: false },
    ];
    const shapes = d?.data_range ? [{ type: "rect", xref: "x", yref: "paper", x0: d.data_range[0], x1: d.data_range[1], y0: 0, y1: 1, fillcolor: "rgba(37,99,235,0.07)", line: { width: 0 }, layer: "below" }] : [];
    for (const k of d?.knots || []) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: k, x1: k, y0: 0, y1: 1, line: { color: "#94a3b8", width: 1, dash: "dot" }, layer: "below" });
    }
    const layout = {
      margin: { l: 44, r: 8, t: 6, b: 30 },
      height: 210,
      showlegend: true,
      legend: { orientation: "h", y: -0.2, font: { size: 11 } },
      xaxis: { zeroline: false, title: { text: "input", standoff: 2 } },
      yaxis: { zeroline: false },
      yaxis2: { overlaying: "y", side: "right", showticklabels: false, showgrid: false, rangemode: "tozero", fixedrange: true },
      shapes,
      uirevision: this.store.selection.key,
      font: { size: 11 },
      bargap: 0.05,
    };
    Plotly.react(this.plotDiv, traces, layout, { displayModeBar: false, responsive: true });
    this.updatePreview();
  }

  updateLiveCurve(e) {
    if (!this.plotDiv?.data || !e.curve) return;
    Plotly.restyle(this.plotDiv, { x: [e.curve.x], y: [e.curve.y] }, [1]);
  }

  updatePreview() {
    if (!this.plotDiv?.data) return;
    const name = this.store.preview;
    const cand = this.store.suggestions?.candidates?.find((c) => c.name === name);
    for (const row of this.root.querySelectorAll("tr.cand")) row.classList.toggle("previewing", row.dataset.candidate === name);
    if (!cand) {
      Plotly.restyle(this.plotDiv, { visible: false }, [3]);
      if (this.previewLine) this.previewLine.textContent = "";
      return;
    }
    Plotly.restyle(this.plotDiv, { x: [cand.curve.x], y: [cand.curve.y], visible: true, name: `preview: ${cand.name}` }, [3]);
    this.previewLine.dataset.preview = cand.name;
    this.previewLine.replaceChildren("Preview (dashed): ", h("code", {}, fitText(cand)), ` · 1 − R² ${misfit(cand.r2)}`);
  }
}

function button(label, title, onclick) {
  return h("button", { type: "button", title, onclick }, label);
}

function emptyHelp(store) {
  return h(
    "div.empty-help",
    {},
    h("h2", {}, "Inspect"),
    h("p", {}, "Click an edge's little plot in the diagram to see its learned function in detail", store.isOwner ? ", snap it to a formula, or prune it." : "."),
    h("p.muted", {}, "Each box shows the function learned on one edge. Darker = more important; red = snapped to a formula; faded and dashed = pruned."),
  );
}
