// /classes/new: a teacher starts a challenge — a hidden formula (parsed safely by the server,
// never evaluated here) whose data the students get, or a CSV file whose training rows they get
// (its held-out rows' labels stay on the server and rank them); their formulas are ranked on
// the dashboard until the teacher reveals the answer. Column names are data: set as text.

import { h, replace } from "../dom.js";
import { request } from "../api.js";
import { compile } from "../expr.js";
import { rememberClass } from "./api.js";
import { openClassOverlay } from "./start.js";

export function renderChallengeForm(root, toasts) {
  const formula = h("input.wide", { name: "formula", "aria-label": "hidden formula", placeholder: "x_1*x_2 + sin(3*x_1)", autocomplete: "off", spellcheck: "false" });
  const ranges = h("input", { name: "ranges", value: "-1, 1", "aria-label": "variable range", title: "lo, hi for every variable, or one pair per variable separated by ;" });
  const file = h("input", { type: "file", name: "csv", accept: ".csv,text/csv,text/plain", "aria-label": "CSV file" });
  const target = h("select", { name: "target", "aria-label": "target column", disabled: true }, h("option", { value: "" }, "choose a file first"));
  const heldOut = h("input", { name: "test_fraction", value: "0.2", inputmode: "decimal", "aria-label": "held-out share", title: "the share of rows held out: students never see their labels; the leaderboard ranks on them" });
  const answer = h("input.wide", { name: "answer", "aria-label": "answer (optional)", placeholder: "revealed at the end, e.g. y = x_1*x_2", autocomplete: "off", maxlength: 2000 });
  const hidden = h("input", { name: "hidden", value: "5", "aria-label": "hidden layer widths", title: "comma-separated hidden layer widths the students start from" });
  const error = h("p.form-error", { role: "alert" });
  const byFormula = h("div.challenge-source", {},
    h("label.field", {}, h("span", {}, "hidden formula y ="), formula),
    h("label.field", {}, h("span", {}, "ranges (lo, hi; …)"), ranges));
  const byCsv = h("div.challenge-source", { hidden: true },
    h("label.field", {}, h("span", {}, "CSV file (a header row, numbers)"), file),
    h("label.field", {}, h("span", {}, "target column"), target),
    h("label.field", {}, h("span", {}, "held-out share"), heldOut),
    h("label.field", {}, h("span", {}, "answer (optional)"), answer));
  const mode = (value, text, checked) => h("label.challenge-mode", {}, h("input", { type: "radio", name: "source", value, checked }), ` ${text}`);
  const modes = h("fieldset.challenge-modes", {}, h("legend", {}, "Students get data from"), mode("formula", "a hidden formula", true), mode("csv", "a CSV file", false));
  const form = h(
    "form.join-form.panel",
    { "aria-label": "start a challenge" },
    h("h1", {}, "A challenge"),
    h("p.muted", {}, "Students get only the data, each in their own copy, and race to find the formula; the dashboard ranks their formulas until you reveal the answer. From a CSV, they get its training rows only: the held-out rows they never see rank them. Type it before the projector is on."),
    modes, byFormula, byCsv,
    h("label.field", {}, h("span", {}, "hidden layers"), hidden),
    h("button.primary", { type: "submit" }, "Start the challenge"),
    error,
  );
  const csvMode = () => form.querySelector("input[name=source]:checked")?.value === "csv";
  modes.addEventListener("change", () => {
    byFormula.hidden = csvMode();
    byCsv.hidden = !csvMode();
    error.textContent = "";
  });
  let csvText = null;
  file.addEventListener("change", async () => {
    csvText = null;
    error.textContent = "";
    const f = file.files?.[0];
    if (!f) return;
    try {
      csvText = await f.text();
      const cols = headerOf(csvText);
      replace(target, ...cols.map((c, k) => h("option", { value: c, selected: k === cols.length - 1 }, c)));
      target.disabled = false;
    } catch (err) {
      error.textContent = err.message;
    }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const challenge = csvMode() ? csvChallenge(csvText, target.value, heldOut.value, answer.value, hidden.value) : formulaChallenge(formula.value.trim(), ranges.value, hidden.value);
      const created = await request("POST", "/api/classes", { body: { challenge } });
      const cls = rememberClass(created.id, { ...created, challenge: true, created: Date.now() });
      formula.value = answer.value = "";
      history.replaceState(null, "", `/classes/${encodeURIComponent(created.id)}`);
      openClassOverlay(cls, toasts, () => {}, () => location.reload());
    } catch (err) {
      error.textContent = err.message;
    }
  });
  replace(root, h("main.join-page", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"), form));
  formula.focus();
}

function formulaChallenge(formula, rangesText, hiddenText) {
  if (!formula) throw new Error("hidden formula: type one, e.g. x_1*x_2 + sin(3*x_1)");
  const challenge = { formula, ranges: parseRanges(rangesText) };
  const hidden = parseHidden(hiddenText);
  try {
    if (hidden.length) challenge.width = [compile(formula).variables.length, ...hidden, 1];
  } catch {
    // the page's small parser cannot count the variables: the server explains what is wrong
  }
  return challenge;
}

function csvChallenge(text, target, fractionText, answerText, hiddenText) {
  if (!text) throw new Error("CSV file: choose one (a header row, then rows of numbers)");
  const fraction = Number(fractionText);
  if (!(fraction > 0 && fraction < 1)) throw new Error("held-out share: a number between 0 and 1, e.g. 0.2");
  const challenge = { csv: text, target, test_fraction: fraction };
  const hidden = parseHidden(hiddenText);
  if (hidden.length) challenge.width = [headerOf(text).length - 1, ...hidden, 1];
  if (answerText.trim()) challenge.answer = answerText.trim();
  return challenge;
}

/** The CSV's column names (its first non-empty line); the server checks the rest. */
function headerOf(text) {
  const line = text.split(/\r?\n/).find((l) => l.trim());
  const cols = (line || "").split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
  if (cols.length < 2 || cols.some((c) => !c)) throw new Error("CSV file: the first line must name 2 or more columns, separated by commas");
  return cols;
}

/** "-1, 1" → [[-1, 1]] applied to every variable by the server; "-1, 1; 0, 2" → per variable. */
function parseRanges(text) {
  const pairs = text.split(";").map((part) => part.split(/[,\s]+/).filter(Boolean).map(Number));
  const ok = pairs.every((p) => p.length === 2 && p.every(Number.isFinite) && p[0] < p[1]);
  if (!ok) throw new Error("ranges: write lo, hi with lo < hi, e.g. -1, 1 (or -1, 1; 0, 2 per variable)");
  return pairs.length === 1 ? pairs[0] : pairs;
}

function parseHidden(text) {
  const hidden = text.split(/[,;\s]+/).filter(Boolean).map(Number);
  if (hidden.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("hidden layers: whole numbers like 5 or 4, 2");
  return hidden;
}
