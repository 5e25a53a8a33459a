// The start page: preset cards (one click creates a session and opens it), a custom formula
// form, a CSV upload, and the sessions this browser owns.

import { widthText } from "./discover.js";
import { h, replace, prettyFormula } from "../dom.js";
import { compile } from "../expr.js";
import { listPresets, createSession, uploadSession } from "../api.js";
import { rememberSession, knownSessions } from "../tokens.js";
import { openModelForm } from "./open_model.js";

export async function renderGallery(root, toasts) {
  const opts = modelOptions();
  const cards = h("div.cards", { "aria-label": "presets" }, h("p.muted", {}, "Loading presets…"));
  const classCards = h("div.cards", { "aria-label": "classification presets" });
  replace(
    root,
    h("header.gallery-head", {}, h("h1", {}, "KAN Workbench"),
      h("p.lead", {}, "Watch a Kolmogorov–Arnold Network learn a function, prune it, snap its edges to formulas, and read the formula back.")),
    h("section", {}, h("h2", {}, "Start from a preset"), h("p.muted", {}, "One click starts a session. The picture shows the target function over its first two inputs."), cards, opts.el),
    h("section", {}, h("h2", {}, "Classify points (lessons)"),
      h("p.muted", {}, "Two classes of points on two inputs, as in TensorFlow Playground: the network learns where each class lives (cross-entropy loss, accuracy), and the session draws its decision regions under the data."), classCards),
    h("div.gallery-forms", {}, formulaForm(opts), csvForm(opts), openModelForm(open)),
    recentList(),
  );
  try {
    const presets = await listPresets();
    const isClass = (p) => p.task === "classification";
    replace(cards, ...presets.filter((p) => !isClass(p)).map((p) => presetCard(p, opts, toasts)));
    replace(classCards, ...presets.filter(isClass).map((p) => presetCard(p, opts, toasts)));
  } catch (err) {
    replace(cards, h("p.error", { role: "alert" }, `Cannot load presets: ${err.message}`));
  }
}

function presetCard(p, opts, toasts) {
  const descId = `desc-${p.name}`;
  const card = h(
    "button.card",
    { type: "button", "aria-label": p.title, "aria-describedby": descId, "data-preset": p.name },
    p.task === "classification" ? classThumbnail(p.name) : thumbnail(p.formula, p.ranges),
    h("span.card-title", {}, p.title),
    p.task === "classification" ? h("span.card-formula", {}, "2 inputs → 2 classes") : h("code.card-formula", {}, prettyFormula(p.formula)),
    h("span.card-desc", { id: descId }, p.description || ""),
    p.look_for ? h("span.card-look", { "data-look-for": p.name }, `Look for: ${p.look_for}`) : null,
    h("span.card-width", {}, `width ${widthText(p.width)}`),
  );
  card.addEventListener("click", async () => {
    card.disabled = true;
    card.classList.add("busy");
    try {
      const created = await createSession({ preset: p.name, ...opts.values() });
      open(created, p.title);
    } catch (err) {
      toasts.error(`Could not create the session: ${err.message}`);
      card.disabled = false;
      card.classList.remove("busy");
    }
  });
  return card;
}

function open(created, title) {
  rememberSession(created, title);
  location.assign(created.url);
}

/** Grid and seed, shared by every way of starting a session. */
function modelOptions() {
  const grid = h("input.num", { type: "number", min: 1, max: 200, value: 5, "aria-label": "grid intervals" });
  const seed = h("input.num", { type: "number", min: 0, value: 0, "aria-label": "random seed" });
  const el = h("div.options", {}, h("span", {}, "Every new session uses"), h("label.inline", {}, h("span", {}, "grid intervals"), grid),
    h("label.inline", {}, h("span", {}, "seed"), seed), h("span.muted", {}, "(the defaults are fine for a first look)"));
  return { el, values: () => ({ grid: grid.valueAsNumber || 5, seed: seed.valueAsNumber || 0 }) };
}

