// The workbench page skeleton: top bar, toolbar (owner only), diagram + loss + formula on the
// left, inspector + history on the right. Returns the regions the views mount into.

import { h, prettyFormula } from "../dom.js";
import { widthText } from "./discover.js";
import { openShareDialog } from "../class/share.js";

export function buildWorkbench(root, { isOwner }) {
  const r = {
    title: h("div.title"),
    status: h("div.status-area"),
    share: h("div.share"),
    toolbar: isOwner ? h("div.toolbar", { role: "toolbar", "aria-label": "training and edits" }) : null,
    diagram: h("div.diagram"),
    loss: h("section.loss", { "aria-label": "loss" }),
    formula: h("section.formula", { "aria-label": "formula" }),
    inspector: h("section.inspector", { "aria-label": "inspector" }),
    history: h("section.history-panel", { "aria-label": "history" }),
    discover: h("section.discover", { "aria-label": "discover" }),
    guide: isOwner ? h("nav.guide", { "aria-label": "recipe guide" }) : null,
    classbar: h("div.classbar", { hidden: true }), // class mode (web/js/class/): follow bar
  };
  const legend = h(
    "div.legend",
    { "aria-hidden": "true" },
    h("span", {}, h("i.key.active"), "learned curve on each edge (darker = more important)"),
    h("span", {}, h("i.key.symbolic"), "snapped to a formula"),
    h("span", {}, h("i.key.pruned"), "pruned"),
    h("span.muted", {}, "click a box to inspect it"),
  );
  const banner = isOwner ? null : h("div.viewer-banner", { role: "note" }, "View only: you are watching this session live. Editing is done by its owner.");
  const view = h("div.view-toggles");
  const wb = h(
    "div.wb",
    { class: isOwner ? "wb owner" : "wb viewer" },
    h("header.topbar", {}, h("a.brand", { href: "/" }, "KAN Workbench"), r.title, r.status, r.share, view),
    r.classbar,
    banner,
    r.toolbar,
    r.guide,
    h(
      "main.body",
      {},
      h("section.left", {}, r.diagram, legend, h("div.bottom-row", {}, r.loss, r.formula)),
      h("aside.side", {}, r.discover, r.inspector, r.history),
    ),
  );
  root.replaceChildren(wb);
  r.banner = banner;
  presenterMode(wb, view, isOwner);
  wrapFormulaLines(r.formula);
  return r;
}

/** The title area: preset title (when known), formula or data source, width and grid. */
export function renderTitle(el, session, title) {
  const src = session.source || {};
  const what = src.kind === "csv" ? `CSV → ${src.target ?? "target"}` : prettyFormula(src.formula || "");
  el.replaceChildren(
    h("span.session-title", {}, title || (src.kind === "csv" ? "Your data" : "Your formula")),
    h("code.session-formula", {}, what || ""),
    h("span.session-shape", {}, `width ${widthText(session.width)} · grid ${session.grid}`),
  );
}

/** The owner's "Viewer link" button: a dialog with /sessions/{id}?view=<viewer token> on the
 *  machine's LAN addresses (not 127.0.0.1) and a QR code (class/share.js). */
export function renderShare(el, id, viewerToken, toasts) {
  if (!viewerToken) return;
  const btn = h("button", { type: "button", title: "a read-only link for a projector or a class" }, "Viewer link");
  btn.addEventListener("click", () => openShareDialog(id, viewerToken, toasts));
  el.replaceChildren(btn);
}

// --- every screen ---------------------------------------------------------------------------
// Presenter view: for a projector (1024×768 at 150 % zoom is ~683×512 CSS px) — large type,
// the diagram and the formula across the whole width, the owner's controls tucked behind one
// button. On by itself on narrow landscape screens; the toggle overrides (and is remembered).
const PRESENTER_MQ = "(max-width: 960px) and (orientation: landscape)";
const PRESENTER_KEY = "kanwb.presenter";

function presenterMode(wb, view, isOwner) {
  const controls = isOwner ? h("button.controls-toggle", { type: "button", "aria-expanded": "false", title: "show or hide the training and edit controls" }, "Controls") : null;
  const toggle = presenterToggle((on) => {
    wb.classList.toggle("presenter", on);
    if (controls) controls.hidden = !on;
  });
  controls?.addEventListener("click", () => {
    const open = !wb.classList.contains("show-controls");
    wb.classList.toggle("show-controls", open);
    controls.setAttribute("aria-expanded", String(open));
  });
  view.replaceChildren(...[controls, toggle].filter(Boolean));
}

/** The "Presenter view" toggle: sets `html.presenter` (and calls `onApply(on)`) automatically
 *  on narrow landscape screens, or as the user chose last (remembered). Also the dashboard's. */
export function presenterToggle(onApply = () => {}) {
  const mq = matchMedia(PRESENTER_MQ);
  const saved = localStorage.getItem(PRESENTER_KEY);
  let chosen = saved === "on" ? true : saved === "off" ? false : null;
  const toggle = h("button.presenter-toggle", { type: "button", "aria-pressed": "false", title: "large type, diagram and formula across the screen (for a projector)" }, "Presenter view");
  const apply = () => {
    const on = chosen ?? mq.matches;
    document.documentElement.classList.toggle("presenter", on);
    toggle.setAttribute("aria-pressed", String(on));
    onApply(on);
  };
  toggle.addEventListener("click", () => {
    chosen = !(chosen ?? mq.matches);
    localStorage.setItem(PRESENTER_KEY, chosen ? "on" : "off");
    apply();
  });
  mq.addEventListener("change", apply);
  apply();
  return toggle;
}

// A long formula is never cut off: each rendered formula is split at its top-level + and −
// into pieces that wrap onto further lines (CSS: .math-line wraps) instead of scrolling away.
const MATHML_NS = "http://www.w3.org/1998/Math/MathML";
const SPLIT_AT = new Set(["+", "−", "-"]);

function wrapFormulaLines(region) {
  const split = () => region.querySelectorAll(".math-line > math").forEach(splitTerms);
  new MutationObserver(split).observe(region, { childList: true });
}

/** Replace <math> (a sum at the top) by one <math> per term, each operator leading its term. */
export function splitTerms(math) {
  let row = math;
  while (row.children.length === 1 && row.firstElementChild.localName === "mrow") row = row.firstElementChild;
  const pieces = [[]];
  for (const child of [...row.children]) {
    if (child.localName === "mo" && SPLIT_AT.has(child.textContent.trim()) && pieces.at(-1).length) pieces.push([]);
    pieces.at(-1).push(child);
  }
  if (pieces.length < 2) return;
  const parts = pieces.map((nodes) => {
    const part = document.createElementNS(MATHML_NS, "math");
    const inner = document.createElementNS(MATHML_NS, "mrow");
    if (nodes[0].localName === "mo") nodes[0].setAttribute("form", "infix"); // keep its spacing
    inner.append(...nodes);
    part.append(inner);
    part.classList.add("term");
    return part;
  });
  math.replaceWith(...parts);
}
