// /classes/new: a teacher starts a formula challenge — a hidden formula (parsed safely by the
// server, never evaluated here) whose data the students get; their formulas are ranked on the
// dashboard until the teacher reveals the answer.

import { h, replace } from "../dom.js";
import { request } from "../api.js";
import { compile } from "../expr.js";
import { rememberClass } from "./api.js";
import { openClassOverlay } from "./start.js";

export function renderChallengeForm(root, toasts) {
  const formula = h("input.wide", { name: "formula", "aria-label": "hidden formula", placeholder: "x_1*x_2 + sin(3*x_1)", autocomplete: "off", spellcheck: "false", required: true });
  const ranges = h("input", { name: "ranges", value: "-1, 1", "aria-label": "variable range", title: "lo, hi for every variable, or one pair per variable separated by ;" });
  const hidden = h("input", { name: "hidden", value: "5", "aria-label": "hidden layer widths", title: "comma-separated hidden layer widths the students start from" });
  const error = h("p.form-error", { role: "alert" });
  const form = h(
    "form.join-form.panel",
    { "aria-label": "start a formula challenge" },
    h("h1", {}, "A formula challenge"),
    h("p.muted", {}, "Students get only the data sampled from this formula, each in their own copy, and race to find it; the dashboard ranks their formulas until you reveal the answer. Type it before the projector is on."),
    h("label.field", {}, h("span", {}, "hidden formula y ="), formula),
    h("label.field", {}, h("span", {}, "ranges (lo, hi; …)"), ranges),
    h("label.field", {}, h("span", {}, "hidden layers"), hidden),
    h("button.primary", { type: "submit" }, "Start the challenge"),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const challenge = { formula: formula.value.trim(), ranges: parseRanges(ranges.value) };
      const width = widthFor(challenge.formula, hidden.value);
      if (width) challenge.width = width;
      const created = await request("POST", "/api/classes", { body: { challenge } });
      const cls = rememberClass(created.id, { ...created, challenge: true, created: Date.now() });
      formula.value = "";
      history.replaceState(null, "", `/classes/${encodeURIComponent(created.id)}`);
      openClassOverlay(cls, toasts, () => {}, () => location.reload());
    } catch (err) {
      error.textContent = err.message;
    }
  });
  replace(root, h("main.join-page", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"), form));
  formula.focus();
}

/** "-1, 1" → [[-1, 1]] applied to every variable by the server; "-1, 1; 0, 2" → per variable. */
function parseRanges(text) {
  const pairs = text.split(";").map((part) => part.split(/[,\s]+/).filter(Boolean).map(Number));
  const ok = pairs.every((p) => p.length === 2 && p.every(Number.isFinite) && p[0] < p[1]);
  if (!ok) throw new Error("ranges: write lo, hi with lo < hi, e.g. -1, 1 (or -1, 1; 0, 2 per variable)");
  return pairs.length === 1 ? pairs[0] : pairs;
}

/** [n_inputs, ...hidden, 1] when the formula's variables can be counted here (the page's own
 *  small parser, as the gallery does); else null and the server picks its default shape. */
function widthFor(formula, text) {
  const hidden = text.split(/[,;\s]+/).filter(Boolean).map(Number);
  if (hidden.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("hidden layers: whole numbers like 5 or 4, 2");
  try {
    return hidden.length ? [compile(formula).variables.length, ...hidden, 1] : null;
  } catch {
    return null; // the server explains what is wrong with the formula
  }
}