function formulaForm(opts) {
  const formula = h("input.wide", { name: "formula", placeholder: "sin(pi*x_1) + x_2**2", "aria-label": "formula", required: true });
  const ranges = h("input", { name: "ranges", value: "-1, 1", "aria-label": "variable range", title: "lo, hi for every variable, or one pair per variable separated by ; (e.g. -1, 1; 0, 2)" });
  const hidden = h("input", { name: "hidden", value: "5", "aria-label": "hidden layer widths", title: "comma-separated hidden layer widths, e.g. 5 or 4, 2; multiplication nodes as 3+2x or 1x" });
  const error = h("p.form-error", { role: "alert" });
  const form = h(
    "form.panel",
    { "aria-label": "custom formula" },
    h("h2", {}, "Your own formula"),
    h("label.field", {}, h("span", {}, "f(x_1, x_2, …) ="), formula),
    h("div.row", {}, h("label.field", {}, h("span", {}, "ranges (lo, hi; …)"), ranges), h("label.field", {}, h("span", {}, "hidden layers"), hidden)),
    h("button.primary", { type: "submit" }, "Create session"),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const body = { formula: formula.value.trim(), ...opts.values() };
      body.ranges = parseRanges(ranges.value);
      const width = widthFor(formula.value, hidden.value);
      if (width) body.width = width;
      open(await createSession(body), formula.value.trim());
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

function csvForm(opts) {
  const file = h("input", { type: "file", accept: ".csv,text/csv", "aria-label": "CSV file", required: true });
  const target = h("input", { placeholder: "last column", "aria-label": "target column" });
  const error = h("p.form-error", { role: "alert" });
  const form = h(
    "form.panel",
    { "aria-label": "CSV upload" },
    h("h2", {}, "Your own data (CSV)"),
    h("p.muted", {}, "A header row names the columns; the last column is the target unless you name another."),
    h("label.field", {}, h("span", {}, "file"), file),
    h("label.field", {}, h("span", {}, "target column"), target),
    h("button.primary", { type: "submit" }, "Upload and create"),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    if (!file.files.length) return (error.textContent = "file: choose a CSV file");
    try {
      const options = { ...opts.values() };
      if (target.value.trim()) options.target = target.value.trim();
      open(await uploadSession(file.files[0], options), file.files[0].name);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

/** "-1, 1" → [-1, 1] for every variable; "-1, 1; 0, 2" → one pair per variable. */
function parseRanges(text) {
  const pairs = text.split(";").map((part) => part.split(/[,\s]+/).filter(Boolean).map(Number));
  const ok = pairs.every((p) => p.length === 2 && p.every(Number.isFinite) && p[0] < p[1]);
  if (!ok) throw new Error("ranges: write lo, hi with lo < hi, e.g. -1, 1 (or -1, 1; 0, 2 per variable)");
  return pairs.length === 1 ? pairs[0] : pairs;
}

/** [n_inputs, ...hidden, 1] when the formula's variables can be counted here; else let the server decide. */
function widthFor(formula, hiddenText) {
  const hidden = hiddenText.split(/[,;\s]+/).filter(Boolean).map(layerSize);
  if (!hidden.length || hidden.some((v) => v === null)) throw new Error("hidden layers: whole numbers like 5 or 4, 2; add multiplication nodes as 3+2x or 1x");
  try {
    return [compile(formula).variables.length, ...hidden, 1];
  } catch {
    return null; // the server will explain what is wrong with the formula
  }
}

/** "5" → 5 sum nodes; "3+2x" → [3, 2] (3 sum, 2 multiplication nodes); "1x" → [0, 1]. */
function layerSize(text) {
  const m = /^(?:(\d+)\+)?(\d+)[x×*]$/i.exec(text);
  if (m) return [Number(m[1] || 0), Number(m[2])];
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 ? n : null;
}

function recentList() {
  const mine = knownSessions();
  if (!mine.length) return null;
  return h(
    "section.recent",
    {},
    h("h2", {}, "Your sessions on this browser"),
    h("ul", {}, mine.map((s) => h("li", {}, h("a", { href: `/sessions/${s.id}` }, s.title || s.id), h("span.muted", {}, ` · ${new Date(s.created).toLocaleString()}`)))),
  );
}

/** A heatmap of the target over its first two variables (others at the middle of their range). */
function thumbnail(formula, ranges) {
  const N = 48;
  const canvas = h("canvas.thumb", { width: N, height: N, "aria-hidden": "true" });
  try {
    const { fn, variables } = compile(formula);
    const mid = Object.fromEntries(variables.map((v, k) => [v, (ranges[k][0] + ranges[k][1]) / 2]));
    const vals = [];
    for (let r = 0; r < N; r++) {
      for (let c = 0; c < N; c++) {
        const v = { ...mid };
        const at = (k, t) => ranges[k][0] + t * (ranges[k][1] - ranges[k][0]);
        if (variables[0]) v[variables[0]] = at(0, c / (N - 1));
        if (variables[1]) v[variables[1]] = at(1, 1 - r / (N - 1));
        vals.push(fn(v));
      }
    }
    const finite = vals.filter(Number.isFinite);
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(N, N);
    vals.forEach((v, k) => {
      const t = Number.isFinite(v) ? (v - lo) / (hi - lo || 1) : 0.5;
      const [r, g, b] = colormap(t);
      img.data.set([r, g, b, 255], k * 4);
    });
    ctx.putImageData(img, 0, 0);
  } catch {
    canvas.classList.add("blank");
  }
  return canvas;
}

/** Where each class lives (the server's preview: each cell the class of the nearest point). */
function classThumbnail(name) {
  const canvas = h("canvas.thumb", { width: 32, height: 32, "aria-hidden": "true", "data-thumb": name });
  fetch(`/api/presets/${encodeURIComponent(name)}/preview?n=32`)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then(({ z }) => {
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(32, 32);
      z.forEach((row, r) => row.forEach((v, c) => img.data.set([...colormap(v ? 0.9 : 0.1), 255], ((31 - r) * 32 + c) * 4)));
      ctx.putImageData(img, 0, 0);
    })
    .catch(() => canvas.classList.add("blank"));
  return canvas;
}

/** Blue → white → orange, as in TF Playground's heatmaps. */
function colormap(t) {
  const a = [8, 119, 189];
  const m = [245, 245, 245];
  const b = [245, 147, 34];
  const [p, q, u] = t < 0.5 ? [a, m, t * 2] : [m, b, (t - 0.5) * 2];
  return p.map((v, k) => Math.round(v + (q[k] - v) * u));
}
