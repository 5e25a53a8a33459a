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
    for (const [k, out] of f.outputs.entries()) {
      const lhs = f.outputs.length > 1 ? `y${k} = ` : "y = ";
      math.append(h("div.math-line", {}, h("span.lhs", {}, lhs), mathml(out.mathml, out.sympy)));
    }
    const status = f.complete
      ? h("p.fit-quality", {}, `Error on test data (RMSE): formula ${fmt(f.formula_rmse)} · network ${fmt(f.network_rmse)}. `, verdict(f))
      : h("p.muted", {}, `${symbolic} of ${live} live edges are symbolic. φ with subscript l,i,j is edge (l, i, j), still a learned spline: snap the edges (or use Auto-symbolic) to finish the formula.`);
    const copy = h(
      "div.panel-actions",
      {},
      h("button.small", { type: "button", onclick: () => copyText(f.outputs.map((o) => o.latex).join("\n"), this.root) }, "Copy LaTeX"),
      f.python ? h("button.small", { type: "button", onclick: () => copyText(f.python, this.root) }, "Copy Python") : null,
    );
    replace(this.root, head, math, status, copy);
  }
}

function verdict(f) {
  if (f.formula_rmse == null || f.network_rmse == null) return "";
  if (f.formula_rmse <= f.network_rmse * 1.1 + 1e-9) return "The formula is as accurate as the network.";
  return "The formula is less accurate than the network: some snaps are approximate.";
}

/** Server MathML (sympy's, with HTML named entities such as &InvisibleTimes;), parsed by the
 * HTML parser into an inert document; only a <math> element is imported, without scripts,
 * links or event attributes. */
function mathml(markup, fallback) {
  const doc = new DOMParser().parseFromString(markup, "text/html");
  const root = doc.querySelector("math");
  if (!root || root.namespaceURI !== MATHML_NS) return h("code", {}, fallback);
  for (const el of [root, ...root.querySelectorAll("*")]) {
    if (el.localName === "script" || el.localName === "style") el.remove();
    for (const attr of [...el.attributes]) {
      if (/^on|href$/i.test(attr.name)) el.removeAttribute(attr.name);
    }
  }
  // Placeholders for spline edges arrive as <mi>phi_l_i_j</mi>; show them as φ with a subscript.
  for (const mi of root.querySelectorAll("mi")) {
    const m = /^phi_(\d+)_(\d+)_(\d+)$/.exec(mi.textContent);
    if (!m) continue;
    const sub = doc.createElementNS(MATHML_NS, "msub");
    const phi = doc.createElementNS(MATHML_NS, "mi");
    const idx = doc.createElementNS(MATHML_NS, "mn");
    phi.textContent = "φ";
    idx.textContent = `${m[1]},${m[2]},${m[3]}`;
    sub.append(phi, idx);
    mi.replaceWith(sub);
  }
  root.setAttribute("display", "block");
  return document.importNode(root, true);
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
