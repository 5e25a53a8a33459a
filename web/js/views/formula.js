// The formula panel: the network read as a formula (MathML from the server), how well it
// matches the network on test data, and copy as LaTeX or Python.

import { h, fmt, replace } from "../dom.js";

const MATHML_NS = "http://www.w3.org/1998/Math/MathML";

export class FormulaView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    store.on("formula", () => this.render());
    this.render();
  }

  render() {
    const f = this.store.formula;
    const head = h("h2", {}, "Formula");
    if (!f) return replace(this.root, head, h("p.muted", {}, "Loading…"));
    const symbolic = [...this.store.edges.values()].filter((e) => e.state === "symbolic").length;
    const live = [...this.store.edges.values()].filter((e) => e.state !== "pruned").length;
    const math = h("div.math", { "data-formula": f.complete ? "complete" : "partial" });
    const names = outputNames(this.store.nodes, f.outputs.length);
    for (const [k, out] of f.outputs.entries()) {
      const line = h("div.math-line", { "data-output": String(k) }, h("span.lhs", {}, `${names[k]} = `), mathml(out.mathml, out.sympy));
      math.append(line);
    }
    // a complete formula's message (a classifier's) says how it compares, in its own terms
    const status = f.complete && f.message
      ? h("p.fit-quality", {}, `${f.message}.`)
      : f.complete
      ? h("p.fit-quality", {}, `Error on test data (RMSE): formula ${fmt(f.formula_rmse)} · network ${fmt(f.network_rmse)}. `, verdict(f))
      : h("p.muted", {}, `${symbolic} of ${live} live edges are symbolic. φ with subscript l,i,j is edge (l, i, j), still a learned spline${this.store.isOwner ? ": snap the edges (or use Auto-symbolic) to finish the formula." : "."}`);
    const copy = h(
      "div.panel-actions",
      {},
      h("button.small", { type: "button", onclick: () => copyText(f.outputs.map((o) => o.latex).join("\n"), this.root) }, "Copy LaTeX"),
      f.python ? h("button.small", { type: "button", onclick: () => copyText(f.python, this.root) }, "Copy Python") : null,
    );
    replace(this.root, head, math, status, copy);
  }
}

/** Each output's name as the network labels its output node (a CSV's target column, y_1 … y_n,
 * class0 …); "y" / "y0 …" before the nodes arrive. */
function outputNames(nodes, n) {
  const last = Math.max(-1, ...nodes.map((node) => node.l));
  const labels = nodes.filter((node) => node.l === last).sort((a, b) => a.i - b.i).map((node) => node.label);
  return Array.from({ length: n }, (_, k) => labels.length === n ? labels[k] : n > 1 ? `y${k}` : "y");
}

function verdict(f) {
  if (f.formula_rmse == null || f.network_rmse == null) return "";
  if (f.formula_rmse <= f.network_rmse * 1.1 + 1e-9) return "The formula is as accurate as the network.";
  return "The formula is less accurate than the network: some snaps are approximate.";
}

// The MathML we render is rebuilt element by element from an allow-list: a server string is
// never inserted as markup, so a hostile name (a CSV column such as <iframe srcdoc=…>) can only
// ever become text.
const MATHML_TAGS = new Set([
  "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
  "msqrt", "mroot", "mfenced", "mstyle", "mpadded", "mphantom", "munder", "mover", "munderover",
  "mtable", "mtr", "mtd", "semantics",
]);
const MATHML_ATTRS = new Set([
  "display", "mathvariant", "stretchy", "fence", "separator", "form", "lspace", "rspace",
  "linethickness", "open", "close", "separators", "accent", "accentunder", "columnalign",
]);

/** Server MathML (ours, or sympy's with HTML named entities such as &InvisibleTimes;), parsed
 * by the HTML parser into an inert document, then copied: allow-listed MathML elements and
 * attributes, and text. Anything else is dropped, its text kept as text. */
export function mathml(markup, fallback) {
  const doc = new DOMParser().parseFromString(markup, "text/html");
  const root = doc.querySelector("math");
  if (!root || root.namespaceURI !== MATHML_NS) return h("code", {}, fallback);
  const out = copyMath(root);
  out.setAttribute("display", "block");
  return out;
}

function copyMath(node) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.data);
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  if (node.namespaceURI !== MATHML_NS || !MATHML_TAGS.has(node.localName)) {
    return document.createTextNode(node.textContent);
  }
  // Placeholders for spline edges arrive as <mi>phi_l_i_j</mi>; show them as φ with a subscript.
  const phi = node.localName === "mi" && /^phi_(\d+)_(\d+)_(\d+)$/.exec(node.textContent);
  if (phi) {
    const sub = document.createElementNS(MATHML_NS, "msub");
    const name = document.createElementNS(MATHML_NS, "mi");
    const idx = document.createElementNS(MATHML_NS, "mn");
    name.textContent = "φ";
    idx.textContent = `${phi[1]},${phi[2]},${phi[3]}`;
    sub.append(name, idx);
    return sub;
  }
  const el = document.createElementNS(MATHML_NS, node.localName);
  for (const attr of node.attributes) {
    if (MATHML_ATTRS.has(attr.name) && /^[\w .%-]*$/.test(attr.value)) {
      el.setAttribute(attr.name, attr.value);
    }
  }
  for (const child of node.childNodes) {
    const c = copyMath(child);
    if (c) el.append(c);
  }
  return el;
}

async function copyText(text, root) {
  try {
    await navigator.clipboard.writeText(text);
    flash(root, "Copied.");
  } catch {
    // No clipboard (insecure context or denied): show the text so it can be copied by hand.
    const area = h("textarea.copy-box", { readonly: true, rows: 4 }, text);
    root.append(area);
    area.select();
  }
}

function flash(root, text) {
  const note = h("span.flash", { role: "status" }, text);
  root.append(note);
  setTimeout(() => note.remove(), 1500);
}
